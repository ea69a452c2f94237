"""Proof that we speak the standard, not just to ourselves: joserfc (an independent JOSE
implementation) signs envelopes the hub accepts, and verifies the receipts the hub signs."""

from __future__ import annotations

import json

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from hub.exchange import registry
from hub.exchange.canonical import canonicalize, sha256_hex
from tests.support.envelopes import payload, traffy_complaint

# RFC 9864 (2025) deprecates the name "EdDSA" in favour of "Ed25519"; DESIGN.md still names
# EdDSA, so joserfc's warning about the old name is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")


def _enrol_foreign_key(hub, clock, code: str, alg: str):
    key = OKPKey.generate_key("Ed25519") if alg == "EdDSA" else ECKey.generate_key("P-256")
    public = {k: v for k, v in key.as_dict(private=False).items() if k in {"kty", "crv", "x", "y"}}
    with hub.transaction() as s:
        registry.enrol(
            s,
            code=code,
            kind="ministry",
            name_th="กระทรวงทดสอบ",
            key=registry.KeyMaterial(jwk=public, key_id="foreign-1"),
            now=clock(),
        )
    return key


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_envelope_signed_by_joserfc_is_accepted_and_receipt_verifies_with_joserfc(
    hub, client, clock, alg
):
    key = _enrol_foreign_key(hub, clock, "mol", alg)
    body = canonicalize(payload("mol", traffy_complaint(4), now=clock(), id="mol-0001"))
    header = {"alg": alg, "kid": "mol/foreign-1", "typ": "hub-envelope+jws"}
    token = jws.serialize_compact(header, body, key, algorithms=[alg])

    r = client.post(
        "/v1/envelopes", content=token.encode(), headers={"Content-Type": "application/jose"}
    )
    assert r.status_code == 201, r.text

    hub_keys = client.get("/.well-known/jwks.json").json()["keys"]
    receipt = r.json()["receipt"]
    receipt_kid = jws.extract_compact(receipt.encode()).headers()["kid"]
    jwk = next(k for k in hub_keys if k["kid"] == receipt_kid)
    verified = jws.deserialize_compact(receipt, OKPKey.import_key(jwk), algorithms=[jwk["alg"]])
    claims = json.loads(verified.payload)
    assert claims["message_id"] == "mol-0001"
    assert claims["payload_sha256"] == sha256_hex(body)
    assert claims["jws_sha256"] == sha256_hex(token.encode())

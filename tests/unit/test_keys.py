"""Agency keys: JWK import/export (RFC 7517/8037/7638), PEM, key files, dev CA certificates."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from hub.exchange.canonical import b64url_encode
from hub.exchange.keys import (
    AGENCY_URN_PREFIX,
    InvalidKey,
    PrivateKey,
    UntrustedCertificate,
    agency_code_from_certificate,
    algorithm_for_key,
    generate_private_key,
    issue_agency_certificate,
    jwk_thumbprint,
    load_certificate_chain,
    load_private_jwk,
    load_public_jwk,
    load_public_pem,
    make_dev_ca,
    private_jwk,
    public_jwk,
    read_jwk,
    verify_certificate_chain,
    write_private_jwk,
)

VECTORS = {
    v["name"]: v
    for v in json.loads(
        (
            Path(__file__).resolve().parents[1]
            / "fixtures"
            / "vectors"
            / "jws"
            / "jws_vectors.json"
        ).read_text()
    )
}
RFC8037 = VECTORS["RFC8037-A.4-EdDSA-Ed25519"]
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# --- generation and export ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_generate_private_key(alg: str) -> None:
    assert algorithm_for_key(generate_private_key(alg)) == alg


@pytest.mark.parametrize("alg", ["RS256", "ES384", "none", "Ed25519"])
def test_generate_refuses_other_algorithms(alg: str) -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        generate_private_key(alg)


def test_public_and_private_jwk_members() -> None:
    ed = generate_private_key("EdDSA")
    assert set(public_jwk(ed)) == {"kty", "crv", "x", "alg", "use"}
    assert public_jwk(ed, kid="bkk/1")["kid"] == "bkk/1"
    assert private_jwk(ed)["d"] and public_jwk(ed)["crv"] == "Ed25519"
    es = generate_private_key("ES256")
    jwk = private_jwk(es, kid="moi/1")
    assert set(jwk) == {"kty", "crv", "x", "y", "d", "alg", "use", "kid"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert all(len(jwk[m]) == 43 for m in ("x", "y", "d"))  # 32 bytes, left-padded


def test_rfc8037_keys_and_thumbprint() -> None:
    private = load_private_jwk(RFC8037["jwk"])
    assert public_jwk(private) == {**RFC8037["public_jwk"], "alg": "EdDSA", "use": "sig"}
    assert private_jwk(private)["d"] == RFC8037["jwk"]["d"]
    assert jwk_thumbprint(RFC8037["public_jwk"]) == RFC8037["public_jwk_thumbprint_sha256_b64"]
    assert jwk_thumbprint(RFC8037["jwk"]) == RFC8037["public_jwk_thumbprint_sha256_b64"]


def test_rfc7515_a3_private_key_matches_its_public_point() -> None:
    jwk = VECTORS["RFC7515-A.3-ES256"]["jwk"]
    private = load_private_jwk(jwk)
    assert {k: public_jwk(private)[k] for k in ("x", "y")} == {"x": jwk["x"], "y": jwk["y"]}


def test_thumbprint_ignores_order_and_optional_members() -> None:
    jwk = public_jwk(generate_private_key("ES256"))
    shuffled = dict(reversed(list(jwk.items())))
    assert jwk_thumbprint(shuffled) == jwk_thumbprint({**jwk, "kid": "x", "alg": "ES256"})
    rsa_jwk = VECTORS["RFC7515-A.2-RS256"]["jwk"]
    assert jwk_thumbprint(rsa_jwk)  # RFC 7638 covers every kty, even ones we never load
    with pytest.raises(InvalidKey):
        jwk_thumbprint({"kty": "EC", "crv": "P-256", "x": "AA"})


# --- JWK import --------------------------------------------------------------------------


@given(seed=st.binary(min_size=32, max_size=32))
def test_ed25519_jwk_round_trip(seed: bytes) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    _assert_round_trips(key, "EdDSA")


@given(d=st.integers(min_value=1, max_value=P256_ORDER - 1))
def test_p256_jwk_round_trip(d: int) -> None:
    key = ec.derive_private_key(d, ec.SECP256R1())
    _assert_round_trips(key, "ES256")


def _assert_round_trips(key: PrivateKey, alg: str) -> None:
    loaded, loaded_alg = load_public_jwk(public_jwk(key, kid="k"))
    assert loaded_alg == alg
    assert public_jwk(loaded) == public_jwk(key)
    again = load_private_jwk(json.loads(json.dumps(private_jwk(key))))
    assert private_jwk(again) == private_jwk(key)


def test_public_load_refuses_private_members() -> None:
    with pytest.raises(InvalidKey, match="private members"):
        load_public_jwk(RFC8037["jwk"])


@pytest.mark.parametrize(
    "name", ["RFC7515-A.1-HS256", "RFC7515-A.2-RS256", "RFC7515-A.4-ES512"], ids=str
)
def test_public_load_refuses_other_key_types(name: str) -> None:
    jwk = VECTORS[name]["jwk"]
    public = {k: v for k, v in jwk.items() if k not in {"d", "p", "q", "dp", "dq", "qi", "k"}}
    with pytest.raises(InvalidKey, match="unsupported"):
        load_public_jwk(public)


def _ec_public() -> dict[str, str]:
    return public_jwk(generate_private_key("ES256"))


@pytest.mark.parametrize(
    "jwk",
    [
        {**RFC8037["public_jwk"], "crv": "Ed448"},
        {**RFC8037["public_jwk"], "crv": "X25519"},
        {**RFC8037["public_jwk"], "alg": "ES256"},
        {**RFC8037["public_jwk"], "alg": "none"},
        {**RFC8037["public_jwk"], "use": "enc"},
        {**RFC8037["public_jwk"], "x": "AAAA"},  # 3 bytes
        {**RFC8037["public_jwk"], "x": RFC8037["public_jwk"]["x"] + "="},
        {**RFC8037["public_jwk"], "x": None},
        {"kty": "OKP", "crv": "Ed25519"},
        {**_ec_public(), "crv": "P-384"},
        {**_ec_public(), "alg": "EdDSA"},
        {**_ec_public(), "y": None},
        {**_ec_public(), "y": b64url_encode(b"\x01" * 32)},  # not on the curve
        {**_ec_public(), "x": b64url_encode(b"\xff" * 32)},  # beyond the field
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"crv": "Ed25519", "x": RFC8037["public_jwk"]["x"]},
    ],
)
def test_public_load_refuses_bad_jwks(jwk: dict[str, Any]) -> None:
    with pytest.raises(InvalidKey):
        load_public_jwk(jwk)


def test_public_load_refuses_non_objects() -> None:
    with pytest.raises(InvalidKey):
        load_public_jwk([])  # type: ignore[arg-type]


def test_private_load_refuses_mismatched_or_missing_d() -> None:
    other = private_jwk(generate_private_key("EdDSA"))
    with pytest.raises(InvalidKey, match="does not match"):
        load_private_jwk({**RFC8037["jwk"], "d": other["d"]})
    es = private_jwk(generate_private_key("ES256"))
    with pytest.raises(InvalidKey, match="does not match"):
        load_private_jwk({**es, "d": private_jwk(generate_private_key("ES256"))["d"]})
    with pytest.raises(InvalidKey):
        load_private_jwk(RFC8037["public_jwk"])
    with pytest.raises(InvalidKey):
        load_private_jwk({**es, "d": b64url_encode(b"\x00" * 32)})  # zero is not a key


# --- PEM ---------------------------------------------------------------------------------


def _pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_load_public_pem(alg: str) -> None:
    key = generate_private_key(alg)
    loaded, loaded_alg = load_public_pem(_pem(key))
    assert loaded_alg == alg
    assert public_jwk(loaded) == public_jwk(key)


@pytest.mark.parametrize(
    "data",
    [
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        _pem(ec.generate_private_key(ec.SECP384R1())),
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"not a pem",
    ],
    ids=["RSA", "P-384", "garbage-body", "not-pem"],
)
def test_load_public_pem_refuses(data: bytes) -> None:
    with pytest.raises(InvalidKey):
        load_public_pem(data)


# --- key files ---------------------------------------------------------------------------


def test_private_jwk_file_is_0600_and_round_trips(tmp_path: Path) -> None:
    jwk = private_jwk(generate_private_key("EdDSA"), kid="hub/1")
    path = tmp_path / "hub.jwk"
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        write_private_jwk(path, jwk)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_jwk(path) == jwk
    assert [p.name for p in tmp_path.iterdir()] == ["hub.jwk"]  # no temporary left over


def test_private_jwk_file_replaces_atomically_and_stays_0600(tmp_path: Path) -> None:
    path = tmp_path / "hub.jwk"
    path.write_text("{}")
    path.chmod(0o644)
    jwk = private_jwk(generate_private_key("ES256"))
    write_private_jwk(path, jwk)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_jwk(read_jwk(path))


def test_read_jwk_refuses_non_objects(tmp_path: Path) -> None:
    path = tmp_path / "x.jwk"
    path.write_text("[1]")
    with pytest.raises(InvalidKey):
        read_jwk(path)


# --- certificates ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return make_dev_ca("TH Complaint Hub Dev CA", now=NOW)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_issued_certificate_verifies(ca: Any, alg: str) -> None:
    ca_key, ca_cert = ca
    agency_key = generate_private_key(alg)
    cert = issue_agency_certificate(ca_key, ca_cert, "bkk", agency_key.public_key(), now=NOW)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    chain = load_certificate_chain(pem + ca_cert.public_bytes(serialization.Encoding.PEM))
    assert len(chain) == 2
    key = verify_certificate_chain(chain, [ca_cert], now=NOW + dt.timedelta(days=30))
    assert public_jwk(key) == public_jwk(agency_key)
    assert agency_code_from_certificate(cert) == "bkk"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [AGENCY_URN_PREFIX + "bkk"]


def test_self_signed_certificate_outside_the_ca_is_refused(ca: Any) -> None:
    _, ca_cert = ca
    rogue_key, rogue_ca = make_dev_ca("bkk", now=NOW)  # self-signed, names itself bkk
    rogue = issue_agency_certificate(
        rogue_key, rogue_ca, "bkk", generate_private_key().public_key(), now=NOW
    )
    with pytest.raises(UntrustedCertificate):
        verify_certificate_chain([rogue, rogue_ca], [ca_cert], now=NOW)
    with pytest.raises(UntrustedCertificate):
        verify_certificate_chain([rogue_ca], [ca_cert], now=NOW)


def test_self_signed_leaf_is_refused(ca: Any) -> None:
    _, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bkk")])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)  # claims the CA as issuer; the signature says otherwise
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(UntrustedCertificate):
        verify_certificate_chain([leaf], [ca_cert], now=NOW)


@pytest.mark.parametrize("offset", [dt.timedelta(days=366), dt.timedelta(days=-1)])
def test_certificate_outside_its_validity_is_refused(ca: Any, offset: dt.timedelta) -> None:
    ca_key, ca_cert = ca
    cert = issue_agency_certificate(
        ca_key, ca_cert, "bkk", generate_private_key().public_key(), now=NOW, days=365
    )
    verify_certificate_chain([cert], [ca_cert], now=NOW)
    with pytest.raises(UntrustedCertificate):
        verify_certificate_chain([cert], [ca_cert], now=NOW + offset)


def test_the_ca_itself_is_not_an_agency_certificate(ca: Any) -> None:
    _, ca_cert = ca
    with pytest.raises(UntrustedCertificate):
        verify_certificate_chain([ca_cert], [ca_cert], now=NOW)


def test_empty_trust_store_and_naive_time_are_refused(ca: Any) -> None:
    ca_key, ca_cert = ca
    cert = issue_agency_certificate(
        ca_key, ca_cert, "bkk", generate_private_key().public_key(), now=NOW
    )
    with pytest.raises(ValueError, match="empty trust store"):
        verify_certificate_chain([cert], [], now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        verify_certificate_chain([cert], [ca_cert], now=NOW.replace(tzinfo=None))
    with pytest.raises(UntrustedCertificate):
        verify_certificate_chain([], [ca_cert], now=NOW)


@pytest.mark.parametrize("code", ["", "a/b", "urn:x", "ไทย", "x" * 65])
def test_bad_agency_codes_are_refused(ca: Any, code: str) -> None:
    ca_key, ca_cert = ca
    with pytest.raises(InvalidKey):
        issue_agency_certificate(
            ca_key, ca_cert, code, generate_private_key().public_key(), now=NOW
        )


def test_agency_code_needs_the_urn(ca: Any) -> None:
    _, ca_cert = ca
    with pytest.raises(InvalidKey, match="subjectAltName"):
        agency_code_from_certificate(ca_cert)


def test_load_certificate_chain_refuses_garbage() -> None:
    with pytest.raises(InvalidKey):
        load_certificate_chain(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(InvalidKey):
        load_certificate_chain(b"")

"""Intake through the real API: real signatures, real database, receipts checked by the SDK."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization

from hub import schema
from hub.exchange.canonical import canonicalize, sha256_hex
from hub.exchange.client import HubClientError
from hub.exchange.jws import parse_compact
from tests.support.envelopes import (
    counts,
    hs256_with_public_key,
    payload,
    raw_jws,
    signed,
    traffy_complaint,
)

JOSE = {"Content-Type": "application/jose"}


def post(client, token: str | bytes):
    body = token.encode() if isinstance(token, str) else token
    return client.post("/v1/envelopes", content=body, headers=JOSE)


def test_complaint_is_accepted_with_a_receipt_the_sender_can_verify(agencies, hub, clock):
    bma = agencies.enrol("bma", areas=["10"])
    complaint = traffy_complaint(0)
    jws = bma.client.envelope("complaint.submit", complaint, id="traffy-2023-FCX4QQ")
    receipt = bma.client.send_jws(jws)

    assert receipt.message_id == "traffy-2023-FCX4QQ"
    assert receipt.case_id and receipt.case_id.startswith("case:")
    assert receipt.log_index == 0
    assert receipt.payload["payload_sha256"] == sha256_hex(parse_compact(jws).payload)
    assert receipt.payload["issuer"] == "bma"
    assert receipt.payload["jws_sha256"] == sha256_hex(jws.encode())
    assert schema.validate("receipt", receipt.payload) == []
    with hub.transaction() as s:
        from hub.models import Case, Complaint, Envelope

        env = s.query(Envelope).one()
        assert env.jws == jws.encode()  # the exact bytes, not a re-serialisation
        stored = s.get(Complaint, "traffy:2023-FCX4QQ")
        assert stored is not None and stored.case_id == receipt.case_id
        assert stored.description == complaint["description"]  # Thai intact
        case = s.get(Case, receipt.case_id)
        assert case is not None and case.owner == "bma" and case.status == "offered"


def test_resending_the_same_bytes_returns_the_same_receipt(agencies, client, hub):
    bma = agencies.enrol("bma")
    jws = bma.client.envelope("complaint.submit", traffy_complaint(1), id="x-1")
    first = post(client, jws)
    again = post(client, jws)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    assert counts(hub) == {"envelopes": 1, "complaints": 1, "cases": 1, "log_leaves": 1}


def test_same_id_with_other_bytes_is_a_replay(agencies, client, hub):
    bma = agencies.enrol("bma")
    assert (
        post(
            client, bma.client.envelope("complaint.submit", traffy_complaint(1), id="x-1")
        ).status_code
        == 201
    )
    before = counts(hub)
    r = post(client, bma.client.envelope("complaint.submit", traffy_complaint(2), id="x-1"))
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/replay"
    assert counts(hub) == before


def test_es256_agencies_are_accepted_too(agencies):
    m = agencies.enrol("moph", kind="ministry", alg="ES256")
    receipt = m.client.send("complaint.submit", traffy_complaint(3))
    assert receipt.log_index == 0


def test_log_indexes_are_gap_free_and_receipts_distinct(agencies):
    bma = agencies.enrol("bma")
    receipts = [bma.client.send("complaint.submit", traffy_complaint(i)) for i in range(5)]
    assert [r.log_index for r in receipts] == [0, 1, 2, 3, 4]
    assert len({r.case_id for r in receipts}) == 5


def test_schema_errors_list_every_pointer_and_store_nothing(agencies, client, hub, clock):
    bma = agencies.enrol("bma")
    body = traffy_complaint(0)
    body["location"]["lat"] = 123.0
    del body["origin"]["ref"]
    body["surprise"] = "ไม่ควรมี"
    r = post(client, signed(payload("bma", body, now=clock()), bma.key, bma.kid))
    assert r.status_code == 422
    problem = r.json()
    assert problem["type"] == "/problems/schema-invalid"
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {"/body/location/lat", "/body/origin/ref", "/body/surprise"} <= pointers
    assert counts(hub) == {"envelopes": 0, "complaints": 0, "cases": 0, "log_leaves": 0}


def test_reporter_contact_is_sealed_at_rest(agencies, hub):
    bma = agencies.enrol("bma")
    body = traffy_complaint(0)
    body["reporter"] = {"anonymous": False, "contact": {"name": "สมชาย ใจดี", "phone": "0812345678"}}
    receipt = bma.client.send("complaint.submit", body)
    with hub.transaction() as s:
        from hub.models import Complaint

        c = s.query(Complaint).one()
        assert b"0812345678" not in (c.personal or b"")
        assert "0812345678" not in json.dumps(c.record, ensure_ascii=False)
        assert hub.sealer.open(c.personal, bound_to=c.id)["phone"] == "0812345678"
        assert c.case_id == receipt.case_id


# --------------------------------------------------------------------------- attacks


@pytest.fixture
def victim(agencies):
    return agencies.enrol("bma")


def _payload_bytes(clock, issuer="bma", id="atk-1"):
    return canonicalize(payload(issuer, traffy_complaint(0), now=clock(), id=id))


def _refused(client, hub, token, status, slug):
    before = counts(hub)
    r = post(client, token)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"/problems/{slug}"
    assert counts(hub) == before
    return r.json()


def test_alg_none_is_refused(victim, client, hub, clock):
    token = raw_jws(
        {"alg": "none", "kid": victim.kid, "typ": "hub-envelope+jws"}, _payload_bytes(clock), b""
    )
    _refused(client, hub, token, 400, "algorithm-not-allowed")


def test_hs256_signed_with_the_public_key_is_refused(victim, client, hub, clock):
    public = victim.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = hs256_with_public_key(
        {"alg": "HS256", "kid": victim.kid, "typ": "hub-envelope+jws"},
        _payload_bytes(clock),
        public,
    )
    _refused(client, hub, token, 400, "algorithm-not-allowed")


def test_tampered_payload_is_refused(victim, client, hub, clock):
    good = signed(payload("bma", traffy_complaint(0), now=clock()), victim.key, victim.kid)
    h, _p, s = good.split(".")
    evil = raw_jws(
        json.loads(parse_compact(good).header.__repr__().replace("'", '"')),
        _payload_bytes(clock, id="other"),
        b"",
    )
    token = f"{h}.{evil.split('.')[1]}.{s}"
    _refused(client, hub, token, 401, "bad-signature")


def test_kid_of_another_agency_is_refused(agencies, victim, client, hub, clock):
    attacker = agencies.enrol("attacker")
    # signed by the attacker's own key, claiming to be bma
    token = signed(payload("bma", traffy_complaint(0), now=clock()), attacker.key, attacker.kid)
    _refused(client, hub, token, 403, "issuer-mismatch")
    # or naming bma's kid while signing with the attacker's key
    token = signed(payload("bma", traffy_complaint(0), now=clock()), attacker.key, victim.kid)
    _refused(client, hub, token, 401, "bad-signature")


def test_unknown_kid_is_refused(victim, client, hub, clock):
    token = signed(payload("bma", traffy_complaint(0), now=clock()), victim.key, "bma/nope")
    _refused(client, hub, token, 401, "unknown-key")


def test_stale_and_future_issued_at_are_refused(victim, client, hub, clock):
    from datetime import timedelta

    old = payload("bma", traffy_complaint(0), now=clock() - timedelta(hours=1))
    _refused(client, hub, signed(old, victim.key, victim.kid), 400, "stale")
    future = payload("bma", traffy_complaint(0), now=clock() + timedelta(hours=1), id="m-2")
    _refused(client, hub, signed(future, victim.key, victim.kid), 400, "stale")


def test_revoked_key_is_refused_at_once_and_old_receipts_still_verify(agencies, victim, hub, clock):
    from hub.exchange import registry

    receipt = victim.client.send("complaint.submit", traffy_complaint(0))
    with hub.transaction() as s:
        registry.set_key_status(s, "bma", victim.kid.split("/")[1], "revoked", now=clock())
    with pytest.raises(HubClientError) as exc:
        victim.client.send("complaint.submit", traffy_complaint(1))
    assert exc.value.status == 401 and exc.value.type == "/problems/revoked-key"
    assert victim.client.verify_receipt(receipt.jws).message_id == receipt.message_id


def test_rotation_two_active_keys_both_verify(agencies, victim, hub, clock):
    from hub.exchange import registry
    from hub.exchange.keys import generate_private_key, public_jwk

    new_key = generate_private_key("ES256")
    with hub.transaction() as s:
        registry.add_key(
            s, "bma", registry.KeyMaterial(jwk=public_jwk(new_key), key_id="k2"), now=clock()
        )
    new_client = agencies.client_for("bma", new_key, "bma/k2")
    assert new_client.send("complaint.submit", traffy_complaint(0)).log_index == 0
    assert victim.client.send("complaint.submit", traffy_complaint(1)).log_index == 1


def test_ten_megabyte_body_is_refused_before_reading(victim, client, hub):
    _refused(client, hub, b"a" * (10 * 1024 * 1024), 413, "too-large")


def test_deeply_nested_json_is_refused(victim, client, hub, clock):
    deep = b'{"type":"complaint.submit","body":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    token = signed_bytes(deep, victim)
    _refused(client, hub, token, 400, "malformed")


def test_invalid_utf8_payload_is_refused(victim, client, hub):
    token = signed_bytes(b'{"type":"\xff\xfe"}', victim)
    _refused(client, hub, token, 400, "malformed")


def test_non_ascii_compact_serialisation_is_refused(victim, client, hub):
    _refused(client, hub, "ก.ข.ค".encode(), 400, "malformed")


def test_wrong_audience_is_refused(victim, client, hub, clock):
    p = payload("bma", traffy_complaint(0), now=clock(), audience="mwa")
    problem = _refused(client, hub, signed(p, victim.key, victim.kid), 422, "schema-invalid")
    assert problem["errors"] == [{"pointer": "/audience", "message": "must be 'hub'"}]


def signed_bytes(data: bytes, agency) -> str:
    from hub.exchange.jws import sign

    return sign(data, agency.key, kid=agency.kid)


# --------------------------------------------------------------------------- batch


def test_batch_judges_each_item_alone(agencies, client, hub, clock):
    bma = agencies.enrol("bma")
    good = [bma.client.envelope("complaint.submit", traffy_complaint(i)) for i in range(3)]
    bad = signed(payload("bma", {"nope": 1}, now=clock(), id="bad-1"), bma.key, bma.kid)
    r = client.post("/v1/envelopes:batch", json=[good[0], bad, good[1], "garbage", good[2]])
    assert r.status_code == 200
    out = r.json()
    assert (out["accepted"], out["refused"]) == (3, 2)
    assert [x["status"] for x in out["results"]] == [201, 422, 201, 400, 201]
    assert out["results"][1]["problem"]["type"] == "/problems/schema-invalid"
    assert [x["receipt"]["log_index"] for x in out["results"] if "receipt" in x] == [0, 1, 2]
    assert counts(hub) == {"envelopes": 3, "complaints": 3, "cases": 3, "log_leaves": 3}
    results = bma.client.send_batch(good)  # idempotent re-send through the SDK
    assert [getattr(x, "log_index", None) for x in results] == [0, 1, 2]


def test_batch_over_the_limit_is_refused(agencies, client):
    r = client.post("/v1/envelopes:batch", json=["x"] * 1001)
    assert r.status_code == 413 and r.json()["type"] == "/problems/too-large"


def test_unknown_message_types_and_unknown_cases_are_refused(victim, client, hub, clock):
    p = payload("bma", {"case_id": "case:x"}, now=clock(), id="t-0", type="no.such_type")
    problem = _refused(client, hub, signed(p, victim.key, victim.kid), 422, "schema-invalid")
    assert problem["errors"][0]["pointer"] == "/type"
    p = payload("bma", {"case_id": "case:nope"}, now=clock(), id="t-1", type="case.accept")
    _refused(client, hub, signed(p, victim.key, victim.kid), 404, "not-found")

"""Bearer tokens and the registry API, through the real app (rules in hub/exchange/tokens.py).

GET /v1/agencies needs role ``admin``; GET /v1/agencies/{code} is allowed for the agency
itself. Every refusal must be a problem+json; tokens are agency-signed, short-lived and
single-use.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from hub.config import Settings
from hub.exchange import registry
from hub.exchange.keys import (
    generate_private_key,
    issue_agency_certificate,
    make_dev_ca,
    public_jwk,
)
from tests.support.agencies import AgencyFactory
from tests.support.envelopes import traffy_complaint
from tests.support.tokens import (
    bearer,
    claims,
    expect_problem,
    hs256_token,
    public_pem,
    signed_token,
    unsigned_token,
)

LIST = "/v1/agencies"


@pytest.fixture
def admin(agencies):  # type: ignore[no-untyped-def]
    return agencies.enrol("hub-admin", kind="hub", roles=["admin"])


@pytest.fixture
def bma(agencies):  # type: ignore[no-untyped-def]
    return agencies.enrol("bma", roles=["submit", "receive"])


def enrolment(code: str, key_material: dict, **extra) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "code": code,
        "kind": "ministry",
        "name_th": "กระทรวงทดสอบ",
        "name_en": "Test ministry",
        "areas": ["TH"],
        "roles": ["submit", "receive"],
        "key": key_material,
        **extra,
    }


# --------------------------------------------------------------------------- the happy path


def test_valid_admin_token_lists_agencies(client, admin, bma):  # type: ignore[no-untyped-def]
    r = client.get(LIST, headers=bearer(admin.client.token()))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    codes = [a["code"] for a in r.json()["agencies"]]
    assert codes == ["bma", "hub-admin"]
    r = client.get(LIST, params={"kind": "hub"}, headers=bearer(admin.client.token()))
    assert [a["code"] for a in r.json()["agencies"]] == ["hub-admin"]


def test_an_agency_reads_its_own_entry_but_not_another(client, admin, bma):  # type: ignore[no-untyped-def]
    r = client.get("/v1/agencies/bma", headers=bearer(bma.client.token()))
    assert r.status_code == 200, r.text
    entry = r.json()
    assert entry["code"] == "bma" and entry["name_th"] == "หน่วยงานทดสอบ"
    assert [k["kid"] for k in entry["keys"]] == [bma.kid]
    assert "d" not in entry["keys"][0]["jwk"]  # never a private part
    expect_problem(
        client.get("/v1/agencies/hub-admin", headers=bearer(bma.client.token())), 403, "forbidden"
    )
    # an admin reads anyone; an unknown code is a 404 problem
    r = client.get("/v1/agencies/bma", headers=bearer(admin.client.token()))
    assert r.status_code == 200 and r.json()["code"] == "bma"
    expect_problem(
        client.get("/v1/agencies/nobody", headers=bearer(admin.client.token())), 404, "not-found"
    )


def test_token_lifetime_of_exactly_the_maximum_is_accepted(client, admin, clock):  # type: ignore[no-untyped-def]
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=clock(), lifetime=300))
    assert client.get(LIST, headers=bearer(token)).status_code == 200


def test_es256_agency_tokens_work(client, agencies):  # type: ignore[no-untyped-def]
    es = agencies.enrol("opm-admin", kind="oversight", roles=["admin"], alg="ES256")
    assert client.get(LIST, headers=bearer(es.client.token())).status_code == 200


# --------------------------------------------------------------------------- refusals (401)


def test_no_token_is_401(client, admin):  # type: ignore[no-untyped-def]
    expect_problem(client.get(LIST), 401, "unauthorized")
    expect_problem(client.get("/v1/agencies/hub-admin"), 401, "unauthorized")
    expect_problem(client.post(LIST, json=enrolment("x1", {"pem": "x"})), 401, "unauthorized")


def test_other_auth_schemes_are_401(client, admin):  # type: ignore[no-untyped-def]
    expect_problem(client.get(LIST, headers={"Authorization": "Basic YTpi"}), 401)
    expect_problem(client.get(LIST, headers={"Authorization": "Bearer"}), 401)


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "e30.e30.", "ก.ข.ค", "x" * 5000, "eyJhbGciOiJFZERTQSJ9"]
)
def test_garbage_token_is_401(client, admin, garbage):  # type: ignore[no-untyped-def]
    header = f"Bearer {garbage}".encode()  # bytes: the Thai one is not ASCII
    expect_problem(client.get(LIST, headers={"Authorization": header}), 401)


def test_unknown_kid_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    token = signed_token(admin.key, "hub-admin/nope", claims(admin.code, now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401, "unknown-key")
    stranger = generate_private_key()
    token = signed_token(stranger, "ghost/k1", claims("ghost", now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401, "unknown-key")


def test_missing_kid_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    import jwt

    token = jwt.encode(claims(admin.code, now=clock()), admin.key, algorithm="EdDSA")
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_signature_by_another_key_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    impostor = generate_private_key()
    token = signed_token(impostor, admin.kid, claims(admin.code, now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_hs256_with_the_public_key_as_secret_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    token = hs256_token(public_pem(admin.key), admin.kid, claims(admin.code, now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)
    # and with the raw JWK "x" (the other spelling of the public key) too
    x = public_jwk(admin.key)["x"].encode()
    token = hs256_token(x, admin.kid, claims(admin.code, now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_alg_none_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    token = unsigned_token(admin.kid, claims(admin.code, now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_algorithm_other_than_the_keys_own_is_401(client, admin, agencies, clock):  # type: ignore[no-untyped-def]
    """An ES256 header naming an EdDSA key: refused before any verification."""
    es_key = generate_private_key("ES256")
    token = signed_token(es_key, admin.kid, claims(admin.code, now=clock()))
    problem = expect_problem(client.get(LIST, headers=bearer(token)), 401)
    assert "EdDSA" in problem["detail"]


def test_expired_token_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    # made 200 s ago for 60 s: past exp and the 30 s leeway by any clock
    old = clock() - timedelta(seconds=200)
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=old, lifetime=60))
    problem = expect_problem(client.get(LIST, headers=bearer(token)), 401)
    assert "expired" in problem["detail"]
    # a token made now still works: the refusal was about time, not the key
    assert client.get(LIST, headers=bearer(admin.client.token())).status_code == 200


def test_token_from_the_future_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    later = clock() + timedelta(minutes=10)
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=later))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_lifetime_over_300_seconds_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=clock(), lifetime=301))
    problem = expect_problem(client.get(LIST, headers=bearer(token)), 401)
    assert "300" in problem["detail"]
    expect_problem(client.get(LIST, headers=bearer(admin.client.token(lifetime=3600))), 401)


def test_wrong_audience_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=clock(), audience="mwa"))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=clock(), aud=["mwa", "pea"]))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_issuer_not_owning_the_key_is_401(client, admin, bma, clock):  # type: ignore[no-untyped-def]
    # bma signs with its own key but claims to be the admin agency: no privilege escalation
    token = signed_token(bma.key, bma.kid, claims("hub-admin", now=clock()))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)
    expect_problem(client.get("/v1/agencies/hub-admin", headers=bearer(token)), 401)


@pytest.mark.parametrize("missing", ["iss", "aud", "iat", "exp", "jti"])
def test_every_required_claim_is_required(client, admin, clock, missing):  # type: ignore[no-untyped-def]
    body = claims(admin.code, now=clock())
    del body[missing]
    expect_problem(client.get(LIST, headers=bearer(signed_token(admin.key, admin.kid, body))), 401)


def test_jti_is_single_use(client, admin, clock):  # type: ignore[no-untyped-def]
    token = admin.client.token()
    assert client.get(LIST, headers=bearer(token)).status_code == 200
    problem = expect_problem(client.get(LIST, headers=bearer(token)), 401, "unauthorized")
    assert "jti" in problem["detail"]
    # the same jti in a *different* token (fresh iat) is still a replay
    body = claims(admin.code, now=clock(), jti="fixed-jti")
    assert (
        client.get(LIST, headers=bearer(signed_token(admin.key, admin.kid, body))).status_code
        == 200
    )
    clock.advance(seconds=5)
    body2 = claims(admin.code, now=clock(), jti="fixed-jti")
    expect_problem(client.get(LIST, headers=bearer(signed_token(admin.key, admin.kid, body2))), 401)


def test_a_refused_request_does_not_spend_the_jti(client, admin, bma, clock):  # type: ignore[no-untyped-def]
    """403 happens after the token was accepted; 401s must not burn other agencies' jtis."""
    body = claims(bma.code, now=clock(), jti="shared-jti")
    # same jti string, different issuers: each agency has its own jti space
    admin_body = claims(admin.code, now=clock(), jti="shared-jti")
    bma_token = signed_token(bma.key, bma.kid, body)
    expect_problem(client.get(LIST, headers=bearer(bma_token)), 403, "forbidden")
    r = client.get(LIST, headers=bearer(signed_token(admin.key, admin.kid, admin_body)))
    assert r.status_code == 200, r.text


def test_revoked_key_tokens_are_refused_at_once(client, admin, bma, hub, clock):  # type: ignore[no-untyped-def]
    token = bma.client.token()
    with hub.transaction() as s:
        registry.set_key_status(s, "bma", bma.kid.split("/")[1], "revoked", now=clock())
    expect_problem(client.get("/v1/agencies/bma", headers=bearer(token)), 401, "revoked-key")


# --------------------------------------------------------------------------- roles (403)


def test_non_admin_is_forbidden_on_admin_endpoints(client, bma, admin, clock):  # type: ignore[no-untyped-def]
    key = public_jwk(generate_private_key())
    calls = [
        ("GET", LIST, None),
        ("POST", LIST, enrolment("newcomer", {"jwk": key})),
        ("POST", "/v1/agencies/bma/keys", {"jwk": key}),
        ("POST", f"/v1/agencies/bma/keys/{bma.kid.split('/')[1]}:revoke", None),
    ]
    for method, path, body in calls:
        r = client.request(method, path, json=body, headers=bearer(bma.client.token()))
        expect_problem(r, 403, "forbidden")
    # nothing changed
    r = client.get("/v1/agencies/bma", headers=bearer(bma.client.token()))
    assert [k["status"] for k in r.json()["keys"]] == ["active"]
    r = client.get(LIST, headers=bearer(admin.client.token()))
    assert [a["code"] for a in r.json()["agencies"]] == ["bma", "hub-admin"]


# --------------------------------------------------------------------------- admin API


def test_admin_enrols_with_a_jwk_and_the_agency_can_then_sign(client, admin, agencies, hub):  # type: ignore[no-untyped-def]
    key = generate_private_key("ES256")
    r = client.post(
        LIST,
        json=enrolment("moj", {"jwk": public_jwk(key), "key_id": "k1"}),
        headers=bearer(admin.client.token()),
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["code"] == "moj" and entry["name_th"] == "กระทรวงทดสอบ"
    assert [(k["kid"], k["alg"], k["status"], k["source"]) for k in entry["keys"]] == [
        ("moj/k1", "ES256", "active", "jwk")
    ]
    with hub.transaction() as s:
        assert registry.get_agency(s, "moj").roles == ["submit", "receive"]
    moj = agencies.client_for("moj", key, "moj/k1")
    assert moj.send("complaint.submit", traffy_complaint(0)).log_index == 0
    assert moj.get("/v1/agencies/moj")["code"] == "moj"
    # enrolling the same code again is a conflict
    r = client.post(
        LIST,
        json=enrolment("moj", {"jwk": public_jwk(generate_private_key())}),
        headers=bearer(admin.client.token()),
    )
    expect_problem(r, 409, "conflict")


def test_admin_enrols_with_a_pem_public_key(client, admin, agencies):  # type: ignore[no-untyped-def]
    key = generate_private_key("EdDSA")
    r = client.post(
        LIST,
        json=enrolment("mol", {"pem": public_pem(key).decode()}),
        headers=bearer(admin.client.token()),
    )
    assert r.status_code == 201, r.text
    (k,) = r.json()["keys"]
    assert k["source"] == "pem" and k["alg"] == "EdDSA" and k["jwk"]["x"] == public_jwk(key)["x"]
    mol = agencies.client_for("mol", key, k["kid"])
    assert mol.send("complaint.submit", traffy_complaint(1)).log_index == 0


@pytest.mark.parametrize(
    "material",
    [
        {"pem": "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},
        {},
        "both",
    ],
)
def test_bad_key_material_is_a_4xx_problem(client, admin, material):  # type: ignore[no-untyped-def]
    if material == "both":
        key = generate_private_key()
        material = {"jwk": public_jwk(key), "pem": public_pem(key).decode()}
    r = client.post(LIST, json=enrolment("bad", material), headers=bearer(admin.client.token()))
    assert 400 <= r.status_code < 500
    expect_problem(r, r.status_code)
    r = client.get(LIST, headers=bearer(admin.client.token()))
    assert "bad" not in [a["code"] for a in r.json()["agencies"]]


def test_admin_adds_and_revokes_a_key(client, admin, bma, agencies, hub):  # type: ignore[no-untyped-def]
    new_key = generate_private_key("ES256")
    r = client.post(
        "/v1/agencies/bma/keys",
        json={"jwk": public_jwk(new_key), "key_id": "rotated"},
        headers=bearer(admin.client.token()),
    )
    assert r.status_code == 201, r.text
    assert r.json()["kid"] == "bma/rotated" and r.json()["status"] == "active"
    rotated = agencies.client_for("bma", new_key, "bma/rotated")
    # both keys sign during the rotation
    assert rotated.send("complaint.submit", traffy_complaint(0)).log_index == 0
    assert bma.client.send("complaint.submit", traffy_complaint(1)).log_index == 1
    # adding the same key id twice is a conflict; to an unknown agency, a 404
    r = client.post(
        "/v1/agencies/bma/keys",
        json={"jwk": public_jwk(generate_private_key()), "key_id": "rotated"},
        headers=bearer(admin.client.token()),
    )
    expect_problem(r, 409, "conflict")
    r = client.post(
        "/v1/agencies/ghost/keys",
        json={"jwk": public_jwk(generate_private_key())},
        headers=bearer(admin.client.token()),
    )
    expect_problem(r, 404, "not-found")

    old_id = bma.kid.split("/")[1]
    r = client.post(f"/v1/agencies/bma/keys/{old_id}:revoke", headers=bearer(admin.client.token()))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoked_at"].endswith("Z")
    with hub.transaction() as s:
        statuses = {k.kid: k.status for k in registry.agency_keys(s, "bma")}
    assert statuses == {bma.kid: "revoked", "bma/rotated": "active"}

    # the revoked key is refused at once, for envelopes and for tokens
    from hub.exchange.client import HubClientError

    with pytest.raises(HubClientError) as exc:
        bma.client.send("complaint.submit", traffy_complaint(2))
    assert exc.value.status == 401 and exc.value.type == "/problems/revoked-key"
    expect_problem(
        client.get("/v1/agencies/bma", headers=bearer(bma.client.token())), 401, "revoked-key"
    )
    # the new key carries on
    assert rotated.send("complaint.submit", traffy_complaint(2)).log_index == 2
    assert rotated.get("/v1/agencies/bma")["keys"][0]["status"] == "revoked"
    # revoking an unknown key is a 404
    r = client.post("/v1/agencies/bma/keys/nope:revoke", headers=bearer(admin.client.token()))
    expect_problem(r, 404, "not-found")


# --------------------------------------------------------------------------- X.509 enrolment


@pytest.fixture
def dev_ca(clock):  # type: ignore[no-untyped-def]
    return make_dev_ca("Hub test CA", now=clock())


@pytest.fixture
def ca_client(database_url, key_dir, clock, dev_ca, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app whose settings trust ``dev_ca`` (HUB_TRUSTED_CA_FILE)."""
    from hub.app import create_app
    from hub.services import build_hub

    _ca_key, ca_cert = dev_ca
    ca_file = tmp_path / "trusted-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    settings = Settings(database_url=database_url, key_dir=key_dir, trusted_ca_file=ca_file)
    h = build_hub(settings, clock=clock)
    app = create_app(settings, hub=h, validate_responses=True)
    with app.test_client() as c:
        factory = AgencyFactory(h, c, clock)
        yield c, factory, factory.enrol("hub-admin", kind="hub", roles=["admin"])
    h.engine.dispose()


def _cert_pem(cert) -> str:  # type: ignore[no-untyped-def]
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_chained_to_the_trusted_ca_enrols(ca_client, dev_ca, clock):  # type: ignore[no-untyped-def]
    c, factory, admin = ca_client
    ca_key, ca_cert = dev_ca
    key = generate_private_key("ES256")
    cert = issue_agency_certificate(ca_key, ca_cert, "moi", key.public_key(), now=clock())
    r = c.post(
        LIST,
        json=enrolment("moi", {"certificate": _cert_pem(cert), "key_id": "cert1"}),
        headers=bearer(admin.client.token()),
    )
    assert r.status_code == 201, r.text
    (k,) = r.json()["keys"]
    assert (k["kid"], k["source"], k["alg"]) == ("moi/cert1", "certificate", "ES256")
    moi = factory.client_for("moi", key, "moi/cert1")
    assert moi.send("complaint.submit", traffy_complaint(0)).log_index == 0
    # a chain with the root appended is fine too
    key2 = generate_private_key("EdDSA")
    cert2 = issue_agency_certificate(ca_key, ca_cert, "moi", key2.public_key(), now=clock())
    r = c.post(
        "/v1/agencies/moi/keys",
        json={"certificate": _cert_pem(cert2) + _cert_pem(ca_cert), "key_id": "cert2"},
        headers=bearer(admin.client.token()),
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "certificate" and r.json()["alg"] == "EdDSA"


def test_certificate_from_another_ca_is_refused(ca_client, clock):  # type: ignore[no-untyped-def]
    c, _factory, admin = ca_client
    rogue_key, rogue_cert = make_dev_ca("Hub test CA", now=clock())  # same name, other key
    key = generate_private_key()
    cert = issue_agency_certificate(rogue_key, rogue_cert, "moi", key.public_key(), now=clock())
    r = c.post(
        LIST,
        json=enrolment("moi", {"certificate": _cert_pem(cert)}),
        headers=bearer(admin.client.token()),
    )
    problem = expect_problem(r, 400)
    assert "certificate" in problem["detail"]
    # the rogue CA's own certificate sent along does not help
    r = c.post(
        LIST,
        json=enrolment("moi", {"certificate": _cert_pem(cert) + _cert_pem(rogue_cert)}),
        headers=bearer(admin.client.token()),
    )
    expect_problem(r, 400)
    expect_problem(c.get("/v1/agencies/moi", headers=bearer(admin.client.token())), 404)


def test_certificate_issued_to_another_agency_is_refused(ca_client, dev_ca, clock):  # type: ignore[no-untyped-def]
    c, _factory, admin = ca_client
    ca_key, ca_cert = dev_ca
    key = generate_private_key()
    cert = issue_agency_certificate(ca_key, ca_cert, "moi", key.public_key(), now=clock())
    r = c.post(
        LIST,
        json=enrolment("moj", {"certificate": _cert_pem(cert)}),
        headers=bearer(admin.client.token()),
    )
    problem = expect_problem(r, 400)
    assert "moj" in problem["detail"]
    expect_problem(c.get("/v1/agencies/moj", headers=bearer(admin.client.token())), 404)


def test_expired_certificate_is_refused(ca_client, dev_ca, clock):  # type: ignore[no-untyped-def]
    c, _factory, admin = ca_client
    ca_key, ca_cert = dev_ca
    key = generate_private_key()
    cert = issue_agency_certificate(ca_key, ca_cert, "moi", key.public_key(), now=clock(), days=1)
    clock.advance(days=2)
    r = c.post(
        LIST,
        json=enrolment("moi", {"certificate": _cert_pem(cert)}),
        headers=bearer(admin.client.token()),
    )
    expect_problem(r, 400)


def test_certificate_enrolment_without_a_trusted_ca_is_refused(client, admin, clock):  # type: ignore[no-untyped-def]
    ca_key, ca_cert = make_dev_ca("Hub test CA", now=clock())
    key = generate_private_key()
    cert = issue_agency_certificate(ca_key, ca_cert, "moi", key.public_key(), now=clock())
    r = client.post(
        LIST,
        json=enrolment("moi", {"certificate": _cert_pem(cert)}),
        headers=bearer(admin.client.token()),
    )
    problem = expect_problem(r, 400)
    assert "trusts no certificate authority" in problem["detail"]


# --------------------------------------------------------------------------- the hub clock


def test_token_expiry_follows_the_hub_clock(client, admin, clock):  # type: ignore[no-untyped-def]
    """Time is the hub's clock, never the wall clock (PyJWT's own exp check is off)."""
    token = admin.client.token(lifetime=60)
    clock.advance(seconds=60 + 31)  # expired for the hub, not yet for the wall clock
    expect_problem(client.get(LIST, headers=bearer(token)), 401)


def test_token_valid_by_the_hub_clock_is_accepted(client, admin, clock):  # type: ignore[no-untyped-def]
    clock.advance(seconds=-3600)  # the hub's clock is behind the wall clock
    assert client.get(LIST, headers=bearer(admin.client.token())).status_code == 200


def test_not_before_in_the_future_is_401(client, admin, clock):  # type: ignore[no-untyped-def]
    later = int((clock() + timedelta(minutes=2)).timestamp())
    token = signed_token(admin.key, admin.kid, claims(admin.code, now=clock(), nbf=later))
    expect_problem(client.get(LIST, headers=bearer(token)), 401)
    clock.advance(minutes=2)
    assert client.get(LIST, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("bad", ["soon", None, [1]])
def test_non_numeric_times_are_401(client, admin, clock, bad):  # type: ignore[no-untyped-def]
    for claim in ("iat", "exp"):
        body = claims(admin.code, now=clock(), **{claim: bad})
        r = client.get(LIST, headers=bearer(signed_token(admin.key, admin.kid, body)))
        expect_problem(r, 401)

"""Every error is RFC 9457 problem+json with a stable type, and bad input is never a 500.

The promise: malformed JSON, bad UTF-8, wrong content types, oversized bodies (a
configurable limit), unknown parameters and fields all get 4xx problems; validation errors
carry ``{pointer, message}`` for every bad field; every ``type`` is documented at
``/problems/<slug>``; nothing leaks a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from hub.config import Settings
from hub.errors import all_problem_types
from tests.support.tokens import bearer, expect_problem

JSON = {"Content-Type": "application/json"}
JOSE = {"Content-Type": "application/jose"}
BATCH = "/v1/envelopes:batch"
LIMIT = 2048  # the body limit of the ``small`` app below

# every problem type a response in this module used, with the statuses it came with
SEEN: dict[str, set[int]] = {}


def problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """:func:`expect_problem` plus the checks every problem in this module must pass."""
    body = expect_problem(response, status, slug)
    text = response.content.decode("utf-8")
    assert "Traceback" not in text and 'File "' not in text
    assert set(body) <= {"type", "title", "status", "detail", "instance", "errors"}
    for err in body.get("errors", []):
        assert set(err) == {"pointer", "message"}
        assert err["pointer"] == "" or err["pointer"].startswith("/")
        assert isinstance(err["message"], str) and err["message"]
    SEEN.setdefault(body["type"], set()).add(status)
    return body


def pointers(body: dict[str, Any]) -> list[str]:
    return [e["pointer"] for e in body.get("errors", [])]


@pytest.fixture
def small(database_url, key_dir, hub) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A client for an app whose body limit is LIMIT bytes (HUB_MAX_BODY_BYTES)."""
    from hub.app import create_app

    settings = Settings(database_url=database_url, key_dir=key_dir, max_body_bytes=LIMIT)
    app = create_app(settings, hub=hub, validate_responses=True)
    with app.test_client() as c:
        yield c


@pytest.fixture
def admin(agencies):  # type: ignore[no-untyped-def]
    return agencies.enrol("hub-admin", kind="hub", roles=["admin"])


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "raw",
    [b'["a",', b"{", b'["a"]]', b"nope", b"NaN", b'["a" "b"]', b"\x00", b'{"a":1,"a":2}'],
)
def test_malformed_json_is_a_400_problem(client, raw):  # type: ignore[no-untyped-def]
    body = problem(client.post(BATCH, content=raw, headers=JSON), 400)
    assert body["type"] in {"/problems/malformed", "/problems/request-invalid"}


def test_malformed_json_is_malformed(client):  # type: ignore[no-untyped-def]
    body = problem(client.post(BATCH, content=b'["a",', headers=JSON), 400, "malformed")
    assert body["detail"]


@pytest.mark.parametrize("raw", [b'["\xff"]', b'["\xc3\x28"]', b'["\xed\xa0\x80"]', b"\xfe\xff"])
def test_invalid_utf8_is_a_400_problem(client, raw):  # type: ignore[no-untyped-def]
    body = problem(client.post(BATCH, content=raw, headers=JSON), 400, "malformed")
    assert "UTF-8" in body["detail"]


def test_utf16_json_is_refused(client):  # type: ignore[no-untyped-def]
    problem(client.post(BATCH, content='["ก"]'.encode("utf-16"), headers=JSON), 400, "malformed")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (BATCH, "text/plain"),
        (BATCH, "application/jose"),
        (BATCH, "application/x-www-form-urlencoded"),
        (BATCH, "application/merge-patch+json"),
        ("/v1/envelopes", "application/json"),
        ("/v1/envelopes", "text/plain"),
        ("/v1/envelopes", "multipart/form-data; boundary=x"),
    ],
)
def test_wrong_content_type_is_415(client, path, content_type):  # type: ignore[no-untyped-def]
    r = client.post(path, content=b'["a.b.c"]', headers={"Content-Type": content_type})
    body = problem(r, 415, "unsupported-media-type")
    assert "application/j" in body["detail"]  # says what it expected


def test_wrong_content_type_on_agencies_is_415(client, admin):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/agencies",
        content=b"code=x",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            **bearer(admin.client.token()),
        },
    )
    problem(r, 415, "unsupported-media-type")


def test_missing_body_on_batch_is_a_400_problem(client):  # type: ignore[no-untyped-def]
    problem(client.post(BATCH, headers=JSON), 400, "request-invalid")
    body = problem(client.post(BATCH, content=b"null", headers=JSON), 400, "request-invalid")
    assert pointers(body) == ["/body"]


def test_empty_envelope_body_is_a_400_problem(client):  # type: ignore[no-untyped-def]
    problem(client.post("/v1/envelopes", content=b"", headers=JOSE), 400)


def test_batch_items_are_each_validated_with_pointers(client):  # type: ignore[no-untyped-def]
    r = client.post(BATCH, content=b'[1, "", null, "ok"]', headers=JSON)
    body = problem(r, 400, "request-invalid")
    assert pointers(body) == ["/body/0", "/body/1", "/body/2"]
    body = problem(client.post(BATCH, content=b"[]", headers=JSON), 400, "request-invalid")
    assert pointers(body) == ["/body"]
    body = problem(client.post(BATCH, content=b'{"a": 1}', headers=JSON), 400, "request-invalid")
    assert pointers(body) == ["/body"]


# --------------------------------------------------------------------------- size limit


def test_declared_oversized_body_is_413_on_both_posts(small):  # type: ignore[no-untyped-def]
    big = b'["' + b"a" * LIMIT + b'"]'
    body = problem(small.post(BATCH, content=big, headers=JSON), 413, "too-large")
    assert str(LIMIT) in body["detail"]
    problem(small.post("/v1/envelopes", content=b"a" * (LIMIT + 1), headers=JOSE), 413, "too-large")


def test_the_limit_is_exact_and_configurable(small, client):  # type: ignore[no-untyped-def]
    at_limit = b'["' + b"a" * (LIMIT - 4) + b'"]'
    assert len(at_limit) == LIMIT
    r = small.post(BATCH, content=at_limit, headers=JSON)
    assert r.status_code == 200, r.text  # judged item by item, not refused for size
    assert r.json()["refused"] == 1
    problem(small.post(BATCH, content=at_limit[:-1] + b" ]", headers=JSON), 413, "too-large")
    # the default app (1 MiB) takes what the small one refuses
    assert client.post(BATCH, content=at_limit + b" ", headers=JSON).status_code == 200


def test_oversized_body_is_refused_even_if_the_limit_is_checked_late(small):  # type: ignore[no-untyped-def]
    """Lying Content-Length (smaller than the body) must not smuggle a big body in."""
    big = b'["' + b"a" * (4 * LIMIT) + b'"]'
    r = small.post(BATCH, content=big, headers={**JSON, "Content-Length": "10"})
    assert r.status_code in {400, 413}
    problem(r, r.status_code)


def _chunks(total: int, size: int = 512) -> Iterator[bytes]:
    yield b'["'
    sent = 2
    while sent < total - 2:
        n = min(size, total - 2 - sent)
        yield b"a" * n
        sent += n
    yield b'"]'


def test_chunked_oversized_body_is_413_on_batch(small):  # type: ignore[no-untyped-def]
    r = small.post(BATCH, content=_chunks(4 * LIMIT), headers=JSON)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    problem(r, 413, "too-large")


def test_chunked_oversized_body_is_413_on_envelopes(small):  # type: ignore[no-untyped-def]
    r = small.post("/v1/envelopes", content=_chunks(4 * LIMIT), headers=JOSE)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    problem(r, 413, "too-large")


def test_chunked_small_body_is_read(small):  # type: ignore[no-untyped-def]
    r = small.post(BATCH, content=iter([b'["a.', b'b.c"]']), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["problem"]["type"] == "/problems/malformed"


def test_chunked_bodies_are_never_a_500(small):  # type: ignore[no-untyped-def]
    """Whatever else happens to a chunked body (see CHUNKED_BUG) it is a 4xx problem."""
    r = small.post(BATCH, content=_chunks(4 * LIMIT), headers=JSON)
    problem(r, r.status_code)
    assert 400 <= r.status_code < 500


# --------------------------------------------------------------------------- parameters, fields


def test_unknown_query_parameter_is_a_400_with_its_pointer(client):  # type: ignore[no-untyped-def]
    body = problem(client.get("/health", params={"verbose": "1"}), 400, "request-invalid")
    assert body["errors"] == [{"pointer": "/query/verbose", "message": "unknown parameter"}]


def test_unknown_and_bad_query_parameters_are_reported_together(client, admin):  # type: ignore[no-untyped-def]
    r = client.get(
        "/v1/agencies",
        params={"kind": "bogus", "zzz": "1", "a/b": "2"},
        headers=bearer(admin.client.token()),
    )
    body = problem(r, 400, "request-invalid")
    assert sorted(pointers(body)) == ["/query/a~1b", "/query/kind", "/query/zzz"]
    kind = next(e for e in body["errors"] if e["pointer"] == "/query/kind")
    assert "bogus" in kind["message"]


def test_bad_path_parameter_is_a_400_with_its_pointer(client, admin):  # type: ignore[no-untyped-def]
    r = client.get("/v1/agencies/NOT_A_CODE", headers=bearer(admin.client.token()))
    body = problem(r, 400, "request-invalid")
    assert pointers(body) == ["/path/code"]
    body = problem(client.get("/problems/UPPER"), 400, "request-invalid")
    assert pointers(body) == ["/path/slug"]


def _enrolment(**changes: Any) -> dict[str, Any]:
    from hub.exchange.keys import generate_private_key, public_jwk

    body: dict[str, Any] = {
        "code": "moj",
        "kind": "ministry",
        "name_th": "กระทรวงยุติธรรม",
        "key": {"jwk": public_jwk(generate_private_key())},
    }
    body.update(changes)
    return body


def test_unknown_field_in_enrolment_is_a_400_with_its_pointer(client, admin):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/agencies", json=_enrolment(colour="blue"), headers=bearer(admin.client.token())
    )
    body = problem(r, 400, "request-invalid")
    assert pointers(body) == ["/body/colour"]
    # nested unknown fields are pointed at where they are
    body_with_nested = _enrolment()
    body_with_nested["key"]["secret"] = "x"
    r = client.post("/v1/agencies", json=body_with_nested, headers=bearer(admin.client.token()))
    assert pointers(problem(r, 400, "request-invalid")) == ["/body/key/secret"]
    # nothing was enrolled
    r = client.get("/v1/agencies", headers=bearer(admin.client.token()))
    assert [a["code"] for a in r.json()["agencies"]] == ["hub-admin"]


def test_several_bad_fields_are_reported_together(client, admin):  # type: ignore[no-untyped-def]
    bad = _enrolment(code="Not A Code", kind="planet", areas=["99999", "10"], extra="ไทย")
    del bad["name_th"]
    r = client.post("/v1/agencies", json=bad, headers=bearer(admin.client.token()))
    body = problem(r, 400, "request-invalid")
    assert pointers(body) == sorted(
        ["/body/code", "/body/kind", "/body/areas/0", "/body/extra", "/body/name_th"]
    )
    assert "5" in body["detail"]
    by_pointer = {e["pointer"]: e["message"] for e in body["errors"]}
    assert "planet" in by_pointer["/body/kind"]
    assert "required" in by_pointer["/body/name_th"]


@pytest.mark.parametrize("value", ["2024-01-01T12:99:00Z", "yesterday", "2024-02-30T00:00:00Z"])
def test_a_bad_date_time_is_a_400_with_its_pointer(client, admin, value):  # type: ignore[no-untyped-def]
    body = _enrolment()
    body["key"]["not_before"] = value
    r = client.post("/v1/agencies", json=body, headers=bearer(admin.client.token()))
    assert pointers(problem(r, 400, "request-invalid")) == ["/body/key/not_before"]


def test_a_good_date_time_is_accepted(client, admin):  # type: ignore[no-untyped-def]
    body = _enrolment()
    body["key"]["not_after"] = "2030-01-01T00:00:00Z"
    r = client.post("/v1/agencies", json=body, headers=bearer(admin.client.token()))
    assert r.status_code == 201, r.text
    assert r.json()["keys"][0]["not_after"] == "2030-01-01T00:00:00Z"


@pytest.mark.parametrize(("field", "pointer"), [("a/b", "/body/a~1b"), ("c~d", "/body/c~0d")])
def test_json_pointer_escapes_slash_and_tilde(client, admin, field, pointer):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/agencies", json=_enrolment(**{field: 1}), headers=bearer(admin.client.token())
    )
    assert pointers(problem(r, 400, "request-invalid")) == [pointer]


def test_several_unknown_fields_in_one_object_each_get_a_pointer(client, admin):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/agencies", json=_enrolment(colour="blue", size=3), headers=bearer(admin.client.token())
    )
    assert pointers(problem(r, 400, "request-invalid")) == ["/body/colour", "/body/size"]


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/envelope", "/v1/agencies/x/y/z", "/ไทย"])
def test_unknown_route_is_a_404_problem(client, path):  # type: ignore[no-untyped-def]
    problem(client.get(path), 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/health", {"GET"}),
        ("POST", "/.well-known/jwks.json", {"GET"}),
        ("GET", "/v1/envelopes", {"POST"}),
        ("PUT", BATCH, {"POST"}),
        ("PATCH", "/v1/agencies/bma", {"GET"}),
        ("DELETE", "/v1/agencies", {"GET", "POST"}),  # two operations on one path: both named
    ],
)
def test_wrong_method_is_a_405_problem_with_allow(client, method, path, allowed):  # type: ignore[no-untyped-def]
    problem(client.request(method, path), 405, "method-not-allowed")
    r = client.request(method, path)
    named = {m.strip() for m in r.headers["allow"].split(",")}
    assert allowed <= named and method not in named


def test_a_405_under_open311_names_every_method_too(client):  # type: ignore[no-untyped-def]
    r = client.request("DELETE", "/open311/v2/requests.json")
    assert r.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}


@pytest.mark.parametrize(
    "path", ["/problems/a%0A", "/problems/a%0Ab", "/v1/agencies/a%0A", "/v1/cases/x%0A"]
)
def test_a_newline_in_a_path_is_a_4xx(client, admin, path):  # type: ignore[no-untyped-def]
    r = client.get(path, headers=bearer(admin.client.token()))
    problem(r, r.status_code)
    assert 400 <= r.status_code < 500


def test_other_odd_path_characters_are_a_4xx(client, admin):  # type: ignore[no-untyped-def]
    for path in [
        "/problems/a%20b",
        "/problems/%C3%A9",
        "/v1/agencies/%E0%B8%81",
        "/problems/%2e%2e",
    ]:
        r = client.get(path, headers=bearer(admin.client.token()))
        problem(r, r.status_code)
        assert 400 <= r.status_code < 500


@pytest.mark.parametrize("where", ["query", "path", "enrolment", "envelope"])
def test_nul_characters_are_never_a_500(client, admin, agencies, where):  # type: ignore[no-untyped-def]
    if where == "query":
        r = client.get("/v1/deliveries?case_id=a%00b", headers=bearer(admin.client.token()))
    elif where == "path":
        r = client.get("/v1/cases/a%00b", headers=bearer(admin.client.token()))
    elif where == "enrolment":
        body = _enrolment(name_th="ก\x00ข")
        r = client.post("/v1/agencies", json=body, headers=bearer(admin.client.token()))
    else:
        from tests.support.envelopes import traffy_complaint

        complaint = traffy_complaint(0)
        complaint["description"] = "ก\x00ข"
        jws = agencies.enrol("bma").client.envelope("complaint.submit", complaint)
        r = client.post("/v1/envelopes", content=jws.encode(), headers=JOSE)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        problem(r, r.status_code)


def test_unknown_problem_type_is_a_404_problem(client):  # type: ignore[no-untyped-def]
    problem(client.get("/problems/no-such-thing"), 404, "not-found")


# --------------------------------------------------------------------------- content


def test_thai_detail_round_trips_as_utf8(client):  # type: ignore[no-untyped-def]
    raw = '{"ชื่อ": 1, "ชื่อ": 2}'.encode()
    r = client.post(BATCH, content=raw, headers=JSON)
    body = problem(r, 400, "malformed")
    assert "ชื่อ" in body["detail"]
    assert "ชื่อ".encode() in r.content  # real UTF-8 on the wire, not only \\u escapes
    charset = r.headers["content-type"].partition("charset=")[2].strip().lower()
    assert charset in {"", "utf-8"}


def test_thai_in_field_messages_round_trips(client, admin):  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/agencies", json=_enrolment(kind="กระทรวง"), headers=bearer(admin.client.token())
    )
    body = problem(r, 400, "request-invalid")
    assert "กระทรวง" in body["errors"][0]["message"]


def test_an_unexpected_error_is_a_bare_500_problem(client, hub, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    """The catch-all: no traceback, no exception text to the client; the log has both."""

    def boom(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret-connection-string postgres://u:p@db")

    monkeypatch.setattr(type(hub), "database_ok", boom)
    with caplog.at_level(logging.ERROR):
        r = client.get("/health")
    problem(r, 500, "internal")
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert any("secret-connection-string" in str(rec.exc_info) for rec in caplog.records)


def test_problem_bodies_are_plain_json_objects(client):  # type: ignore[no-untyped-def]
    r = client.get("/nope")
    problem(r, 404)
    assert json.loads(r.content) == r.json()
    assert r.headers["content-type"] == "application/problem+json"


# --------------------------------------------------------------------------- documentation


def test_every_problem_type_seen_is_documented(client, admin, clock):  # type: ignore[no-untyped-def]
    """Runs last in this module: every ``type`` a response above used resolves, plus a few
    produced here so the test stands alone under ``-k``."""
    problem(client.get("/v1/agencies"), 401, "unauthorized")
    problem(client.post("/v1/agencies", json={}, headers=bearer(admin.client.token())), 400)
    assert len(SEEN) >= 2
    for type_uri, statuses in sorted(SEEN.items()):
        r = client.get(type_uri)
        assert r.status_code == 200, (type_uri, r.text)
        assert r.headers["content-type"] == "application/json"
        doc = r.json()
        assert doc["type"] == type_uri
        assert isinstance(doc["title"], str) and doc["title"]
        assert doc["description"]
        assert statuses == {doc["status"]}, (type_uri, statuses, doc)


def test_every_problem_type_of_the_hub_is_documented(client):  # type: ignore[no-untyped-def]
    types = all_problem_types()
    assert {"internal", "malformed", "request-invalid", "too-large", "not-found"} <= set(types)
    for slug, cls in types.items():
        r = client.get(f"/problems/{slug}")
        assert r.status_code == 200, (slug, r.text)
        assert r.json()["status"] == cls.status and r.json()["title"] == cls.title

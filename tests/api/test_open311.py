"""The Open311 GeoReport v2 facade, driven by a minimal Open311 client written from the spec.

The client below knows only what the GeoReport v2 page says: form-encoded POSTs with an
``api_key``, ``.json``/``.xml`` answers, lists for requests, ``[{code, description}]`` for
errors. Every JSON answer is checked against the community JSON Schemas (copied into
``tests/fixtures/open311/``, see SOURCE.md). The hub side of the journey (accept, resolve)
is driven with ordinary signed case messages from an enrolled agency.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sqlalchemy import select

from hub.models import Agency, Complaint, Envelope, Open311Client
from hub.open311 import add_client_cli
from tests.support.envelopes import counts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "open311"
BASE = "/open311/v2"
NAME, PHONE, EMAIL = ("Somchai", "Jaidee"), "081-234-5678", "somchai.j@example.co.th"
PII = (*NAME, PHONE, "0812345678", EMAIL)

# --------------------------------------------------------------------------- the spec's shapes

SCHEMAS = {p.name: json.loads(p.read_text("utf-8")) for p in (FIXTURES / "schemas").glob("*.json")}
REGISTRY: Registry[Any] = Registry().with_resources(
    (name, Resource.from_contents(body, default_specification=DRAFT7))
    for name, body in SCHEMAS.items()
)
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    # RFC 3339 needs an offset; fromisoformat alone would take a naive time
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)


# schema-validation publishes none for these two; both stated from the spec's text
STATED = {
    "post-answer": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "anyOf": [{"required": ["service_request_id"]}, {"required": ["token"]}],
            "properties": {
                "service_request_id": {"type": "string"},
                "token": {"type": "string"},
                "service_notice": {"type": ["string", "null"]},
                "account_id": {"type": ["string", "null"]},
            },
        },
    },
    "errors": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        },
    },
}


def conforms(schema: str, instance: Any) -> Any:
    """Validate against a copied schema (by file name) or a stated one; returns the instance."""
    body = STATED.get(schema) or {"$ref": schema}
    errors = list(
        Draft7Validator(body, registry=REGISTRY, format_checker=FORMATS).iter_errors(instance)
    )
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return instance


def example(name: str) -> Any:
    return json.loads((FIXTURES / "spec_examples" / name).read_text("utf-8"))


# --------------------------------------------------------------------------- the client


class Open311:
    """GeoReport v2 from the spec, nothing of ours: paths, form fields, formats, errors."""

    def __init__(self, http: Any, api_key: str | None = None) -> None:
        self.http, self.api_key = http, api_key

    def get(self, path: str, fmt: str = "json", **params: Any) -> Any:
        return self.http.get(f"{BASE}/{path}.{fmt}", params=params)

    def services(self, **params: Any) -> list[dict[str, Any]]:
        return conforms("services.json", self.ok(self.get("services", **params)))

    def definition(self, code: str) -> dict[str, Any]:
        return conforms("service-definition.json", self.ok(self.get(f"services/{code}")))

    def create(self, fmt: str = "json", **fields: Any) -> Any:
        form = {"api_key": self.api_key, **fields} if self.api_key else fields
        return self.http.post(f"{BASE}/requests.{fmt}", data=form)

    def create_ok(self, **fields: Any) -> str:
        answer = conforms("post-answer", self.ok(self.create(**fields)))
        assert len(answer) == 1 and answer[0].get("account_id") is None
        return str(answer[0]["service_request_id"])

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        return conforms("requests.json", self.ok(self.get("requests", **params)))

    def request(self, request_id: str) -> dict[str, Any]:
        found = conforms("requests.json", self.ok(self.get(f"requests/{request_id}")))
        assert len(found) == 1
        return conforms("request.json", found[0])

    @staticmethod
    def ok(response: Any) -> Any:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].split(";")[0] == "application/json"
        return response.json()

    @staticmethod
    def error(response: Any, code: int) -> str:
        """The spec's error list: HTTP status and the same code in the body."""
        assert response.status_code == code, response.text
        assert response.headers["content-type"].split(";")[0] == "application/json"
        body = conforms("errors", response.json())
        assert body[0]["code"] == code
        return str(body[0]["description"])


def xml_tags(text: str) -> tuple[str, set[str]]:
    """Root tag and the tags of its items' children, from any of the spec's XML bodies."""
    root = ElementTree.fromstring(text[text.index("<?xml") :].encode("utf-8"))
    return root.tag, {child.tag for item in root for child in item}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def default_agency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_OPEN311_AGENCY", raising=False)


@pytest.fixture
def api_key(settings, hub, capsys: pytest.CaptureFixture[str]) -> str:
    """Issued the way an operator does: ``hub open311 add-client NAME``, last word printed."""
    assert add_client_cli(settings, "Bangkok street app") == 0
    return capsys.readouterr().out.split()[-1]


@pytest.fixture
def krathum(agencies):
    """The tambon that acts on roads in กระทุ่มราย (DOPA 100301)."""
    return agencies.enrol("krathum", areas=["100301"], categories=["road"])


@pytest.fixture
def o311(client, api_key: str) -> Open311:
    return Open311(client, api_key)


def pothole(**extra: Any) -> dict[str, Any]:
    return {
        "service_code": "road",
        "lat": "13.8227",
        "long": "100.8569",
        "address_string": "ถนนเลียบวารี แขวงกระทุ่มราย",
        "jurisdiction_id": "100301",
        "description": f"หลุมบนถนนลึกมาก โทร {PHONE} หรือ {EMAIL}",
        "first_name": NAME[0],
        "last_name": NAME[1],
        "phone": PHONE,
        "email": EMAIL,
        "media_url": "https://example.org/photos/pothole.jpg",
        **extra,
    }


def no_personal_data(answer: Any) -> None:
    text = json.dumps(answer, ensure_ascii=False)
    for value in PII:
        assert value not in text, value


# --------------------------------------------------------------------------- tests


def test_the_spec_examples_fit_the_schemas_we_check_against() -> None:
    conforms("services.json", example("service-list.json"))
    conforms("service-definition.json", example("service-definition.json"))
    conforms("requests.json", example("service-requests.json"))
    conforms("requests.json", example("service-request.json"))
    conforms("post-answer", example("service-request-post.json"))
    conforms("errors", example("errors.json"))


def test_services_are_the_category_vocabulary(client) -> None:
    o = Open311(client)
    services = {s["service_code"]: s for s in o.services()}
    assert len(services) > 10
    road = services["road"]
    assert (road["service_name"], road["group"], road["type"], road["metadata"]) == (
        "ถนน",
        "roads",
        "realtime",
        False,
    )
    assert "ถนน" in road["keywords"]
    english = {s["service_code"]: s for s in o.services(lang="en")}
    assert english["road"]["service_name"].startswith("Road")
    r = client.get(f"{BASE}/services.json", headers={"Accept-Language": "en-GB,en;q=0.9,th;q=0.5"})
    assert conforms("services.json", r.json())[0]["service_name"].isascii()
    assert o.definition("road") == {"service_code": "road", "attributes": []}
    assert "nope" in o.error(o.get("services/nope"), 404)


def test_journey_post_track_resolve_closed(o311: Open311, client, hub, krathum, clock) -> None:
    request_id = o311.create_ok(**pothole())
    assert request_id.startswith("TRK-")

    seen = o311.request(request_id)
    assert (seen["status"], seen["service_code"], seen["service_request_id"]) == (
        "open",
        "road",
        request_id,
    )
    assert seen["lat"] == pytest.approx(13.8227) and seen["long"] == pytest.approx(100.8569)
    assert seen["media_url"] == "https://example.org/photos/pothole.jpg"
    assert seen["requested_datetime"].endswith("+07:00")
    assert "หลุมบนถนน" in seen["description"]
    no_personal_data(seen)

    case_id = krathum.client.get("/v1/cases", {"owner": "krathum"})["cases"][0]["id"]
    clock.advance(hours=2)
    krathum.client.send("case.accept", {"case_id": case_id})
    assert o311.request(request_id)["status"] == "open"
    clock.advance(days=1)
    krathum.client.send(
        "case.resolve",
        {"case_id": case_id, "outcome": "fixed", "summary": f"ซ่อมแล้ว แจ้ง {PHONE} แล้ว"},
    )

    done = o311.request(request_id)
    assert done["status"] == "closed"
    assert "ซ่อมแล้ว" in done["status_notes"]
    assert done["updated_datetime"] > seen["updated_datetime"]
    no_personal_data(done)
    assert [r["service_request_id"] for r in o311.requests(status="closed")] == [request_id]
    assert o311.requests(status="open") == []
    listed = o311.requests(service_request_id=f"{request_id},TRK-0000-0000-00")
    assert [r["status"] for r in listed] == ["closed"]
    no_personal_data(o311.requests(lang="en"))


def test_a_request_is_a_complaint_signed_by_the_hub_operated_agency(
    o311: Open311, hub, settings, krathum
) -> None:
    request_id = o311.create_ok(**pothole())
    with hub.transaction() as s:
        complaint = s.scalars(select(Complaint).where(Complaint.tracking_code == request_id)).one()
        envelope = s.get(Envelope, complaint.envelope_id)
        agency = s.get(Agency, "open311")
        assert agency is not None and agency.kind == "hub" and agency.roles == ["submit"]
        assert envelope is not None and envelope.issuer == "open311" and envelope.receipt
        assert (complaint.origin_agency, complaint.channel) == ("open311", "open311")
        assert complaint.personal is not None  # the contact, sealed
        assert complaint.record["reporter"] == {"anonymous": False}
        # the citizen's own words stay whole for the agencies on the case; nothing else
        no_personal_data({k: v for k, v in complaint.record.items() if k != "description"})
        assert complaint.record["extensions"]["open311"]["client"] == "Bangkok street app"
    key_file = settings.key_dir / "open311-agency.jwk"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_only_a_hash_of_the_api_key_is_kept(hub, api_key: str) -> None:
    with hub.transaction() as s:
        (client,) = s.scalars(select(Open311Client)).all()
        assert client.key_sha256 == hashlib.sha256(api_key.encode()).hexdigest()
        assert api_key not in json.dumps([client.name, client.agency, client.key_sha256])


@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_a_bad_api_key_is_403_and_stores_nothing(client, hub, key: str | None) -> None:
    before = counts(hub)
    o = Open311(client, key)
    assert "api_key" in o.error(o.create(**pothole()), 403)
    assert counts(hub) == before


def test_a_retired_client_key_is_403(o311: Open311, hub) -> None:
    with hub.transaction() as s:
        for c in s.scalars(select(Open311Client)):
            c.active = False
    o311.error(o311.create(**pothole()), 403)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service_code": None}, "service_code"),
        ({"service_code": "no_such_service"}, "service_code"),
        ({"lat": None, "long": None, "address_string": None}, "lat"),
        ({"long": None}, "long"),
        ({"lat": "north"}, "lat"),
        ({"lat": "123"}, "lat"),
        ({"phone": "call me"}, "phone"),
        ({"email": "somchai-at-home"}, "email"),
        ({"jurisdiction_id": "springfield"}, "jurisdiction_id"),
        ({"media_url": "ftp://example.org/x.jpg"}, "media_url"),
        ({"attribute[WHISHETN]": "123"}, "attribute"),
    ],
)
def test_bad_fields_are_400_in_the_spec_format(
    o311: Open311, hub, change: dict[str, Any], field: str
) -> None:
    before = counts(hub)
    form = {k: v for k, v in {**pothole(), **change}.items() if v is not None}
    assert field in o311.error(o311.create(**form), 400)
    assert counts(hub) == before


def test_an_address_alone_is_enough_and_anonymous_is_fine(o311: Open311) -> None:
    request_id = o311.create_ok(service_code="street_lighting", address_string="ซอยรามคำแหง 24")
    seen = o311.request(request_id)
    assert (seen["lat"], seen["address"], seen["service_code"]) == (
        None,
        "ซอยรามคำแหง 24",
        "street_lighting",
    )


def test_unknown_requests_and_filters(o311: Open311, clock) -> None:
    assert "TRK-0000" in o311.error(o311.get("requests/TRK-0000-0000-00"), 404)
    first = o311.create_ok(**pothole())
    clock.advance(days=10)
    second = o311.create_ok(**pothole(service_code="flooding"))
    assert [r["service_request_id"] for r in o311.requests()] == [second, first]
    assert [r["service_request_id"] for r in o311.requests(service_code="road")] == [first]
    start = clock().replace(hour=0).isoformat()
    assert [r["service_request_id"] for r in o311.requests(start_date=start)] == [second]
    assert o311.requests(end_date="2020-01-01T00:00:00+07:00") == []
    o311.error(o311.get("requests", start_date="yesterday"), 400)
    o311.error(o311.get("requests", status="pending"), 400)
    o311.error(o311.get("requests", colour="red"), 400)


def test_xml_answers_follow_the_spec_examples(o311: Open311, client) -> None:
    r = o311.get("services", fmt="xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    root, fields = xml_tags(r.text)
    assert root == "services" and {"service_code", "service_name", "type"} <= fields

    r = o311.create(fmt="xml", **pothole())
    assert r.status_code == 200, r.text
    spec = xml_tags((FIXTURES / "spec_examples" / "service-request-post.xml").read_text("utf-8"))
    assert xml_tags(r.text) == spec
    request_id = ElementTree.fromstring(r.content).findtext("request/service_request_id")

    r = o311.get(f"requests/{request_id}", fmt="xml")
    root, fields = xml_tags(r.text)
    assert root == "service_requests" and {"status", "requested_datetime"} <= fields
    assert ElementTree.fromstring(r.content).findtext("request/status") == "open"

    r = o311.get("requests/TRK-0000-0000-00", fmt="xml")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/xml")
    spec = xml_tags((FIXTURES / "spec_examples" / "errors.xml").read_text("utf-8"))
    assert xml_tags(r.text) == spec
    assert ElementTree.fromstring(r.content).findtext("error/code") == "404"


def test_the_rest_of_the_hub_still_speaks_problem_json(client) -> None:
    r = client.get("/v1/cases/case:nope")
    assert r.headers["content-type"].startswith("application/problem+json")

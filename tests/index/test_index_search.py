"""``GET /v1/index/complaints`` end to end: signed complaints in, filtered pages out.

Who sees what: oversight and admins every case, any other agency only the cases it is on,
anonymous callers nothing (401). Filters, text search over scrubbed text, sort, totals and
the problem+json answer (with the parameter's pointer) for every bad parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.models import Case, Complaint
from tests.index.world import (
    BANGKOK_OTHER_KHET,
    CHIANG_MAI,
    complaint,
    get,
    ids,
    ok_json,
    submit,
)
from tests.support.tokens import expect_problem

URL = "/v1/index/complaints"
DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def world(cast, hub, clock) -> dict[str, str]:
    """Five cases: three in Bangkok (two khet), one in Chiang Mai, one from the 1111 line;
    one accepted and resolved, one breached, one merged into another."""
    t, o = cast["traffy"], cast["ops1111"]
    c = {
        "pothole": submit(
            t,
            complaint(
                "A-1",
                text="ถนนเป็นหลุมลึก รถจักรยานยนต์ล้ม",
                reported_at=T0,
                star=4,
                lat=13.812345,
                lon=100.876543,
            ),
        ),
        "light": submit(
            t,
            complaint(
                "A-2",
                text="ไฟถนนดับทั้งซอย มืดมาก",
                category="street_lighting",
                reported_at=T0 + DAY,
                lat=13.90,
            ),
        ),
        "khet": submit(
            t,
            complaint(
                "A-3",
                text="ทางเท้าแตกร้าว 100% ต้องซ่อม",
                category="footpath",
                area=BANGKOK_OTHER_KHET,
                reported_at=T0 + 2 * DAY,
                lat=13.87,
                lon=100.60,
            ),
        ),
        "cm": submit(
            t,
            complaint(
                "A-4",
                text="น้ำท่วมขังหน้าตลาดวโรรส",
                category="flooding",
                area=CHIANG_MAI,
                reported_at=T0 + 3 * DAY,
                lat=18.79,
                lon=98.99,
                star=2,
            ),
        ),
        "hotline": submit(
            o,
            complaint(
                "1111-9",
                text="ขยะไม่มีคนเก็บมาสองสัปดาห์",
                category="waste",
                origin="ops1111",
                system="ops1111",
                channel="hotline_1111",
                reported_at=T0 + 4 * DAY,
                lat=13.70,
                lon=100.50,
            ),
        ),
    }
    bma = cast["bma"].client
    bma.send("case.accept", {"case_id": c["pothole"]})
    bma.send("case.resolve", {"case_id": c["pothole"], "outcome": "fixed", "summary": "ซ่อมแล้ว"})
    bma.send("case.accept", {"case_id": c["light"]})
    bma.send("case.merge", {"case_id": c["light"], "into": c["khet"], "reason": "ซ้ำ"})
    with hub.transaction() as s:
        s.get(Case, c["hotline"]).accept_breached_at = clock()
    return c


def page(client, reader, /, **params) -> dict:
    return ok_json(get(client, reader, URL, **params))


# --------------------------------------------------------------------------- who sees what


def test_oversight_and_admins_see_every_case_newest_first(client, cast, world):
    for reader in ("ombudsman", "root"):
        body = page(client, cast[reader])
        assert ids(body) == [
            world["hotline"],
            world["cm"],
            world["khet"],
            world["light"],
            world["pothole"],
        ]
        assert (body["total"], body["total_exact"], body["next_cursor"]) == (5, True, None)


def test_an_agency_without_oversight_sees_only_cases_it_is_on(client, cast, world):
    assert set(ids(page(client, cast["bma"]))) == {
        world["pothole"],
        world["light"],
        world["khet"],
        world["hotline"],
    }
    assert ids(page(client, cast["cmcity"])) == [world["cm"]]
    nothing = page(client, cast["mea"])
    assert (nothing["items"], nothing["total"]) == ([], 0)
    # a filter naming another agency's case does not widen the view
    assert page(client, cast["cmcity"], province=["10"])["items"] == []
    assert page(client, cast["mea"], owner=["bma"])["total"] == 0


def test_anonymous_and_badly_signed_callers_get_401(client, cast, world):
    for path in (
        URL,
        "/v1/index/stats",
        "/v1/index/map.geojson",
        "/v1/index/export.csv",
        "/v1/index/export.ndjson",
        f"/v1/index/cases/{world['cm']}",
    ):
        expect_problem(client.get(path), 401)
        expect_problem(client.get(path, headers={"Authorization": "Bearer not.a.jwt"}), 401)


# --------------------------------------------------------------------------- items


def test_an_item_carries_the_public_facts_of_the_case(client, cast, world, clock):
    body = page(client, cast["ombudsman"], q="หลุมลึก")
    assert ids(body) == [world["pothole"]]
    item = body["items"][0]
    assert item == {
        "case_id": world["pothole"],
        "status": "resolved",
        "category": "road",
        "province": "10",
        "amphoe": "1003",
        "tambon": "100301",
        "owner": "bma",
        "agencies": ["bma", "traffy"],
        "channels": ["traffy_fondue"],
        "origin_system": "traffy_fondue",
        "subject": "ถนนเป็นหลุมลึก รถจักรยานยนต์ล้ม",
        "description": "ถนนเป็นหลุมลึก รถจักรยานยนต์ล้ม",
        "reported_at": "2026-11-01T03:00:00Z",
        "accepted_at": clock().isoformat().replace("+00:00", "Z"),
        "resolved_at": clock().isoformat().replace("+00:00", "Z"),
        "accept_due": None,
        "resolve_due": item["resolve_due"],
        "sla_breached": False,
        "merged_into": None,
        "reopen_count": 0,
        "satisfaction": 4,
        "lat": 13.812,
        "lon": 100.877,
    }
    assert item["resolve_due"] is not None


def test_a_merged_case_points_at_its_survivor_which_holds_both_complaints(client, cast, world):
    merged = page(client, cast["ombudsman"], merged=True)
    assert ids(merged) == [world["light"]]
    assert merged["items"][0]["merged_into"] == world["khet"]
    assert merged["items"][0]["status"] == "merged"
    survivor = page(client, cast["ombudsman"], q="ไฟถนนดับ")  # the merged complaint's text
    assert ids(survivor) == [world["khet"]]
    assert page(client, cast["ombudsman"], merged=False)["total"] == 4


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"province": ["50"]}, ["cm"]),
        ({"province": ["10", "50"], "category": ["flooding", "road"]}, ["cm", "pothole"]),
        ({"amphoe": ["1005"]}, ["khet"]),
        ({"tambon": ["500101"]}, ["cm"]),
        ({"category": ["waste"]}, ["hotline"]),
        ({"status": ["resolved"]}, ["pothole"]),
        ({"status": ["merged", "resolved"]}, ["light", "pothole"]),
        ({"owner": ["cmcity"]}, ["cm"]),
        ({"agency": ["cmcity"]}, ["cm"]),
        ({"agency": ["ops1111"]}, ["hotline"]),
        ({"channel": ["hotline_1111"]}, ["hotline"]),
        ({"origin": ["ops1111"]}, ["hotline"]),
        ({"origin": ["traffy_fondue"], "province": ["50"]}, ["cm"]),
        ({"sla_breached": True}, ["hotline"]),
        ({"sla_breached": False, "province": ["10"]}, ["khet", "light", "pothole"]),
        ({"reported_from": "2026-11-02T03:00:00Z"}, ["hotline", "cm", "khet", "light"]),
        ({"reported_to": "2026-11-02T03:00:00Z"}, ["pothole"]),  # exclusive
        (
            {"reported_from": "2026-11-02T10:00:00+07:00", "reported_to": "2026-11-04T03:00:00Z"},
            ["khet", "light"],
        ),
        ({"resolved_from": "2026-01-01T00:00:00Z"}, ["pothole"]),
        ({"resolved_to": "2026-01-01T00:00:00Z"}, []),
    ],
)
def test_filters_narrow_the_cases(client, cast, world, params, expected):
    body = page(client, cast["ombudsman"], **params)
    assert sorted(ids(body)) == sorted(world[k] for k in expected)
    assert body["total"] == len(expected)


def test_text_search_finds_thai_substrings_of_the_scrubbed_text(client, cast, world, hub):
    for q, expected in (
        ("หลุม", ["pothole"]),
        ("น้ำท่วม", ["cm"]),
        ("ซอย", ["khet"]),  # the light case merged into khet: its complaint lives there now
        ("100%", ["khet"]),  # % and _ are literal characters, not wildcards
        ("0%", ["khet"]),
        ("_", []),
        ("ไม่มีเรื่องนี้", []),
    ):
        assert ids(page(client, cast["ombudsman"], q=q)) == [world[k] for k in expected], q
    with hub.transaction() as s:
        texts = s.scalars(select(Complaint.public_text).order_by(Complaint.id)).all()
    assert len(texts) == 5 and all(texts)


def test_text_search_never_finds_a_complaint_by_personal_data(client, cast, world):
    phone_case = submit(
        cast["traffy"],
        complaint(
            "A-9",
            text="ท่อแตก โทรกลับ 081-234-5678 หรือ somchai@example.com",
            category="water_supply",
            lat=14.2,
        ),
    )
    assert ids(page(client, cast["ombudsman"], q="ท่อแตก")) == [phone_case]
    for probe in ("081-234-5678", "0812345678", "234-5678", "somchai@example.com", "somchai"):
        assert page(client, cast["ombudsman"], q=probe)["items"] == [], probe


# --------------------------------------------------------------------------- sort


def test_sorts_oldest_first_and_by_resolution(client, cast, world, hub, clock):
    oldest = page(client, cast["ombudsman"], sort="reported_at")
    assert ids(oldest) == [
        world["pothole"],
        world["light"],
        world["khet"],
        world["cm"],
        world["hotline"],
    ]
    with hub.transaction() as s:  # through the ORM, as every writer: the fold sees it
        s.get(Case, world["cm"]).resolved_at = clock() - 2 * DAY
    # not yet resolved is the largest value: last oldest-first, first newest-first
    asc = ids(page(client, cast["ombudsman"], sort="resolved_at"))
    assert asc[:2] == [world["cm"], world["pothole"]]
    desc = ids(page(client, cast["ombudsman"], sort="-resolved_at"))
    assert desc[-2:] == [world["pothole"], world["cm"]]
    assert sorted(asc[2:]) == sorted(desc[:3])


def test_pages_follow_the_cursor_to_the_end(client, cast, world):
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = page(client, cast["ombudsman"], **params)
        assert body["total"] == 5
        seen += ids(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids(page(client, cast["ombudsman"]))


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"province": "1"}, "/query/province"),
        ({"province": "10,ABC"}, "/query/province"),
        ({"amphoe": "10"}, "/query/amphoe"),
        ({"tambon": "1003011"}, "/query/tambon"),
        ({"category": "Road!"}, "/query/category"),
        ({"owner": "BMA"}, "/query/owner"),
        ({"reported_from": "yesterday"}, "/query/reported_from"),
        ({"reported_to": "2026-11-01T03:00:00"}, "/query/reported_to"),  # no offset
        ({"resolved_from": "2026-11-01"}, "/query/resolved_from"),
        ({"resolved_to": "2026-13-01T00:00:00Z"}, "/query/resolved_to"),
        ({"sla_breached": "maybe"}, "/query/sla_breached"),
        ({"merged": "2"}, "/query/merged"),
        ({"q": "x" * 201}, "/query/q"),
        ({"q": ""}, "/query/q"),
        ({"limit": "0"}, "/query/limit"),
        ({"limit": "201"}, "/query/limit"),
        ({"sort": "subject"}, "/query/sort"),
        ({"cursor": "!!!"}, "/query/cursor"),
        ({"colour": "red"}, "/query/colour"),
    ],
)
def test_every_bad_parameter_is_a_problem_naming_it(client, cast, world, params, pointer):
    r = client.get(URL, params=params, headers=_auth(cast["ombudsman"]))
    problem = expect_problem(r, 400)
    assert pointer in [e["pointer"] for e in problem["errors"]], problem


def test_a_tampered_or_misused_cursor_is_refused(client, cast, world):
    body = page(client, cast["ombudsman"], limit=2)
    cursor = body["next_cursor"]
    assert cursor
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for bad, params in (
        (flipped, {}),
        (cursor[:-4], {}),
        ("eyJwIjpbbnVsbCwieCJdLCJkIjoiMCJ9", {}),  # well-formed JSON, forged digest
        (cursor, {"province": "10"}),  # same cursor, other filters
        (cursor, {"sort": "reported_at"}),  # same cursor, other sort
    ):
        r = client.get(
            URL, params={"limit": 2, "cursor": bad, **params}, headers=_auth(cast["ombudsman"])
        )
        problem = expect_problem(r, 400, "request-invalid")
        assert [e["pointer"] for e in problem["errors"]] == ["/query/cursor"]


def _auth(agency) -> dict[str, str]:
    return {"Authorization": f"Bearer {agency.client.token()}"}

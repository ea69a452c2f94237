"""``GET /v1/index/stats`` end to end, with times the test controls, on both backends.

PostgreSQL computes medians and 90th percentiles with ``percentile_cont``, SQLite in
Python; the same scenario must give the same numbers on each (worked out by hand below).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.models import Case
from tests.index.world import CHIANG_MAI, complaint, get, ok_json, submit
from tests.support.tokens import expect_problem

URL = "/v1/index/stats"


@pytest.fixture
def scenario(cast, hub, clock) -> dict[str, str]:
    """Opened together at t0. bma accepts A at +1 h, B at +3 h, E at +7 h; cmcity accepts C
    at +3 h. C is resolved at +20 h; A at +10 h, reopened by its origin, resolved again at
    +30 h. D (the 1111 line's) is never accepted and breaches its deadline.
    Stars: A 5, C 3, E 4."""
    now = clock()
    t, o = cast["traffy"], cast["ops1111"]
    c = {
        "A": submit(
            t,
            complaint(
                "S-A",
                text="ถนนยุบเป็นแอ่ง",
                star=5,
                reported_at=now - timedelta(hours=5),
            ),
        ),
        "B": submit(
            t,
            complaint(
                "S-B",
                text="ไฟทางเดินดับ",
                category="street_lighting",
                lat=13.9,
                reported_at=now - timedelta(hours=2),
            ),
        ),
        "C": submit(
            t,
            complaint(
                "S-C",
                text="น้ำท่วมซอยวัด",
                category="flooding",
                area=CHIANG_MAI,
                lat=18.79,
                lon=98.99,
                star=3,
                reported_at=now - timedelta(days=40),
            ),
        ),
        "D": submit(
            o,
            complaint(
                "S-D",
                text="ขยะล้นถัง",
                category="waste",
                origin="ops1111",
                system="ops1111",
                channel="hotline_1111",
                lat=13.7,
                reported_at=now - timedelta(days=10),
            ),
        ),
        "E": submit(
            t,
            complaint(
                "S-E",
                text="ผิวจราจรร่อนเป็นหลุมบ่อหลายจุด",
                lat=13.5,
                star=4,
                # 03:00 on 1 November in Bangkok is still 31 October in UTC
                reported_at=now.replace(month=10, day=31, hour=20) - timedelta(days=365),
            ),
        ),
    }
    bma, cm = cast["bma"].client, cast["cmcity"].client
    clock.advance(hours=1)
    bma.send("case.accept", {"case_id": c["A"]})
    clock.advance(hours=2)
    bma.send("case.accept", {"case_id": c["B"]})
    cm.send("case.accept", {"case_id": c["C"]})
    clock.advance(hours=4)
    bma.send("case.accept", {"case_id": c["E"]})
    clock.advance(hours=3)
    bma.send("case.resolve", {"case_id": c["A"], "outcome": "fixed", "summary": "ซ่อมแล้ว"})
    clock.advance(hours=10)
    cm.send("case.resolve", {"case_id": c["C"], "outcome": "fixed", "summary": "สูบน้ำแล้ว"})
    clock.advance(hours=1)
    t.client.send("case.reopen", {"case_id": c["A"], "reason": "ยังเป็นแอ่งอยู่"})
    bma.send("case.accept", {"case_id": c["A"]})
    clock.advance(hours=9)
    bma.send("case.resolve", {"case_id": c["A"], "outcome": "fixed", "summary": "ปูใหม่"})
    with hub.transaction() as s:
        s.execute(update(Case).where(Case.id == c["D"]).values(accept_breached_at=clock()))
    return c


def stats(client, reader, **params) -> dict:
    return ok_json(get(client, reader, URL, **params))


def test_times_rates_backlog_and_satisfaction_agree_on_both_backends(client, cast, scenario):
    body = stats(client, cast["ombudsman"], percentiles="exact")
    assert body["percentiles"] == {"method": "exact"}
    assert body["total"] == 5
    assert body["groups"] == [{"province": "10", "count": 4}, {"province": "50", "count": 1}]
    assert body["backlog"] == [
        {"bucket": "<1d", "count": 0},
        {"bucket": "1-7d", "count": 1},  # B: reported 2 h before t0, read 30 h after
        {"bucket": "7-30d", "count": 1},  # D
        {"bucket": "30-90d", "count": 0},
        {"bucket": ">90d", "count": 1},  # E
    ]
    got = {r["agency"]: r for r in body["by_agency"]}
    assert list(got) == ["bma", "cmcity"]  # most cases first
    _assert_close(
        got["bma"],
        {
            "agency": "bma",
            "cases": 4,
            "open": 3,  # B and E accepted, D offered
            "resolved": 1,
            "accept_median_h": 7.0,  # of 3 (B), 7 (E), 21 (A: its acceptance after reopening)
            "accept_p90_h": 18.2,  # 7 + (21 - 7) * 0.8
            "resolve_median_h": 30.0,
            "resolve_p90_h": 30.0,
            "breach_rate": 0.25,
        },
    )
    _assert_close(
        got["cmcity"],
        {
            "agency": "cmcity",
            "cases": 1,
            "open": 0,
            "resolved": 1,
            "accept_median_h": 3.0,
            "accept_p90_h": 3.0,
            "resolve_median_h": 20.0,
            "resolve_p90_h": 20.0,
            "breach_rate": 0.0,
        },
    )
    provinces = {r["province"]: r for r in body["by_province"]}
    _assert_close(provinces["10"], {**got["bma"], "province": "10"}, ignore=("agency",))
    assert provinces["50"]["cases"] == 1
    assert body["sla_breach_rate"] == pytest.approx(0.2)
    assert body["reopen_rate"] == pytest.approx(0.5)  # A of the two ever resolved (A, C)
    assert body["satisfaction"]["count"] == 3
    assert body["satisfaction"]["mean"] == pytest.approx(4.0)


def _assert_close(got: dict, expected: dict, ignore: tuple[str, ...] = ()) -> None:
    expected = {k: v for k, v in expected.items() if k not in ignore}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert got[key] == value, key


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (
            "category,status",
            [
                {"category": "road", "status": "accepted", "count": 1},
                {"category": "road", "status": "resolved", "count": 1},
                {"category": "flooding", "status": "resolved", "count": 1},
                {"category": "street_lighting", "status": "accepted", "count": 1},
                {"category": "waste", "status": "offered", "count": 1},
            ],
        ),
        (
            "channel",
            [{"channel": "traffy_fondue", "count": 4}, {"channel": "hotline_1111", "count": 1}],
        ),
        ("agency", [{"agency": "bma", "count": 4}, {"agency": "cmcity", "count": 1}]),
    ],
)
def test_counts_by_one_or_two_dimensions(client, cast, scenario, group_by, expected):
    groups = stats(client, cast["ombudsman"], group_by=group_by)["groups"]
    assert sorted(groups, key=str) == sorted(expected, key=str)


def test_months_are_bangkok_calendar_months(client, cast, scenario, clock):
    groups = stats(client, cast["ombudsman"], group_by="month")["groups"]
    months = {g["month"]: g["count"] for g in groups}
    year = clock().year
    assert months[f"{year - 1}-11"] == 1  # E: 31 October 20:00 UTC is 1 November in Bangkok
    assert sum(months.values()) == 5


def test_statistics_follow_the_filters_and_the_callers_view(client, cast, scenario):
    assert stats(client, cast["ombudsman"], province="50")["total"] == 1
    assert stats(client, cast["ombudsman"], sla_breached="true")["by_agency"][0]["breach_rate"] == 1
    mine = stats(client, cast["cmcity"])
    assert mine["total"] == 1 and [r["agency"] for r in mine["by_agency"]] == ["cmcity"]
    nothing = stats(client, cast["mea"])
    assert nothing["total"] == 0 and nothing["groups"] == [] and nothing["by_agency"] == []
    assert nothing["sla_breach_rate"] is None and nothing["reopen_rate"] is None
    assert nothing["satisfaction"] == {"mean": None, "count": 0}
    assert [b["count"] for b in nothing["backlog"]] == [0, 0, 0, 0, 0]


def test_approximate_times_say_so_and_keep_within_their_bound(client, cast, scenario, database_url):
    """The default on PostgreSQL: the histograms' answer, its bound stated in the body;
    everything but the times is the exact answer's. SQLite answers exactly, and says so."""
    exact = stats(client, cast["ombudsman"], percentiles="exact")
    approx = stats(client, cast["ombudsman"])
    if database_url.startswith("sqlite"):
        assert approx == exact
        return
    bound = approx["percentiles"]
    assert bound == {"method": "approx", "relative_error": 0.05, "absolute_error_h": 1 / 60}
    tables = ("by_agency", "by_province", "percentiles")
    assert {k: v for k, v in approx.items() if k not in tables} == {
        k: v for k, v in exact.items() if k not in tables
    }
    for table in tables[:2]:
        for got, want in zip(approx[table], exact[table], strict=True):
            for name, value in want.items():
                if not name.endswith("_h") or value is None:
                    assert got[name] == value, name
                    continue
                limit = bound["relative_error"] * abs(value) + bound["absolute_error_h"]
                assert abs(got[name] - value) <= limit * (1 + 1e-9), name
    assert approx["by_agency"][0]["accept_median_h"] != exact["by_agency"][0]["accept_median_h"]


@pytest.mark.parametrize("value", ["median", "", "EXACT"])
def test_an_unknown_percentile_method_is_a_problem_naming_it(client, cast, value):
    r = client.get(
        URL,
        params={"percentiles": value},
        headers={"Authorization": f"Bearer {cast['ombudsman'].client.token()}"},
    )
    problem = expect_problem(r, 400)
    assert "/query/percentiles" in [e["pointer"] for e in problem["errors"]]


@pytest.mark.parametrize("group_by", ["category,status", "month", "agency"])
def test_without_performance_the_same_answer_less_the_agency_and_province_times(
    client, cast, scenario, group_by
):
    full = stats(client, cast["ombudsman"], group_by=group_by)
    counts = stats(client, cast["ombudsman"], group_by=group_by, performance="false")
    assert full["by_agency"] and full["by_province"] and full["percentiles"]
    tables = ("by_agency", "by_province", "percentiles")
    assert not set(tables) & set(counts)
    assert counts == {k: v for k, v in full.items() if k not in tables}
    assert stats(client, cast["ombudsman"], group_by=group_by, performance="true") == full


@pytest.mark.parametrize(
    "group_by", ["province,province", "province,category,status", "colour", ""]
)
def test_bad_dimensions_are_a_problem_naming_group_by(client, cast, group_by):
    r = client.get(
        URL,
        params={"group_by": group_by},
        headers={"Authorization": f"Bearer {cast['ombudsman'].client.token()}"},
    )
    problem = expect_problem(r, 400)
    assert "/query/group_by" in [e["pointer"] for e in problem["errors"]]

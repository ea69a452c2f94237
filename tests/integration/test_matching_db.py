"""``find_duplicate`` against a real database (SQLite always, PostgreSQL when configured):
open cases only, same family, inside the box and the window, best complaint of a case."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from typing import Any

import pytest

from hub import matching
from hub.matching import (
    MatchPolicy,
    Probe,
    candidates_many,
    family_members,
    find_duplicate,
    normalize_thai,
)
from hub.models import Case, Complaint

POTHOLE = "ถนนชำรุดเป็นหลุมลึก รถสัญจรลำบาก ขอให้ซ่อมแซมด่วน"
REREPORT = "ผู้ร้องแจ้งว่าถนนชำรุดเป็นหลุมบ่อ สัญจรไปมาลำบาก ขอให้ซ่อมโดยเร็ว"
LAT, LON = 13.75183, 100.50766
_seq = itertools.count()


def add_case(s, now, case_id: str, *, texts: tuple[str, ...] = (POTHOLE,), **kw: Any) -> None:
    fields: dict[str, Any] = {
        "status": "accepted",
        "category": "road",
        "lat": LAT,
        "lon": LON,
        "opened_at": now - timedelta(days=1),
    }
    s.add(Case(id=case_id, **(fields | kw)))
    s.flush()
    for text in texts:
        n = next(_seq)
        s.add(
            Complaint(
                id=f"traffy:T{n}",
                origin_agency="bma",
                origin_system="traffy_fondue",
                origin_ref=f"T{n}",
                channel="traffy_fondue",
                category=(fields | kw)["category"],
                subject=text.splitlines()[0][:80],
                description=text,
                lat=LAT,
                lon=LON,
                reported_at=now - timedelta(days=1),
                record={},
                case_id=case_id,
                tracking_code=f"TRK{n}",
            )
        )


def lookup(hub, now, **kw: Any) -> str | None:
    args: dict[str, Any] = {
        "category": "road",
        "lat": LAT + 0.0004,  # ~45 m
        "lon": LON,
        "reported_at": now,
        "text": REREPORT,
    }
    with hub.transaction() as s:
        return find_duplicate(s, **(args | kw))


def test_a_rereport_joins_the_open_case_nearby(hub, clock):
    now = clock()
    with hub.transaction() as s:
        add_case(s, now, "case:open")
    assert lookup(hub, now) == "case:open"
    assert lookup(hub, now, category="footpath") == "case:open"  # sibling in the family


def test_closed_resolved_rejected_and_merged_cases_are_not_joined(hub, clock):
    now = clock()
    with hub.transaction() as s:
        for status in ("resolved", "closed", "rejected", "merged"):
            add_case(s, now, f"case:{status}", status=status)
        add_case(s, now, "case:merged-away", merged_into="case:closed")
    assert lookup(hub, now) is None


def test_family_distance_time_and_text_all_filter(hub, clock):
    now = clock()
    with hub.transaction() as s:
        add_case(s, now, "case:drain", category="drainage")
        add_case(s, now, "case:far", lat=LAT + 0.01)  # ~1.1 km
        add_case(s, now, "case:old", opened_at=now - timedelta(days=30))
        add_case(s, now, "case:cables", texts=("สายสื่อสารขาดห้อยลงมาถึงพื้น",))
        add_case(s, now, "case:nowhere", lat=None, lon=None)
    assert lookup(hub, now) is None
    assert lookup(hub, now, lat=None) is None  # never guess a place
    assert lookup(hub, now, category="no-such-category") is None
    wide = MatchPolicy(max_distance_m=2000, max_age=timedelta(days=60))
    assert lookup(hub, now, policy=wide) in {"case:far", "case:old"}


def test_a_case_matches_on_its_best_complaint_and_the_best_case_wins(hub, clock):
    now = clock()
    with hub.transaction() as s:
        add_case(s, now, "case:weak", texts=("ถนนเป็นหลุม",))
        add_case(
            s,
            now,
            "case:two-complaints",
            lat=LAT + 0.0001,
            texts=("มีรถจักรยานยนต์ขึ้นมาจอดบนทางเท้า", REREPORT),
        )
    assert lookup(hub, now) == "case:two-complaints"


def test_a_case_without_complaints_matches_on_its_summary(hub, clock):
    now = clock()
    with hub.transaction() as s:
        s.add(
            Case(
                id="case:summary",
                status="received",
                category="road",
                lat=LAT,
                lon=LON,
                opened_at=now,
                summary=POTHOLE,
            )
        )
    assert lookup(hub, now) == "case:summary"


TEXTS = (POTHOLE, REREPORT, "สายสื่อสารขาดห้อยลงมาถึงพื้น", "ถนนเป็นหลุม", "")
POINTS = ((LAT, LON), (13.7563, 100.5018), (18.7883, 98.9853))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_candidates_for_a_batch_are_each_complaints_own_query(hub, clock, seed):
    """``candidates_many`` (one LATERAL statement for a batch) returns, probe by probe,
    exactly what the per-complaint query returns: same cases and texts, same order, same
    limit. A random world near three places: open and closed, merged, other families,
    outside the box or the window, several complaints or only a summary."""
    rng = random.Random(seed)
    now = clock()
    with hub.transaction() as s:
        for i in range(70):
            lat, lon = rng.choice(POINTS)
            texts = tuple(rng.choice(TEXTS) or POTHOLE for _ in range(rng.randint(0, 3)))
            fields: dict[str, Any] = {
                "status": rng.choice(("accepted", "received", "in_progress", "resolved", "closed")),
                "category": rng.choice(("road", "footpath", "drainage", "water_supply")),
                "lat": lat + rng.uniform(-0.003, 0.003),
                "lon": lon + rng.uniform(-0.003, 0.003),
                "opened_at": now - timedelta(days=rng.uniform(-10, 40)),
            }
            if rng.random() < 0.1:
                fields["merged_into"] = "case:elsewhere"
            if not texts:
                fields["summary"] = rng.choice(TEXTS)
            add_case(s, now, f"case:{seed}:{i}", texts=texts, **fields)
    probes = []
    for i in range(40):
        lat, lon = rng.choice(POINTS)
        probes.append(
            Probe(
                key=("p", i),
                category=rng.choice(("road", "footpath", "drainage", "no-such-category")),
                lat=None if rng.random() < 0.1 else lat + rng.uniform(-0.002, 0.002),
                lon=lon + rng.uniform(-0.002, 0.002),
                reported_at=now - timedelta(days=rng.uniform(-5, 20)),
                text=rng.choice(TEXTS),
            )
        )
    policy = MatchPolicy()
    with hub.transaction() as s:
        many = candidates_many(s, probes, policy)
        queried = 0
        for p in probes:
            family = family_members(p.category)
            if p.lat is None or p.lon is None or not family or not normalize_thai(p.text):
                assert p.key not in many  # the matcher would not ask either
                continue
            own = s.execute(
                matching._candidates_query(),
                matching._params(family, p.lat, p.lon, p.reported_at, policy),
            ).all()
            assert many[p.key] == matching._candidates(own), p
            queried += 1
        assert queried >= 15 and sum(len(c) for c in many.values()) > 0

"""The duplicate matcher: text normalisation, similarity, distance, the rules, and its quality
on the labelled set built from real Traffy rows (``tests/fixtures/duplicates``)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.traffy_fondue.mapping import row_to_complaint
from hub.matching import (
    Candidate,
    MatchPolicy,
    best_match,
    bounding_box,
    char_ngrams,
    family_members,
    haversine_m,
    normalize_thai,
    open_statuses,
    same_family,
    similarity,
)

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "tests/fixtures/duplicates/pairs.jsonl"
CSV = ROOT / "adapters/traffy_fondue/fixtures/bangkok_sample.csv"
T0 = datetime(2023, 5, 12, 6, 0, tzinfo=UTC)

thai_text = st.text(
    alphabet=st.sampled_from(
        list("กขคงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะัาำิีึืุูเแโใไ่้๊๋็์ๆฯ ,.!0123456789abcXYZ#")
    ),
    max_size=60,
)
lats = st.floats(min_value=-85, max_value=85, allow_nan=False)
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ถนนเป็นหลุม", "ถนนเปนหลุม"),  # tone marks and mai taikhu go
        ("มากกกกก", "มาก"),  # elongation collapses
        ("ถนน", "ถนน"),  # but a genuine double consonant stays
        ("น้ำ", "นำ"),
        ("นํ้า", "นำ"),  # nikhahit + sara aa typed apart, tone in between
        ("ท่อตัน โทร 089-111-2222 ครับ", "ทอตัน"),
        ("ท่อตัน\nโทร 0891112222 ได้ตลอดเวลา", "ทอตันไดตลอดเวลา"),
        ("ขยะ ติดต่อกลับได้ที่ 081-234-5678", "ขยะ"),
        ("ขยะ อีเมล somchai.test@example.com", "ขยะ"),
        ("ดูรูป https://example.com/a.jpg นะคะ", "ดูรูป"),
        ("ต้นไม้ล้ม #1555", "ตนไมลม"),
        ("ผู้ร้องแจ้งว่าต้นไม้ล้ม", "ตนไมลม"),
        ("PM2.5 สูง", "pm25สูง"),
        ("ซอย ๑๒", "ซอย12"),
        ("ไม้ๆ ฯลฯ", "ไมล"),
    ],
)
def test_normalize_thai_examples(raw: str, expected: str) -> None:
    assert normalize_thai(raw) == expected


def test_normalize_keeps_words_that_merely_contain_a_particle() -> None:
    assert normalize_thai("คะแนนดี") == "คะแนนดี"


@given(thai_text)
def test_normalized_text_has_no_spaces_punctuation_or_tone_marks(text: str) -> None:
    out = normalize_thai(text)
    assert not any(ch.isspace() or ch in ",.!#่้๊๋็์ๆฯ" for ch in out)
    assert out == out.casefold()


# --------------------------------------------------------------------------- n-grams, similarity


def test_char_ngrams() -> None:
    assert char_ngrams("ถนนพัง", 3) == frozenset({"ถนน", "นนพ", "นพั", "พัง"})
    assert char_ngrams("ถน", 3) == frozenset({"ถน"})
    assert char_ngrams("", 3) == frozenset()
    with pytest.raises(ValueError):
        char_ngrams("x", 0)


@given(st.text(max_size=40), st.integers(min_value=1, max_value=5))
def test_char_ngrams_lengths_and_count(text: str, n: int) -> None:
    grams = char_ngrams(text, n)
    if len(text) >= n:
        assert all(len(g) == n for g in grams)
        assert len(grams) <= len(text) - n + 1
    assert all(g in text for g in grams)


@given(thai_text, thai_text)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == similarity(b, a)


@given(thai_text)
def test_similarity_is_one_for_identical_normalized_text(a: str) -> None:
    assert similarity(a, a) == 1.0
    assert similarity(a, f"  {a}!! ครับ") == 1.0  # punctuation, spacing, a particle


def test_similarity_ranks_a_paraphrase_above_another_problem() -> None:
    base = "ท่อระบายน้ำอุดตัน น้ำไม่ไหล ส่งกลิ่นเหม็น"
    assert similarity(base, "ท่อระบายน้ำตันค่ะ น้ำไม่ระบายเลย กลิ่นเหม็นมาก") > 0.4
    assert similarity(base, "สายสื่อสารขาดห้อยลงมาถึงพื้น") < 0.1


# --------------------------------------------------------------------------- place, category


@given(lats, lons, lats, lons)
def test_haversine_is_symmetric_and_non_negative(a: float, b: float, c: float, d: float) -> None:
    assert haversine_m(a, b, c, d) == pytest.approx(haversine_m(c, d, a, b), abs=1e-6)
    assert haversine_m(a, b, c, d) >= 0


@given(lats, lons)
def test_haversine_is_zero_on_the_same_point(lat: float, lon: float) -> None:
    assert haversine_m(lat, lon, lat, lon) == 0.0


def test_haversine_known_distances() -> None:
    assert haversine_m(13.0, 100.0, 14.0, 100.0) == pytest.approx(111_195, rel=1e-3)
    # two real Traffy reports of the same soi blockage (2023-DETQAZ, 2023-GADZ4M): ~10 m
    assert haversine_m(13.71280, 100.58216, 13.71289, 100.58220) == pytest.approx(10.9, abs=0.5)


@given(st.floats(min_value=-80, max_value=80), lons, st.floats(min_value=1, max_value=5000))
def test_bounding_box_contains_the_circle(lat: float, lon: float, distance: float) -> None:
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, distance)
    assert haversine_m(lat, lon, max_lat, lon) >= distance
    assert haversine_m(lat, lon, min_lat, lon) >= distance
    assert haversine_m(lat, lon, lat, max_lon) >= distance * 0.999
    assert haversine_m(lat, lon, lat, min_lon) >= distance * 0.999


def test_same_family() -> None:
    assert same_family("road", "footpath")
    assert same_family("street_lighting", "electricity")
    assert not same_family("road", "drainage")
    assert not same_family("road", "no-such-category")
    assert "bridge" in family_members("road") and "drainage" not in family_members("road")
    assert family_members("no-such-category") == frozenset()


def test_open_statuses_exclude_terminal_and_resolved() -> None:
    assert {"received", "accepted", "in_progress", "reopened"} <= open_statuses()
    assert not {"resolved", "closed", "rejected", "merged"} & open_statuses()


# --------------------------------------------------------------------------- rules

POTHOLE = "ถนนชำรุดเป็นหลุมลึก รถสัญจรลำบาก ขอให้ซ่อมแซมด่วน"
REREPORT = "ผู้ร้องแจ้งว่าถนนชำรุดเป็นหลุมบ่อ สัญจรไปมาลำบาก"


def case(case_id: str = "case:1", **kw: Any) -> Candidate:
    fields: dict[str, Any] = {
        "case_id": case_id,
        "category": "road",
        "lat": 13.75183,
        "lon": 100.50766,
        "reported_at": T0,
        "text": POTHOLE,
    }
    return Candidate(**(fields | kw))


def new(**kw: Any) -> Candidate:
    fields: dict[str, Any] = {
        "case_id": "",
        "lat": 13.75230,  # ~52 m north
        "reported_at": T0 + timedelta(days=2),
        "text": REREPORT,
    }
    return case(**(fields | kw))


def test_a_rereport_nearby_joins_the_case() -> None:
    found = best_match(new(), [case()], MatchPolicy())
    assert found is not None and found[0].case_id == "case:1" and found[1] >= 0.2


def test_a_sibling_category_of_the_same_family_still_matches() -> None:
    assert best_match(new(category="footpath"), [case()]) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"category": "drainage"},  # another family
        {"category": "no-such-category"},
        {"lat": 13.7540},  # ~245 m away
        {"reported_at": T0 + timedelta(days=15)},  # too late
        {"reported_at": T0 - timedelta(days=15)},  # too early
        {"text": "สายสื่อสารขาดห้อยลงมาถึงพื้น"},  # another problem
        {"lat": None},  # never guess a place
        {"lon": None},
        {"text": "!!! โทร 0891112222"},  # nothing left to compare
    ],
)
def test_every_condition_must_hold(change: dict[str, Any]) -> None:
    assert best_match(new(**change), [case()]) is None


def test_a_case_without_coordinates_is_skipped() -> None:
    assert best_match(new(), [case(lat=None, lon=None)]) is None


def test_window_is_symmetric_a_forwarded_call_may_predate_the_case() -> None:
    assert best_match(new(reported_at=T0 - timedelta(hours=5)), [case()]) is not None


def test_policy_is_configurable() -> None:
    far = new(lat=13.7540)
    assert best_match(far, [case()], MatchPolicy(max_distance_m=300)) is not None
    late = new(reported_at=T0 + timedelta(days=20))
    assert best_match(late, [case()], MatchPolicy(max_age=timedelta(days=30))) is not None
    assert best_match(new(), [case()], MatchPolicy(min_similarity=0.99)) is None


def test_prefers_highest_similarity_then_nearest_whatever_the_order() -> None:
    weaker = case("case:weak", text="ถนนเป็นหลุม")
    stronger = case("case:strong", text=REREPORT, lat=13.7520)
    same_text_nearer = case("case:nearer", text=REREPORT, lat=13.75225)
    for order in ([weaker, stronger], [stronger, weaker]):
        found = best_match(new(), order)
        assert found is not None and found[0].case_id == "case:strong"
    for order in ([stronger, same_text_nearer], [same_text_nearer, stronger]):
        found = best_match(new(), order)
        assert found is not None and found[0].case_id == "case:nearer"


def test_no_candidates_no_match() -> None:
    assert best_match(new(), []) is None


# --------------------------------------------------------------------------- labelled set


def load_pairs() -> list[dict[str, Any]]:
    with PAIRS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def as_candidate(record: dict[str, Any], case_id: str) -> Candidate:
    return Candidate(
        case_id,
        record["category"],
        record["lat"],
        record["lon"],
        datetime.fromisoformat(record["reported_at"]),
        record["text"],
    )


def test_labelled_set_is_large_enough_and_balanced() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 120
    assert len({p["id"] for p in pairs}) == len(pairs)
    positives = sum(p["label"] for p in pairs)
    assert 40 <= positives <= len(pairs) - 40
    assert {p["kind"] for p in pairs} >= {
        "paraphrase",
        "real_repeat",
        "real_nearby_other_problem",
        "same_place_other_problem",
        "far_away",
        "outside_window",
        "other_family",
    }


def test_labelled_set_bases_are_the_real_traffy_rows() -> None:
    with CSV.open(encoding="utf-8", newline="") as f:
        real = {c["origin"]["ref"]: c for c in map(row_to_complaint, csv.DictReader(f))}
    for pair in load_pairs():
        row = real[pair["base_ticket_id"]]
        base = pair["base"]
        assert base["ticket_id"] == pair["base_ticket_id"]
        assert (base["text"], base["category"]) == (row["description"], row["category"])
        assert (base["lat"], base["lon"]) == (row["location"]["lat"], row["location"]["lon"])
        if pair["variant"]["ticket_id"] is not None:  # a real row on both sides
            other = real[pair["variant"]["ticket_id"]]
            assert pair["variant"]["text"] == other["description"]


def test_matcher_quality_floor_on_the_labelled_set() -> None:
    """Quality floors (not timing): precision ≥ 0.9, recall ≥ 0.8 with the default policy.
    ``bench/matching.py`` prints the exact figures and a sweep."""
    tp = fp = fn = 0
    for pair in load_pairs():
        got = best_match(as_candidate(pair["variant"], "new"), [as_candidate(pair["base"], "b")])
        tp += got is not None and pair["label"]
        fp += got is not None and not pair["label"]
        fn += got is None and pair["label"]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.9, (precision, tp, fp)
    assert recall >= 0.8, (recall, tp, fn)

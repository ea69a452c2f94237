"""The real Traffy sample fits the shared schema: every row maps, validates and finds its tambon."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.traffy_fondue import SAMPLE_CSV
from adapters.traffy_fondue.mapping import (
    parse_pg_array,
    row_to_complaint,
    split_organizations,
    to_rfc3339,
)
from hub.schema import UnmappedValue, area, validate

FIXTURE = SAMPLE_CSV


@cache
def rows() -> tuple[dict[str, str], ...]:
    with FIXTURE.open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def row(ticket: str) -> dict[str, str]:
    return dict(next(r for r in rows() if r["ticket_id"] == ticket))


def test_sample_has_200_rows() -> None:
    assert len(rows()) == 200


def test_every_row_maps_and_validates_with_zero_errors() -> None:
    failures = {r["ticket_id"]: validate("complaint", row_to_complaint(r)) for r in rows()}
    assert {ticket: errs for ticket, errs in failures.items() if errs} == {}


def test_every_row_resolves_to_a_current_bangkok_tambon() -> None:
    unresolved = []
    for r in rows():
        loc = row_to_complaint(r)["location"]
        tambon = area(loc["tambon_code"])
        if tambon is None or tambon.abolished or tambon.level != "tambon":
            unresolved.append(r["ticket_id"])
            continue
        assert tambon.parent == loc["amphoe_code"]
        assert loc["amphoe_code"][:2] == loc["province_code"] == "10"
    assert unresolved == []


def test_first_row_in_full() -> None:
    assert row_to_complaint(row("2023-FCX4QQ")) == {
        "id": "traffy:2023-FCX4QQ",
        "origin": {"agency": "bma", "system": "traffy_fondue", "ref": "2023-FCX4QQ"},
        "channel": "traffy_fondue",
        "category": "general_complaint",
        "subject": "ขอร้องเรียนเรื่องร้านค้าวางสินค้ารุกล้ำที่สาธารณะ",
        "description": "ขอร้องเรียนเรื่องร้านค้าวางสินค้ารุกล้ำที่สาธารณะ",
        "location": {
            "lat": 13.81565,
            "lon": 100.87281,
            "address": "13 ถนน อยู่วิทยา แขวง กระทุ่มราย เขต หนองจอก กรุงเทพมหานคร 10530 ประเทศไทย",
            "province_code": "10",
            "amphoe_code": "1003",
            "tambon_code": "100301",
        },
        "media": [
            {
                "url": "https://storage.googleapis.com/traffy_public_bucket/attachment/2023-05/"
                "7cf3a59ac92075c2ccb1dd6e57b6ca4b2f588d83.jpg",
                "phase": "before",
                "content_type": "image/jpeg",
            }
        ],
        "reported_at": "2023-05-12T13:27:54.482138+00:00",
        "language": "th",
        "extensions": {
            "traffy_fondue": {
                "state": "รอรับเรื่อง",
                "star": None,
                "count_reopen": 0,
                "organization": ["เขตหนองจอก"],
                "type_labels": ["ร้องเรียน"],
            }
        },
    }


def test_empty_type_is_uncategorised_and_first_type_wins() -> None:
    empty = next(r for r in rows() if r["type"] == "{}")
    assert row_to_complaint(empty)["category"] == "uncategorised"
    multi = next(r for r in rows() if r["type"].startswith("{กีดขวาง,"))
    assert row_to_complaint(multi)["category"] == "obstruction"


def test_after_photo_becomes_after_media() -> None:
    finished = next(r for r in rows() if r["photo_after"])
    phases = [m["phase"] for m in row_to_complaint(finished)["media"]]
    assert phases == ["before", "after"]


def test_imported_1555_tickets_keep_their_channel() -> None:
    imported = next(r for r in rows() if r["ticket_id"] == "JGKLY8")
    assert row_to_complaint(imported)["channel"] == "call_1555"


def test_province_spelling_does_not_matter() -> None:
    r = row("2023-FCX4QQ")
    plain = row_to_complaint(r)["location"]
    assert row_to_complaint(r | {"province": "จังหวัดกรุงเทพมหานคร"})["location"] == plain


def test_unknown_type_label_raises() -> None:
    with pytest.raises(UnmappedValue) as raised:
        row_to_complaint(row("2023-FCX4QQ") | {"type": "{ยานอวกาศ}"})
    assert raised.value.value == "ยานอวกาศ"


def test_unknown_subdistrict_raises() -> None:
    with pytest.raises(UnmappedValue):
        row_to_complaint(row("2023-FCX4QQ") | {"subdistrict": "แขวงไม่มีจริง"})


def test_organisations_split_outside_parentheses() -> None:
    trail = (
        "เขตสะพานสูง,การประปานครหลวง กปน. (Metropolitan Waterworks Authority - MWA, HQ),"
        "สำนักงานประปาสาขาสุขุมวิท สสส."
    )
    assert split_organizations(trail) == [
        "เขตสะพานสูง",
        "การประปานครหลวง กปน. (Metropolitan Waterworks Authority - MWA, HQ)",
        "สำนักงานประปาสาขาสุขุมวิท สสส.",
    ]


@pytest.mark.parametrize(
    ("literal", "items"),
    [
        ("{}", []),
        ("{ถนน}", ["ถนน"]),
        ("{กีดขวาง,ถนน}", ["กีดขวาง", "ถนน"]),
        ('{"a,b",c}', ["a,b", "c"]),
    ],
)
def test_parse_pg_array(literal: str, items: list[str]) -> None:
    assert parse_pg_array(literal) == items


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=7))])))
def test_timestamps_keep_their_instant(moment: datetime) -> None:
    traffy_style = moment.isoformat(sep=" ")
    assert datetime.fromisoformat(to_rfc3339(traffy_style)) == moment


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(UnmappedValue):
        to_rfc3339("2023-05-12 13:27:54")

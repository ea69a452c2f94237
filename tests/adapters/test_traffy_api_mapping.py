"""Traffy partner-API records (and the CSV sample) map to valid hub complaints."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from adapters.traffy_fondue import FIXTURES
from adapters.traffy_fondue.adapter import fixtures
from adapters.traffy_fondue.mapping import (
    api_to_complaint,
    bangkok_time,
    row_to_complaint,
    status_of,
    to_hub,
)
from hub.schema import UnmappedValue, validate

API = FIXTURES / "api"


def api(name: str) -> dict:
    return json.loads((API / f"get-issue-v1_{name}.json").read_text(encoding="utf-8"))


ALL = dict(fixtures())


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_fixture_maps_to_a_valid_complaint(name: str) -> None:
    assert validate("complaint", to_hub(ALL[name])) == []


def test_csv_rows_map_exactly_as_row_to_complaint() -> None:
    rows = [native for name, native in ALL.items() if name.startswith("bangkok_sample")]
    assert len(rows) == 200
    assert all(to_hub(r) == row_to_complaint(r) for r in rows)


def test_forward_chain_keeps_its_order_and_names_with_commas() -> None:
    complaint = api_to_complaint(api("forwarded_to_waterworks_org_name_with_comma"))
    ext = complaint["extensions"]["traffy_fondue"]
    assert ext["organization"] == [
        "เขตสะพานสูง",
        "การประปานครหลวง กปน. (Metropolitan Waterworks Authority - MWA, HQ)",
        "สำนักงานประปาสาขาสุขุมวิท สสส.",
    ]
    assert [h["status"] for h in ext["handoffs"]] == ["forwarded", "forwarded", "offered"]
    assert complaint["location"]["tambon_code"] == "104401"  # จังหวัดกรุงเทพมหานคร spelling


def test_bangkok_local_time_is_the_same_instant_as_the_utc_export() -> None:
    complaint = api_to_complaint(api("forwarded_to_waterworks_org_name_with_comma"))
    assert complaint["reported_at"] == "2023-05-12T20:22:10+07:00"
    row = next(r for r in ALL.values() if r.get("ticket_id") == "2023-6ZUY4U" and "coords" in r)
    csv_time = datetime.fromisoformat(row["timestamp"])
    assert abs((datetime.fromisoformat(complaint["reported_at"]) - csv_time).total_seconds()) < 1


def test_time_with_a_zone_keeps_it() -> None:
    assert bangkok_time("2023-05-12T12:26:33+00:00") == "2023-05-12T12:26:33+00:00"
    with pytest.raises(UnmappedValue):
        bangkok_time("yesterday")


def test_finished_ticket_keeps_after_media_star_and_reopen_count() -> None:
    record = api("finished_with_after_video_star_and_reopen")
    complaint = api_to_complaint(record)
    after = [m for m in complaint["media"] if m["phase"] == "after"]
    assert [m.get("content_type") for m in after] == ["image/jpeg", "video/mp4"]
    ext = complaint["extensions"]["traffy_fondue"]
    assert (ext["star"], ext["count_reopen"]) == (4, 1)
    assert status_of(record) == "resolved"
    assert complaint["location"]["lat"] == 13.62609  # sent as a string


def test_1555_ticket_without_year_prefix() -> None:
    complaint = api_to_complaint(api("1555_ticket_without_year_prefix"))
    assert complaint["channel"] == "call_1555"
    assert complaint["category"] == "road"  # "{ถนน}" literal
    assert complaint["subject"] == "ถนนชำรุดเป็นหลุมลึก รถสัญจรลำบาก ขอให้ซ่อมแซมด่วน"
    assert [m["phase"] for m in complaint["media"]] == ["before"]


def test_custom_status_label_falls_back_to_the_central_type_only() -> None:
    record = api("custom_org_status_label_with_central_type")
    assert status_of(record) == "in_progress"
    assert api_to_complaint(record)["category"] == "uncategorised"
    with pytest.raises(UnmappedValue) as raised:
        status_of(record | {"state_type": None})
    assert (raised.value.field, raised.value.value) == ("state", "รอตรวจสอบหน้างาน")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"state_type": "exploded", "state": "?"}, "state_type"),
        ({"type": ["ยานอวกาศ"]}, "category"),
        ({"subdistrict": "แขวงไม่มีจริง"}, "subdistrict"),
        ({"timestamp": "12/05/2023"}, "timestamp"),
    ],
)
def test_unknown_values_raise_unmapped_value(change: dict, field: str) -> None:
    record = api("1555_ticket_without_year_prefix") | change
    with pytest.raises(UnmappedValue) as raised:
        to_hub(record) if field != "state_type" else status_of(record)
    assert raised.value.system == "traffy_fondue"
    assert raised.value.field == field


def test_record_without_area_names_keeps_only_its_point() -> None:
    record = api("1555_ticket_without_year_prefix")
    for key in ("province", "district", "subdistrict", "address"):
        record.pop(key)
    assert to_hub(record)["location"] == {"lat": 13.69179, "lon": 100.61604}

"""Damrongdhama records → complaints: the reference layout, a second layout by data only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from adapters.base import LoopRefused
from adapters.damrongdhama import FIXTURES, HERE, SAMPLE_CSV
from adapters.damrongdhama.mapping import REFERENCE, load_fieldmap, status_of, to_hub
from adapters.damrongdhama.updates import from_hub, message_id, to_native
from hub.schema import UnmappedValue, categories, statuses, validate

SECOND = load_fieldmap(HERE / "fieldmap.provincial_sheet.json")


def sample(path: Path = SAMPLE_CSV) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_reference_row_maps_to_a_valid_complaint() -> None:
    for row in sample():
        assert validate("complaint", to_hub(row)) == []


def test_buddhist_leap_day_is_read_as_the_christian_leap_day() -> None:
    row = sample()[2]  # 29/02/2567 08:30:45 (2567 is not a leap year read as a CE year)
    assert to_hub(row)["reported_at"] == "2024-02-29T08:30:45+07:00"


@pytest.mark.parametrize(
    ("index", "centre", "level"),
    [(0, "dc-50", "province"), (1, "dc-5001", "amphoe"), (3, "dc-500203", "tambon")],
)
def test_the_centre_level_names_the_origin_agency(index: int, centre: str, level: str) -> None:
    complaint = to_hub(sample()[index])
    assert complaint["origin"] == {
        "agency": centre,
        "system": "damrongdhama",
        "ref": sample()[index]["เลขที่เรื่อง"],
    }
    assert complaint["extensions"]["damrongdhama"]["level"] == level


def test_personal_data_lives_only_under_reporter_contact() -> None:
    row = sample()[0]
    complaint = to_hub(row)
    assert complaint["reporter"] == {
        "anonymous": False,
        "contact": {
            "name": "นางสาวทดสอบ ตัวอย่าง",
            "phone": "081-234-5678",
            "national_id": "1509900000114",
        },
    }
    rest = json.dumps({k: v for k, v in complaint.items() if k != "reporter"}, ensure_ascii=False)
    for secret in ("1509900000114", "081-234-5678", "นางสาวทดสอบ"):
        assert secret not in rest


def test_an_anonymous_row_keeps_no_contact_and_says_so() -> None:
    complaint = to_hub(sample()[2])
    assert complaint["reporter"] == {"anonymous": True}
    assert complaint["extensions"]["damrongdhama"]["forwarded_to"] == [
        "เทศบาลนครเชียงใหม่",
        "แขวงทางหลวงเชียงใหม่ที่ 1",
    ]


def test_a_bad_citizen_id_is_refused_without_echoing_it() -> None:
    row = sample()[0] | {"เลขบัตรประชาชน": "1509900000115"}  # check digit off by one
    with pytest.raises(UnmappedValue) as refused:
        to_hub(row)
    assert "1509900000115" not in str(refused.value) and refused.value.field == "national_id"


@pytest.mark.parametrize(
    ("column", "value"),
    [("สถานะ", "รอเทวดาอนุมัติ"), ("ประเภทเรื่อง", "ยานอวกาศ"), ("ระดับศูนย์", "หมู่บ้าน")],
)
def test_an_unknown_label_raises(column: str, value: str) -> None:
    with pytest.raises(UnmappedValue, match=value):
        to_hub(sample()[1] | {column: value})


def test_a_tambon_centre_row_without_a_tambon_is_refused() -> None:
    with pytest.raises(UnmappedValue, match="tambon"):
        to_hub(sample()[1] | {"ระดับศูนย์": "ตำบล"})


@pytest.mark.parametrize("fmap", [REFERENCE, SECOND], ids=lambda f: f.layout)
def test_tables_are_total_over_hub_codes(fmap) -> None:
    assert set(fmap.tables["category"].values()) <= set(categories())
    assert set(fmap.tables["status"].values()) <= set(statuses())
    assert set(fmap.tables["event"].values()) <= set(fmap.tables["status"])
    for code, label in fmap.tables["status_to_native"].items():
        assert fmap.tables["status"][label] == code


def test_a_second_layout_plugs_in_with_data_only() -> None:
    reference, other = sample()[0], sample(FIXTURES / "provincial_sheet_chiangmai.csv")[0]
    a, b = to_hub(reference), to_hub(other, SECOND)
    assert validate("complaint", b) == []
    for key in ("category", "location", "reporter", "reported_at", "channel"):
        assert a[key] == b[key], key
    assert b["origin"]["agency"] == "dc-50" and b["id"].startswith("damrongdhama:x-")
    assert b["extensions"]["damrongdhama"]["forwarded_to"] == ["พมจ.เชียงใหม่", "รพ.นครพิงค์"]
    assert status_of(other, SECOND) == "in_progress"
    back = to_hub(to_native(b, "resolved", SECOND), SECOND)
    assert back["location"] == b["location"] and back["reported_at"] == b["reported_at"]


def test_case_events_become_status_updates_with_the_note() -> None:
    event = {
        "type": "case.resolve",
        "id": "m1",
        "issuer": "dc-50",
        "body": {"summary": "ไกล่เกลี่ยแล้ว"},
    }
    assert from_hub(event, "DC50-2567-00017") == {
        "op": "update",
        "ref": "DC50-2567-00017",
        "payload": {"สถานะ": "ยุติเรื่อง", "ผลการดำเนินการ": "ไกล่เกลี่ยแล้ว"},
    }


def test_a_complaint_from_elsewhere_becomes_a_create_marked_with_the_hub_id() -> None:
    complaint = to_hub(sample()[1]) | {
        "origin": {"agency": "opm1111", "system": "ops1111", "ref": "1"}
    }
    call = from_hub({"type": "complaint.submit", "id": "x", "body": complaint}, "")
    assert call["op"] == "create"
    assert call["payload"]["เลขที่อ้างอิงศูนย์กลาง"] == f"hub/{complaint['id']}"
    assert "เลขที่เรื่อง" not in call["payload"]


def test_our_own_messages_are_never_sent_back() -> None:
    row = sample()[1]
    with pytest.raises(LoopRefused):
        from_hub({"type": "case.status", "id": message_id(row), "body": {}}, "r")
    with pytest.raises(LoopRefused):
        from_hub({"type": "complaint.submit", "id": "other", "body": to_hub(row)}, "r")

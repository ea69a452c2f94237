"""hub.schema: every error comes back at once, each at the exact member it concerns."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import SchemaInvalid
from hub.schema import check, message_types, pointer, schema_for_message, schema_kinds, validate
from hub.vocab import schemas_dir

SHA = "a" * 64
CASE = "case:01HZX3K4Q9"


def complaint() -> dict[str, Any]:
    """A complete, valid complaint using every optional member once."""
    return {
        "id": "traffy:2023-FCX4QQ",
        "origin": {"agency": "bma", "system": "traffy_fondue", "ref": "2023-FCX4QQ"},
        "channel": "traffy_fondue",
        "category": "road",
        "subject": "ถนนชำรุดเป็นหลุมลึก",
        "description": "ถนนชำรุดเป็นหลุมลึก รถสัญจรลำบาก",
        "location": {
            "lat": 13.81565,
            "lon": 100.87281,
            "address": "13 ถนน อยู่วิทยา แขวง กระทุ่มราย เขต หนองจอก กรุงเทพมหานคร 10530",
            "province_code": "10",
            "amphoe_code": "1003",
            "tambon_code": "100301",
        },
        "media": [{"url": "https://example.org/a.jpg", "sha256": SHA, "phase": "before"}],
        "reporter": {
            "anonymous": False,
            "contact": {
                "name": "สมชาย ทดสอบ",
                "phone": "081-234-5678",
                "email": "somchai.test@example.com",
                "national_id": "1234567890123",
                "line_id": "somchai",
            },
        },
        "reported_at": "2023-05-12T20:27:54+07:00",
        "priority": "high",
        "language": "th",
        "extensions": {"traffy_fondue": {"state": "รอรับเรื่อง", "anything": [1, {"x": None}]}},
    }


def pointers(kind: str, instance: object) -> list[str]:
    return [e.pointer for e in validate(kind, instance)]


def test_valid_complaint_has_no_errors() -> None:
    assert validate("complaint", complaint()) == []
    assert validate("complaint.submit", complaint()) == []


def test_minimal_complaint_is_valid() -> None:
    c = complaint()
    for optional in ("subject", "location", "media", "reporter", "priority", "language"):
        del c[optional]
    del c["extensions"]
    assert validate("complaint", c) == []


def test_missing_nested_member_points_at_the_member() -> None:
    c = complaint()
    del c["origin"]["ref"]
    [error] = validate("complaint", c)
    assert error.pointer == "/origin/ref"
    assert "ref" in error.message


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: abs(x) > 90))
def test_latitude_out_of_range_is_rejected(lat: float) -> None:
    c = complaint()
    c["location"]["lat"] = lat
    assert pointers("complaint", c) == ["/location/lat"]


@given(st.floats(min_value=-90, max_value=90), st.floats(min_value=-180, max_value=180))
def test_any_wgs84_point_is_accepted(lat: float, lon: float) -> None:
    c = complaint()
    c["location"] |= {"lat": lat, "lon": lon}
    assert validate("complaint", c) == []


def test_lat_without_lon_is_rejected() -> None:
    c = complaint()
    del c["location"]["lon"]
    assert pointers("complaint", c) == ["/location/lon"]


def test_unknown_top_level_field_is_rejected_at_its_own_pointer() -> None:
    c = complaint() | {"colour": "red"}
    [error] = validate("complaint", c)
    assert error.pointer == "/colour"
    assert "colour" in error.message


def test_unknown_nested_fields_are_rejected_but_extensions_are_free() -> None:
    c = complaint()
    c["origin"]["extra"] = 1
    c["reporter"]["contact"]["fax"] = "02"
    c["extensions"]["traffy_fondue"]["new_field"] = {"deep": True}
    assert pointers("complaint", c) == ["/origin/extra", "/reporter/contact/fax"]


def test_extension_namespace_must_be_snake_case_and_pointer_is_escaped() -> None:
    c = complaint()
    c["extensions"]["a/b~c"] = {}
    assert pointers("complaint", c) == ["/extensions/a~1b~0c"]


@pytest.mark.parametrize(
    "value",
    ["2023-05-12T13:27:54", "2023-05-12 13:27:54+00:00", "2023-05-12", "2023-02-30T00:00:00Z"],
)
def test_date_time_needs_rfc3339_with_zone(value: str) -> None:
    c = complaint() | {"reported_at": value}
    [error] = validate("complaint", c)
    assert error.pointer == "/reported_at"
    assert "timezone" in error.message


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=7))]),
    )
)
def test_any_aware_datetime_is_accepted(moment: datetime) -> None:
    assert validate("complaint", complaint() | {"reported_at": moment.isoformat()}) == []


@given(st.datetimes(min_value=datetime(1900, 1, 1)))
def test_any_naive_datetime_is_rejected(moment: datetime) -> None:
    assert pointers("complaint", complaint() | {"reported_at": moment.isoformat()}) == [
        "/reported_at"
    ]


def test_bad_media_sha256() -> None:
    c = complaint()
    c["media"][0]["sha256"] = "A" * 64
    assert pointers("complaint", c) == ["/media/0/sha256"]


def test_unknown_category_code() -> None:
    assert pointers("complaint", complaint() | {"category": "roads"}) == ["/category"]


def test_several_errors_come_back_together_sorted() -> None:
    c = complaint() | {"category": "nope", "zzz": 1, "reported_at": "yesterday"}
    del c["origin"]["ref"]
    c["location"]["lat"] = 100
    c["media"][0]["sha256"] = "0"
    assert pointers("complaint", c) == [
        "/category",
        "/location/lat",
        "/media/0/sha256",
        "/origin/ref",
        "/reported_at",
        "/zzz",
    ]


def test_thai_values_stay_readable_in_messages() -> None:
    [error] = validate("complaint", complaint() | {"category": "ถนนพัง"})
    assert "ถนนพัง" in error.message
    assert "\\u" not in error.message
    assert "ถนนพัง" in json.dumps(error.as_dict(), ensure_ascii=False)
    assert error.message.encode("utf-8").decode("utf-8") == error.message


def test_personal_values_are_not_echoed() -> None:
    c = complaint()
    c["reporter"]["contact"]["phone"] = "โทร 0891112222 นะ"
    [error] = validate("complaint", c)
    assert error.pointer == "/reporter/contact/phone"
    assert "0891112222" not in error.message


def test_check_raises_schema_invalid_with_every_error() -> None:
    c = complaint() | {"zzz": 1}
    del c["id"]
    with pytest.raises(SchemaInvalid) as raised:
        check("complaint", c)
    assert raised.value.status == 422
    assert [e.pointer for e in raised.value.errors] == ["/id", "/zzz"]
    check("complaint", complaint())  # valid: returns quietly


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        validate("complaint.explode", {})


def test_non_object_instance() -> None:
    [error] = validate("complaint", ["not", "an", "object"])
    assert error.pointer == ""
    assert "object" in error.message


@given(st.lists(st.one_of(st.text(), st.integers(min_value=0))))
def test_pointer_round_trips(parts: list[str | int]) -> None:
    encoded = pointer(parts)
    decoded = [p.replace("~1", "/").replace("~0", "~") for p in encoded.split("/")[1:]]
    assert decoded == [str(p) for p in parts]


ENVELOPE = {
    "type": "case.accept",
    "id": "msg-2023.05.12:0001",
    "issued_at": "2023-05-12T13:27:54Z",
    "issuer": "bma",
    "audience": "hub",
    "body": {"case_id": CASE},
}
RECEIPT = {
    "message_id": "msg-1",
    "issuer": "bma",
    "payload_sha256": SHA,
    "jws_sha256": SHA,
    "leaf_hash": None,
    "case_id": None,
    "log_index": None,
    "received_at": "2023-05-12T13:27:54Z",
}
HANDOFF = {
    "from": "hub",
    "to": "bma",
    "kind": "offer",
    "state": "offered",
    "created_at": "2023-05-12T13:27:54Z",
    "decided_at": None,
}


@pytest.mark.parametrize(
    ("kind", "valid", "change", "bad_pointer"),
    [
        ("envelope", ENVELOPE, {"type": "Case.Accept"}, "/type"),
        ("envelope", ENVELOPE, {"type": "accept"}, "/type"),
        ("envelope", ENVELOPE, {"id": "a b"}, "/id"),
        ("envelope", ENVELOPE, {"issuer": "B"}, "/issuer"),
        ("envelope", ENVELOPE, {"body": []}, "/body"),
        ("receipt", RECEIPT, {"log_index": -1}, "/log_index"),
        ("receipt", RECEIPT, {"case_id": "no prefix"}, "/case_id"),
        ("receipt", RECEIPT | {"case_id": CASE, "log_index": 7}, {"payload_sha256": "x"}, None),
        ("handoff", HANDOFF, {"state": "accepted"}, "/decided_at"),
        ("handoff", HANDOFF, {"kind": "steal"}, "/kind"),
    ],
)
def test_other_schemas(
    kind: str, valid: dict[str, Any], change: dict[str, Any], bad_pointer: str | None
) -> None:
    assert validate(kind, valid) == []
    errors = validate(kind, valid | change)
    assert [e.pointer for e in errors] == [bad_pointer or "/payload_sha256"]


def test_accepted_handoff_with_decision_time_is_valid() -> None:
    decided = HANDOFF | {"state": "accepted", "decided_at": "2023-05-13T08:00:00+07:00"}
    assert validate("handoff", decided) == []


AFTER = {"url": "https://example.org/after.jpg", "phase": "after"}
# message type -> (a valid body, a broken copy, the pointers the broken copy must produce)
MESSAGES: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "complaint.submit": (complaint(), {"id": "no-prefix"}, ["/id"]),
    "case.accept": ({"case_id": CASE}, {"case_id": 5}, ["/case_id"]),
    "case.decline": ({"case_id": CASE, "reason": "ไม่ใช่พื้นที่"}, {"reason": ""}, ["/reason"]),
    "case.forward": ({"case_id": CASE, "to": "mwa", "reason": "ท่อประปา"}, {"to": "MWA"}, ["/to"]),
    "case.assist": ({"case_id": CASE, "to": "mea", "task": "ตัดไฟ"}, {"task": None}, ["/task"]),
    "case.status": ({"case_id": CASE, "note": "กำลังซ่อม", "media": [AFTER]}, {"x": 1}, ["/x"]),
    "case.resolve": (
        {"case_id": CASE, "outcome": "fixed", "summary": "ซ่อมแล้ว", "media": [AFTER]},
        {"outcome": "duplicate"},
        ["/duplicate_of"],
    ),
    "case.reopen": ({"case_id": CASE, "reason": "ยังไม่ซ่อม"}, {"reason": 1}, ["/reason"]),
    "case.merge": ({"case_id": CASE, "into": "case:OTHER"}, {"into": "x"}, ["/into"]),
    "case.unmerge": ({"case_id": CASE}, {"into": CASE}, ["/into"]),
    "case.escalate": ({"case_id": CASE, "reason": "เกินกำหนด"}, {"to": "-"}, ["/to"]),
    "hub.forward": (
        {"original": "eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2ln", "case_id": CASE},
        {"original": "not a jws"},
        ["/original"],
    ),
    "delivery.ack": (
        {"message_id": "m-1", "payload_sha256": SHA, "received_at": "2023-05-12T13:27:54Z"},
        {"received_at": "2023-05-12T13:27:54"},
        ["/received_at"],
    ),
}


def test_examples_cover_every_message_type() -> None:
    assert set(MESSAGES) == message_types()


@pytest.mark.parametrize("message_type", sorted(MESSAGES))
def test_message_type_valid_and_invalid(message_type: str) -> None:
    valid, change, expected = MESSAGES[message_type]
    assert validate(message_type, valid) == []
    assert pointers(message_type, valid | change) == expected


def test_resolve_media_must_be_after_photos_and_missing_fields_reported() -> None:
    body = {"case_id": CASE, "media": [AFTER | {"phase": "before"}]}
    assert pointers("case.resolve", body) == ["/media/0/phase", "/outcome", "/summary"]


def test_case_event_root_accepts_any_event_and_reports_the_closest() -> None:
    assert validate("case-event", {"case_id": CASE, "into": "case:X"}) == []
    assert pointers("case-event", {"case_id": CASE, "outcome": "fixed"}) == ["/summary"]


def test_schema_for_message_and_kinds() -> None:
    assert schema_for_message("complaint.submit") == "complaint.json"
    assert schema_for_message("case.accept") == "case-event.json#/$defs/accept"
    assert schema_for_message("case.explode") is None
    assert {"complaint", "envelope", "receipt", "case-event", "handoff"} <= schema_kinds()


def test_schemas_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    default = schemas_dir()
    assert (default / "complaint.json").is_file()
    monkeypatch.setenv("HUB_SCHEMAS_DIR", str(tmp_path))
    assert schemas_dir() == tmp_path


def test_validation_does_not_mutate_input() -> None:
    c = complaint() | {"zzz": 1}
    before = copy.deepcopy(c)
    validate("complaint", c)
    assert c == before

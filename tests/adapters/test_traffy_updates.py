"""Hub case events → Traffy partner-API payloads, and Traffy's no-loop rule."""

from __future__ import annotations

import pytest

from adapters.base import LoopRefused
from adapters.traffy_fondue.updates import came_from_traffy, created_by_hub, from_hub, message_id
from hub.schema import UnmappedValue, validate
from tests.support.envelopes import traffy_complaint

CASE = "case:01HZX3K4Q9"
ORGS = {"mwa": 2002}


def event(type: str, body: dict, id: str = "bma-0001") -> dict:
    assert validate(type, body) == [], "the test event itself must be valid"
    return {"type": type, "id": id, "issuer": "bma", "body": body}


@pytest.mark.parametrize(
    ("type", "body", "state", "note"),
    [
        ("case.accept", {"case_id": CASE}, "รับเรื่อง", "รับเรื่องผ่านศูนย์กลางรับเรื่องร้องเรียน"),
        ("case.accept", {"case_id": CASE, "note": "รับแล้ว"}, "รับเรื่อง", "รับแล้ว"),
        ("case.status", {"case_id": CASE, "note": "กำลังซ่อม"}, "กำลังดำเนินการ", "กำลังซ่อม"),
        ("case.decline", {"case_id": CASE, "reason": "ไม่ใช่พื้นที่"}, "ปฏิเสธ", "ไม่ใช่พื้นที่"),
        ("case.reopen", {"case_id": CASE, "reason": "ยังไม่เสร็จ"}, "กำลังดำเนินการ", "ยังไม่เสร็จ"),
        ("case.escalate", {"case_id": CASE, "reason": "เกินกำหนด"}, "ติดตามเรื่อง", "เกินกำหนด"),
        (
            "case.forward",
            {"case_id": CASE, "to": "opm1111", "reason": "นอกอำนาจ"},
            "ส่งต่อ",
            "นอกอำนาจ",
        ),
        (
            "case.assist",
            {"case_id": CASE, "to": "opm1111", "task": "ช่วยตรวจ"},
            "กำลังประสานงาน",
            "ช่วยตรวจ",
        ),
        (
            "case.resolve",
            {"case_id": CASE, "outcome": "duplicate", "summary": "ซ้ำ", "duplicate_of": "case:X1"},
            "ไม่เกี่ยวข้อง / ยกเลิก",
            "ซ้ำ",
        ),
    ],
)
def test_case_events_become_update_issue_with_state_and_note(type, body, state, note) -> None:
    update = from_hub(event(type, body), "2023-FCX4QQ", org_ids=ORGS)
    assert update == {
        "op": "update-issue/v1",
        "payload": {"ticket_id": "2023-FCX4QQ", "state_name": state, "note": note},
    }


def test_resolve_sends_after_photos_with_their_note() -> None:
    body = {
        "case_id": CASE,
        "outcome": "fixed",
        "summary": "ซ่อมเสร็จแล้ว",
        "media": [{"url": "https://example.org/after.jpg", "phase": "after"}],
    }
    payload = from_hub(event("case.resolve", body), "2023-FCX4QQ")["payload"]
    assert payload["state_name"] == "เสร็จสิ้น"
    assert payload["photo_after"] == [
        {"url": "https://example.org/after.jpg", "note": "ซ่อมเสร็จแล้ว"}
    ]


@pytest.mark.parametrize(
    ("type", "key", "scenario"), [("case.assist", "task", 1), ("case.forward", "reason", 2)]
)
def test_assist_and_forward_to_a_traffy_org_use_join_forward(type, key, scenario) -> None:
    body = {"case_id": CASE, "to": "mwa", key: "ท่อแตก"}
    assert from_hub(event(type, body), "2023-6ZUY4U", org_ids=ORGS) == {
        "op": "join-forward/v1",
        "payload": {
            "ticket_id": "2023-6ZUY4U",
            "destination_group": [2002],
            "scenario": scenario,
            "note": "ท่อแตก",
            "recursive_counter": 1,
        },
    }


def test_complaint_from_another_system_becomes_new_issue() -> None:
    complaint = traffy_complaint(0) | {
        "id": "ops1111:6601",
        "origin": {"agency": "opm1111", "system": "ops1111", "ref": "6601"},
    }
    complaint.pop("extensions")
    update = from_hub({"type": "complaint.submit", "id": "opm-1", "body": complaint}, "")
    payload = update["payload"]
    assert update["op"] == "new-issue/v1"
    assert payload["client_ticket_id"] == "hub/ops1111:6601"
    assert payload["client_timestamp"] == "2023-05-12 20:27:54.482138"  # Bangkok local, no zone
    assert (payload["latitude"], payload["longitude"]) == (13.81565, 100.87281)
    assert payload["category_name_th"] == "ร้องเรียน"
    assert created_by_hub({"client_ticket_id": payload["client_ticket_id"]})


def test_no_loop_a_message_made_from_a_traffy_record_is_never_sent_back() -> None:
    row = {"ticket_id": "2023-FCX4QQ"}
    own = event("case.status", {"case_id": CASE, "note": "x"}, id=message_id(row))
    assert came_from_traffy(own)
    with pytest.raises(LoopRefused):
        from_hub(own, "2023-FCX4QQ")


def test_no_loop_a_traffy_complaint_is_never_created_again_in_traffy() -> None:
    submitted = {"type": "complaint.submit", "id": "bma-77", "body": traffy_complaint(0)}
    with pytest.raises(LoopRefused):
        from_hub(submitted, "2023-FCX4QQ")


def test_unknown_event_type_raises() -> None:
    with pytest.raises(UnmappedValue):
        from_hub({"type": "case.teleport", "id": "x", "body": {"case_id": CASE}}, "T")

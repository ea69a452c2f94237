"""``GET /v1/index/cases/{case_id}``: an item and its timeline, for those who may see it."""

from __future__ import annotations

from tests.index.world import CHIANG_MAI, complaint, get, ok_json, submit
from tests.support.tokens import expect_problem


def test_the_drill_down_is_the_item_plus_who_did_what_when(client, cast, clock):
    case_id = submit(cast["traffy"], complaint("D-1", text="ทางม้าลายสีจางจนมองไม่เห็น"))
    clock.advance(hours=2)
    cast["bma"].client.send("case.accept", {"case_id": case_id, "note": "รับเรื่องแล้ว"})
    body = ok_json(get(client, cast["ombudsman"], f"/v1/index/cases/{case_id}"))
    listed = ok_json(get(client, cast["ombudsman"], "/v1/index/complaints"))["items"]
    assert {k: v for k, v in body.items() if k != "timeline"} == listed[0]
    assert [(e["type"], e["actor"], e["status_to"], e["owner"]) for e in body["timeline"]] == [
        ("complaint.submit", "traffy", "received", None),
        ("hub.forward", "hub", "offered", "bma"),
        ("case.accept", "bma", "accepted", "bma"),
    ]
    assert body["timeline"][-1]["at"] == clock().isoformat().replace("+00:00", "Z")
    assert body["timeline"][-1]["status_from"] == "offered"
    assert "รับเรื่องแล้ว" not in str(body)  # message text stays with the case's agencies


def test_agencies_drill_only_into_their_own_cases(client, cast):
    bangkok = submit(cast["traffy"], complaint("D-2", text="ฝาท่อหาย"))
    chiang_mai = submit(
        cast["traffy"], complaint("D-3", text="ฝาท่อหาย", area=CHIANG_MAI, lat=18.8, lon=99.0)
    )
    assert ok_json(get(client, cast["bma"], f"/v1/index/cases/{bangkok}"))["case_id"] == bangkok
    assert ok_json(get(client, cast["root"], f"/v1/index/cases/{chiang_mai}"))["owner"] == "cmcity"
    expect_problem(get(client, cast["bma"], f"/v1/index/cases/{chiang_mai}"), 404, "not-found")
    expect_problem(get(client, cast["mea"], f"/v1/index/cases/{bangkok}"), 404, "not-found")
    expect_problem(get(client, cast["ombudsman"], "/v1/index/cases/case:nope"), 404, "not-found")
    too_long = get(client, cast["ombudsman"], "/v1/index/cases/" + "x" * 65)
    assert "/path/case_id" in [e["pointer"] for e in expect_problem(too_long, 400)["errors"]]

"""1111 case → hub complaint, hub event → CoreService call: pure, over the fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.base import LoopRefused
from adapters.ops1111.adapter import fixtures, raw_cases
from adapters.ops1111.codelists import snapshot, with_area_names
from adapters.ops1111.mapping import TABLES, mask, parse_time, redact, status_of, to_hub
from adapters.ops1111.updates import add_case, from_hub, to_native
from hub.schema import UnmappedValue, validate

PLANTED = "1529900876543"


def case(fragment: str) -> dict[str, Any]:
    return next(dict(c) for name, c in fixtures() if fragment in name)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON value with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}/{i}")
    elif isinstance(value, str):
        yield path, value


@pytest.mark.parametrize("name", [name for name, _ in fixtures()])
def test_every_fixture_maps_to_a_valid_complaint(name: str) -> None:
    complaint = to_hub(case(name))
    assert validate("complaint", complaint) == []
    assert complaint["id"] == "ops1111:" + complaint["origin"]["ref"]
    assert complaint["origin"] | {} == {
        "agency": "opm1111",
        "system": "ops1111",
        "ref": complaint["origin"]["ref"],
    }


def test_hotline_case_maps_contact_location_and_handoffs() -> None:
    complaint = to_hub(case("hotline_road_bangkok"))
    assert (complaint["channel"], complaint["category"]) == ("hotline_1111", "road")
    assert complaint["reported_at"] == "2024-11-03T09:15:22+07:00"
    assert complaint["location"] == {
        "province_code": "10",
        "amphoe_code": "1004",
        "tambon_code": "100402",
    }
    assert complaint["reporter"] == {
        "anonymous": False,
        "contact": {"name": "สมชาย ทดสอบดี", "phone": "0812345678", "national_id": "1100800123456"},
    }
    handoffs = complaint["extensions"]["ops1111"]["handoffs"]
    assert [(h["agency"], h["closed_at"] is None) for h in handoffs] == [
        ("opm1111", False),
        ("bma", True),
    ]
    assert handoffs[1]["letters"] == [{"letter_no": "นร 0105.4/12345", "letter_date": "2024-11-03"}]


def test_buddhist_era_and_dotnet_times_become_rfc3339() -> None:
    assert to_hub(case("buddhist_era"))["reported_at"] == "2024-10-28T14:05:00+07:00"
    khon_kaen = to_hub(case("dotnet_dates"))
    assert khon_kaen["reported_at"] == "2024-10-27T08:40:00+07:00"
    assert parse_time("2567-02-29 10:00:00").isoformat() == "2024-02-29T10:00:00+07:00"
    with pytest.raises(UnmappedValue):
        parse_time("03/11/2567")


def test_a_case_without_contact_or_area_is_anonymous_and_has_no_location() -> None:
    complaint = to_hub(case("anonymous_corruption"))
    assert complaint["reporter"] == {"anonymous": True}
    assert "location" not in complaint
    assert complaint["extensions"]["ops1111"]["handoffs"][0]["secrecy"] == "secret"


def test_unknown_code_list_values_raise() -> None:
    for field in ("type_id", "channel_id"):
        with pytest.raises(UnmappedValue):
            to_hub(case("hotline_road") | {field: 999})
    with pytest.raises(UnmappedValue):
        status_of(case("hotline_road") | {"status_id": 999})
    with pytest.raises(UnmappedValue):
        to_hub(case("hotline_road") | {"operatings": [{"terminal_org_id": 4242}]})
    with pytest.raises(UnmappedValue):
        with_area_names(case("hotline_road") | {"subdistrict_id": 380101}, snapshot())


def test_area_ids_without_joined_names_are_not_guessed() -> None:
    raw = next(c for name, c in raw_cases() if "hotline_road" in name)
    with pytest.raises(UnmappedValue, match="ListOfValues"):
        to_hub(raw)


# -- personal data -------------------------------------------------------------------------


def test_a_planted_citizen_id_appears_only_under_reporter_contact() -> None:
    planted = case("hotline_road") | {
        "contact_citizen_id": PLANTED,
        "detail": f"ผู้แจ้งเลขบัตร {PLANTED} และ {PLANTED[:1]}-{PLANTED[1:5]}-{PLANTED[5:10]}-"
        f"{PLANTED[10:12]}-{PLANTED[12]} โปรดติดต่อกลับ",
    }
    complaint = to_hub(planted)
    digits = "".join
    found = [p for p, s in strings(complaint) if PLANTED in digits(c for c in s if c.isdigit())]
    assert found == ["/reporter/contact/national_id"]
    assert PLANTED not in json.dumps(complaint["extensions"], ensure_ascii=False)


def test_the_dashed_id_typed_in_the_detail_is_masked_in_subject_and_description() -> None:
    complaint = to_hub(case("citizen_id_typed_in_detail"))
    assert complaint["reporter"]["contact"]["national_id"] == "3101234567891"
    assert "3-1012-34567-89-1" not in complaint["description"]
    assert "**********891" in complaint["description"]


def test_a_malformed_citizen_id_is_refused_without_echoing_it() -> None:
    with pytest.raises(UnmappedValue) as raised:
        to_hub(case("hotline_road") | {"contact_citizen_id": "11008001234"})
    assert "11008001234" not in str(raised.value)
    assert mask("11008001234") in str(raised.value)


def test_redact_masks_id_shaped_numbers_only() -> None:
    assert redact("โทร 081-234-5678 บัตร 1100800123456") == "โทร 081-234-5678 บัตร **********456"
    assert redact("เลข 12345678901234") == "เลข 12345678901234"  # 14 digits: not an id


# -- hub → 1111 ----------------------------------------------------------------------------


def event(kind: str, body: dict[str, Any], issuer: str = "bma") -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"{issuer}-1",
        "issuer": issuer,
        "body": {"case_id": "case:1"} | body,
    }


def test_a_progress_note_is_an_operating_by_the_issuer() -> None:
    update = from_hub(event("case.status", {"note": "กำลังซ่อม"}), "6711-000123")
    assert update["op"] == "AddOperating" and update["case_code"] == "6711-000123"
    assert update["payload"] | {} == {
        "terminal_org_id": 101,
        "terminal_owner_id": None,
        "severity_id": 2,
        "secret_id": 1,
        "detail": "กำลังซ่อม",
        "date_opened": None,
        "date_closed": None,
    }


def test_a_forward_is_an_operating_by_the_destination_and_an_unknown_one_goes_via_the_hub() -> None:
    to_mwa = from_hub(event("case.forward", {"to": "mwa", "reason": "ท่อแตก"}), "X")
    assert to_mwa["payload"]["terminal_org_id"] == 102
    elsewhere = event("case.status", {"note": "ตรวจแล้ว"}, issuer="moi-damrongdhama")
    elsewhere["issued_at"] = "2024-11-04T08:00:00Z"
    payload = from_hub(elsewhere, "X")["payload"]
    assert payload["terminal_org_id"] == 900
    assert payload["detail"] == "[moi-damrongdhama] ตรวจแล้ว"
    assert payload["date_opened"] == "2024-11-04 15:00:00"


@pytest.mark.parametrize(
    ("outcome", "status"), [("fixed", 8), ("out_of_jurisdiction", 10), ("duplicate", 11)]
)
def test_a_resolution_is_the_org_summary_result(outcome: str, status: int) -> None:
    update = from_hub(event("case.resolve", {"outcome": outcome, "summary": "ซ่อมแล้ว"}), "X")
    assert update == {
        "op": "SetOrgSummaryResult",
        "case_code": "X",
        "payload": {"status_id": status, "result": "ซ่อมแล้ว"},
    }


def test_events_without_their_text_or_unknown_events_raise() -> None:
    with pytest.raises(UnmappedValue):
        from_hub(event("case.status", {}), "X")
    with pytest.raises(UnmappedValue):
        from_hub(event("case.teleport", {"note": "x"}), "X")


def test_a_complaint_from_elsewhere_is_an_add_case_marked_as_ours() -> None:
    traffy = {
        "id": "traffy:2023-FCX4QQ",
        "origin": {"agency": "bma", "system": "traffy_fondue", "ref": "2023-FCX4QQ"},
        "channel": "traffy_fondue",
        "category": "bridge",
        "description": "สะพานลอยชำรุด",
        "reported_at": "2023-05-12T13:27:54Z",
        "location": {"province_code": "10", "amphoe_code": "1004", "tambon_code": "100402"},
        "reporter": {"anonymous": False, "contact": {"name": "ก ข", "national_id": PLANTED}},
    }
    update = from_hub({"type": "complaint.submit", "id": "m", "body": traffy}, "")
    assert update["op"] == "AddCase" and update["area_code"] == "100402"
    assert update["payload"]["case_code"] == "HUB-traffy:2023-FCX4QQ"
    assert update["payload"]["created_date"] == "2023-05-12 20:27:54"
    assert (update["payload"]["type_id"], update["payload"]["channel_id"]) == (1, 12)
    assert update["payload"]["contact_citizen_id"] == PLANTED


def test_messages_that_came_from_1111_are_never_sent_back() -> None:
    own = to_hub(case("hotline_road"))
    with pytest.raises(LoopRefused):
        from_hub({"type": "complaint.submit", "id": "elsewhere-1", "body": own}, "X")
    with pytest.raises(LoopRefused):
        from_hub({"type": "case.status", "id": "ops1111-case-X", "body": {"note": "n"}}, "X")


# -- tables --------------------------------------------------------------------------------


def test_the_way_back_is_total_over_the_hub_vocabularies_and_consistent() -> None:
    from hub.schema import categories, channels, outcomes, statuses

    assert set(TABLES["category_to_1111"]) == set(categories())
    assert set(TABLES["channel_to_1111"]) == set(channels())
    assert set(TABLES["status_to_1111"]) == set(statuses())
    assert set(TABLES["outcome_to_1111"]) == set(outcomes())
    for category in set(TABLES["case_type"].values()):
        assert TABLES["case_type"][TABLES["category_to_1111"][category]] == category
    for status, status_id in TABLES["status_to_1111"].items():
        assert TABLES["status"][status_id] == status


def test_every_code_the_fixture_lists_offer_is_mapped_and_every_area_resolves() -> None:
    lists = snapshot()
    assert lists.unmapped(TABLES) == []
    assert set(TABLES["organization"]) == {str(r["id"]) for r in lists.lists["GetOrganizations"]}
    for sub in lists.lists["GetSubdistricts"]:
        district = lists.row("GetDistricts", sub["district_id"])
        ids = {"province_id": district["province_id"], "district_id": district["id"]}
        names = lists.area_names(ids | {"subdistrict_id": sub["id"]})
        complaint = to_hub(
            case("hotline_road") | ids | {"subdistrict_id": sub["id"]} | {"area_names": names}
        )
        assert lists.ids_for(complaint["location"]["tambon_code"])["subdistrict_id"] == sub["id"]


def test_add_case_of_every_fixture_round_trips_through_to_native() -> None:
    for _, native in fixtures():
        complaint = to_hub(native)
        back = to_hub(to_native(complaint, "in_progress"))
        assert back.get("location") == complaint.get("location")
        assert add_case(complaint)["payload"]["detail"] == complaint["description"]

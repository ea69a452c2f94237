"""One config-driven mapping for every MOU ministry: fixtures, tables, personal data, loops."""

from __future__ import annotations

import json

import pytest

from adapters.base import LoopRefused
from adapters.ministry import FIXTURES
from adapters.ministry.adapter import ADAPTERS, load, receive
from adapters.ministry.config import load as load_config
from adapters.ministry.config import ministry
from adapters.ministry.mapping import to_hub, to_native
from adapters.ministry.updates import from_hub, message_id
from hub.schema import UnmappedValue, categories, statuses, validate

MINISTRIES = load_config()
FILES = sorted(FIXTURES.glob("*.json"))


def record(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def test_the_seven_mou_ministries_are_configured() -> None:
    assert set(MINISTRIES) == {"moj", "mol", "moe", "moph", "mdes", "msdhs", "rtp"}
    assert {m.mode for m in MINISTRIES.values()} == {"push", "pull"}
    assert set(ADAPTERS) == set(MINISTRIES)
    assert load("moph").name == "ministry:moph"
    with pytest.raises(KeyError, match="configured"):
        ministry("mof")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_fixture_maps_to_a_valid_complaint(path) -> None:
    m = MINISTRIES[path.stem.split("_")[0]]
    complaint = to_hub(m, json.loads(path.read_text(encoding="utf-8")))
    assert validate("complaint", complaint) == []
    assert complaint["origin"]["system"] == f"ministry_{m.code}"


@pytest.mark.parametrize("code", sorted(MINISTRIES))
def test_tables_map_onto_hub_codes_and_every_event_has_a_status(code: str) -> None:
    m = MINISTRIES[code]
    assert set(m.tables["category"].values()) <= set(categories())
    assert set(m.tables["status"].values()) <= set(statuses())
    assert set(m.event_status.values()) <= set(m.tables["status"].values())


def test_times_in_every_convention_become_rfc3339() -> None:
    assert (
        to_hub(MINISTRIES["moe"], record("moe_school_fee_ticket_epoch_millis_with_email"))[
            "reported_at"
        ]
        == "2024-06-03T05:00:00+00:00"
    )
    mol = to_hub(MINISTRIES["mol"], record("mol_unpaid_wages_buddhist_date_nested_workplace"))
    assert mol["reported_at"] == "2024-05-14T13:40:00+07:00"
    moph = to_hub(MINISTRIES["moph"], record("moph_hospital_complaint_local_time_with_coordinates"))
    assert moph["reported_at"] == "2024-02-20T09:05:00+07:00"  # no zone: Bangkok


def test_personal_data_lives_only_under_reporter_contact() -> None:
    native = record("moj_referred_case_with_dopa_codes_and_citizen_id")
    complaint = to_hub(MINISTRIES["moj"], native)
    contact = native["complainant"]
    assert complaint["reporter"] == {
        "anonymous": False,
        "contact": {
            "name": contact["fullName"],
            "phone": contact["mobile"],
            "national_id": contact["citizenId"],
        },
    }
    rest = json.dumps({k: v for k, v in complaint.items() if k != "reporter"}, ensure_ascii=False)
    assert contact["citizenId"] not in rest and contact["mobile"] not in rest


def test_a_record_without_contact_is_anonymous() -> None:
    complaint = to_hub(MINISTRIES["moph"], record("moph_anonymous_food_hygiene_report_no_contact"))
    assert complaint["reporter"] == {"anonymous": True}


def test_a_ref_outside_the_id_alphabet_gets_a_stable_digest() -> None:
    native = record("rtp_complaint_against_officer_buddhist_iso_like_date")
    complaint = to_hub(MINISTRIES["rtp"], native)
    assert complaint["id"].startswith("rtp:x-") and complaint["origin"]["ref"] == "ศรส.2567/1044"
    assert message_id(MINISTRIES["rtp"], native).isascii()


@pytest.mark.parametrize(
    ("path", "value"),
    [(("progress", "status"), "LOST"), (("topic", "code"), "JUS-99"), (("source",), "PIGEON")],
)
def test_an_unknown_label_raises(path: tuple[str, ...], value: str) -> None:
    native = record("moj_referred_case_with_dopa_codes_and_citizen_id")
    target = native
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(UnmappedValue, match=value):
        to_hub(MINISTRIES["moj"], native)


def test_a_case_event_becomes_the_ministrys_own_status_at_its_own_path() -> None:
    m = MINISTRIES["moj"]
    event = {"type": "case.resolve", "id": "h", "issuer": "dc-40", "body": {"summary": "ยุติ"}}
    assert from_hub(m, event, "MOJ-1") == {
        "op": "update",
        "ref": "MOJ-1",
        "payload": {"progress": {"status": "CLOSED", "remark": "ยุติ"}},
    }


def test_a_complaint_from_another_ministry_is_not_a_loop_but_our_own_is() -> None:
    moph = MINISTRIES["moph"]
    theirs = to_hub(MINISTRIES["moj"], record("moj_referred_case_with_dopa_codes_and_citizen_id"))
    call = from_hub(moph, {"type": "complaint.submit", "id": "x", "body": theirs}, "")
    assert call["op"] == "create" and call["payload"]["refHub"] == f"hub/{theirs['id']}"
    assert "caseNo" not in call["payload"]
    with pytest.raises(LoopRefused):
        from_hub(MINISTRIES["moj"], {"type": "complaint.submit", "id": "x", "body": theirs}, "")


def test_to_native_writes_nested_paths_back() -> None:
    m = MINISTRIES["msdhs"]
    complaint = to_hub(m, record("msdhs_homeless_elder_reported_by_line"))
    native = to_native(m, complaint, "resolved")
    assert native["where"]["tambon"] == "คอหงส์" and native["status"] == "ช่วยเหลือแล้ว"


def test_a_pushed_record_is_sent_to_the_hub_with_an_idempotent_id(agencies, hub) -> None:
    mol = agencies.enrol("mol", kind="ministry", areas=["20"])
    m = MINISTRIES["mol"]
    native = record("mol_unpaid_wages_buddhist_date_nested_workplace")
    first, again = receive(m, native, mol.client), receive(m, native, mol.client)
    assert first.case_id == again.case_id is not None

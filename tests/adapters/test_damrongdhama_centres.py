"""Centre codes and levels, and an amphoe centre's late offer escalating to its province."""

from __future__ import annotations

import pytest

from adapters.damrongdhama import SAMPLE_CSV
from adapters.damrongdhama.centres import (
    centre_code,
    deployment,
    enrolment,
    escalation_chain,
    parent_centre,
)
from adapters.damrongdhama.importer import rows
from adapters.damrongdhama.mapping import to_hub
from adapters.damrongdhama.updates import message_id
from hub import escalation
from hub.models import Case


def test_centre_codes_follow_dopa_codes() -> None:
    assert centre_code("province", "500101") == "dc-50"
    assert centre_code("amphoe", "500101") == "dc-5001"
    assert centre_code("tambon", "500101") == "dc-500101"
    with pytest.raises(ValueError):
        centre_code("tambon", "5001")


def test_a_centre_climbs_tambon_amphoe_province_then_1111() -> None:
    assert parent_centre("dc-500101") == "dc-5001"
    assert parent_centre("dc-5001") == "dc-50"
    assert parent_centre("dc-50") is None
    assert escalation_chain("dc-500101") == ["dc-500101", "dc-5001", "dc-50", "opm1111"]


def test_a_centre_is_enrolled_for_its_own_area_only() -> None:
    assert enrolment("dc-5001") | {"categories": []} == {
        "code": "dc-5001",
        "kind": "damrongdhama_centre",
        "name_th": "ศูนย์ดำรงธรรมอำเภอเมืองเชียงใหม่",
        "areas": ["5001"],
        "categories": [],
        "roles": ["submit", "receive"],
    }


def test_a_deployment_enrols_every_centre_above_the_ones_named() -> None:
    plan = deployment(["dc-500101", "dc-5015"])
    assert [e["code"] for e in plan["enrol"]] == ["dc-50", "dc-5001", "dc-5015", "dc-500101"]
    assert {r["agency"] for r in plan["rules"]} == {"dc-50", "dc-5001", "dc-5015", "dc-500101"}
    assert plan["escalation"]["dc-5015"] == ["dc-5015", "dc-50", "opm1111"]


def sample_row(ref: str) -> dict[str, str]:
    return next(r for r in rows(SAMPLE_CSV) if r["เลขที่เรื่อง"] == ref)


def owner(hub, case_id: str) -> tuple[str, str | None]:
    with hub.transaction() as s:
        case = s.get(Case, case_id)
        return case.status, case.owner


def test_an_amphoe_centre_that_does_not_accept_in_time_escalates_to_its_province(
    agencies, hub, clock
) -> None:
    centres = {
        code: agencies.enrol(code, **{k: v for k, v in enrolment(code).items() if k != "code"})
        for code in ("dc-50", "dc-5001", "dc-500101")
    }
    agencies.enrol("opm1111", kind="hotline", areas=[])
    row = sample_row("DC5001-2567-00102") | {"ประเภทเรื่อง": "ร้องเรียนทั่วไป"}  # amphoe 5001
    complaint = to_hub(row) | {
        "origin": {"agency": "dc-500101", "system": "damrongdhama", "ref": "T-1"}
    }
    sent = centres["dc-500101"].client.send("complaint.submit", complaint, id=message_id(row))
    case_id = sent.case_id
    assert owner(hub, case_id) == ("offered", "dc-5001")  # the amphoe's own centre

    clock.advance(hours=25)  # the amphoe centre never accepts (normal priority: 24 h)
    with hub.transaction() as s:
        assert case_id in escalation.check(s, now=clock(), signer=hub.signer)
    assert owner(hub, case_id) == ("offered", "dc-50")  # the provincial centre

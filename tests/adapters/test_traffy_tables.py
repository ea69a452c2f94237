"""The adapter's tables are data, total over what Traffy sends, and agree with hub.vocab."""

from __future__ import annotations

import pytest

from adapters.base import Table
from adapters.traffy_fondue.mapping import TABLES, hub_status
from adapters.traffy_fondue.updates import EVENT_RULES, JOIN_SCENARIO
from hub import vocab
from hub.schema import UnmappedValue, message_types, outcomes, statuses

README_STATES = [
    "รอรับเรื่อง", "รับเรื่อง", "กำลังดำเนินการ", "จัดทำนโยบาย", "ส่งต่อ", "ส่งต่อ(ใหม่)",
    "ติดตามเรื่อง", "เสร็จสิ้น", "ไม่เกี่ยวข้อง", "ไม่เกี่ยวข้อง / ยกเลิก",
    "เชิญร่วม", "กำลังประสานงาน", "ปฏิเสธ",
]  # fmt: skip
README_TYPES = ["start", "waiting", "inprogress", "forward", "follow", "finish", "irrelevant"]


def test_categories_agree_with_the_hub_vocabulary_both_ways() -> None:
    hub_side = {label: c.code for c in vocab.categories().values() for label in c.traffy}
    assert dict(TABLES["category"]) == hub_side


def test_state_labels_agree_with_the_hub_vocabulary_where_it_has_them() -> None:
    for label, code in TABLES["state"].items():
        if label != "ปฏิเสธ":  # staff tool label the hub vocabulary does not list
            assert vocab.status_for_traffy(label) == code, label


@pytest.mark.parametrize("label", README_STATES)
def test_every_documented_state_label_maps(label: str) -> None:
    assert hub_status(label) in statuses()


@pytest.mark.parametrize("state_type", README_TYPES)
def test_every_machine_state_type_maps(state_type: str) -> None:
    assert hub_status(None, state_type) in statuses()


def test_written_back_states_are_known_and_read_back_as_themselves() -> None:
    for status, label in TABLES["status_to_state"].items():
        assert TABLES["state"][label] == status
    assert set(TABLES["state_to_type"]) == set(TABLES["state"])
    assert set(TABLES["state_to_type"].values()) <= set(TABLES["state_type"])


def test_every_case_event_and_outcome_has_a_rule() -> None:
    assert set(EVENT_RULES) == {t for t in message_types() if t.startswith("case.")}
    assert set(TABLES["outcome_to_state"]) == set(outcomes())
    states = [r["state"] for r in EVENT_RULES.values() if r["state"] != "by_outcome"]
    assert set(states) | set(TABLES["outcome_to_state"].values()) <= set(TABLES["state"])
    assert set(JOIN_SCENARIO) == {"case.assist", "case.forward"}


@pytest.mark.parametrize("name", ["category", "state", "state_type", "status_to_state"])
def test_an_unknown_value_raises_never_defaults(name: str) -> None:
    table = TABLES[name]
    assert isinstance(table, Table)
    with pytest.raises(UnmappedValue) as raised:
        table["ไม่มีค่านี้"]
    assert (raised.value.system, raised.value.field) == ("traffy_fondue", name)
    assert "ไม่มีค่านี้" not in table

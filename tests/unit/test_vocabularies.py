"""The vocabularies and schema files are consistent with each other and with their sources."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from adapters.traffy_fondue import SAMPLE_CSV
from hub import vocab
from hub.schema import (
    BASE_URI,
    UnmappedValue,
    allowed_transitions,
    area,
    categories,
    category_for_traffy,
    channels,
    find_area,
    internal_events,
    message_types,
    outcomes,
    schema_for_message,
    status_for_traffy,
    statuses,
    transitions,
)

SCHEMAS = vocab.schemas_dir()
FIXTURE = SAMPLE_CSV

# Copied from the Traffy data README (see adapters/traffy_fondue/fixtures/SOURCE.md).
TRAFFY_BANGKOK_2023 = [
    "ถนน",
    "ทางเท้า",
    "ความปลอดภัย",
    "ร้องเรียน",
    "ความสะอาด",
    "แสงสว่าง",
    "ท่อระบายน้ำ",
    "กีดขวาง",
    "น้ำท่วม",
    "เสียงรบกวน",
    "ป้าย",
    "จราจร",
    "ต้นไม้",
    "คลอง",
    "สัตว์จรจัด",
    "สายไฟ",
    "สะพาน",
    "คนจรจัด",
    "PM2.5",
    "สอบถาม",
    "เสนอแนะ",
    "ห้องน้ำ",
    "ป้ายจราจร",
    "การเดินทาง",
]
TRAFFY_NATIONAL = [
    "อื่นๆ",
    "ผิดกฎจราจร",
    "จุดเสี่ยง",
    "ขยะ",
    "ไฟฟ้า",
    "ภัยทางถนน",
    "ขอความช่วยเหลือ",
    "อาคารสถานที่ชำรุด",
    "เสียง",
    "ฝุ่นควัน&กลิ่น&PM2.5",
    "ประปา",
    "สัตว์",
    "สายสื่อสาร",
    "อุทกภัย",
    "หาบเร่แผงลอย",
    "เผาในที่โล่ง",
    "คุ้มครองผู้บริโภค",
    "ทุจริต",
    "อุบัติเหตุ",
    "อัคคีภัย",
    "ไฟป่า",
    "ภัยแล้ง",
    "ชื่นชม",
]
TRAFFY_STATES = [
    *("รอรับเรื่อง", "รับเรื่อง", "กำลังดำเนินการ", "จัดทำนโยบาย", "ส่งต่อ", "ส่งต่อ(ใหม่)"),
    *("ติดตามเรื่อง", "เสร็จสิ้น", "ไม่เกี่ยวข้อง", "ไม่เกี่ยวข้อง / ยกเลิก"),
    *("start", "waiting", "inprogress", "forward", "follow", "finish", "irrelevant"),
]


def schema_files() -> dict[str, dict[str, Any]]:
    docs = {p.name: json.loads(p.read_text("utf-8")) for p in SCHEMAS.glob("*.json")}
    return {name: doc for name, doc in docs.items() if "$schema" in doc}


def csv_type_labels() -> set[str]:
    with FIXTURE.open(encoding="utf-8", newline="") as f:
        return {t for row in csv.DictReader(f) for t in row["type"].strip("{}").split(",") if t}


# --- areas -------------------------------------------------------------------------------


def active_by_level() -> Counter[str]:
    return Counter(a.level for a in vocab._areas().values() if not a.abolished)


def test_area_counts_match_dopa() -> None:
    assert active_by_level() == {"province": 77, "amphoe": 928, "tambon": 7436}


def test_abolished_areas_are_flagged_and_resolvable() -> None:
    abolished = [a for a in vocab._areas().values() if a.abolished]
    assert len(abolished) > 1000  # geothai 3.2.1 ships 1,583 (80 amphoe, 1,503 tambon)
    old = area("100205")  # Bang Sue khwaeng, abolished 2006
    assert old is not None and old.abolished and old.name_th == "บางซื่อ"


def test_every_active_area_has_an_active_parent_of_the_level_above() -> None:
    above = {"amphoe": "province", "tambon": "amphoe"}
    for a in vocab._areas().values():
        if a.abolished:
            continue
        if a.level == "province":
            assert a.parent is None
            continue
        parent = area(a.parent or "")
        assert parent is not None and parent.level == above[a.level] and not parent.abolished
        assert a.code.startswith(parent.code)


def test_areas_file_credits_its_source() -> None:
    source = vocab.load_json("vocab/areas.json")["source"]
    assert "geothai" in source["package"]
    assert source["license"] == "CC-BY-4.0"


@pytest.mark.parametrize(
    ("province", "amphoe", "tambon", "code"),
    [
        ("กรุงเทพมหานคร", "หนองจอก", "กระทุ่มราย", "100301"),
        ("จังหวัดกรุงเทพมหานคร", "เขตหนองจอก", "แขวงกระทุ่มราย", "100301"),
        ("กทม.", "เขต หนองจอก", "แขวง กระทุ่มราย", "100301"),
        ("Bangkok", "Nong Chok", "Krathum Rai", "100301"),
        ("ขอนแก่น", "อำเภอเมือง", None, "4001"),
        ("จ.ขอนแก่น", "อ.เมืองขอนแก่น", "ต.ในเมือง", "400101"),
        ("อุบลราชธานี", None, None, "34"),
        ("หนองคาย", "เมืองหนองคาย", "สระใคร", "430112"),  # abolished, still resolves
    ],
)
def test_find_area_is_tolerant(
    province: str, amphoe: str | None, tambon: str | None, code: str
) -> None:
    found = find_area(province, amphoe, tambon)
    assert found is not None and found.code == code


def test_find_area_returns_none_when_any_name_is_unknown() -> None:
    assert find_area("แอตแลนติส") is None
    assert find_area("กรุงเทพมหานคร", "เขตไม่มีจริง") is None
    assert find_area("กรุงเทพมหานคร", "หนองจอก", "แขวงไม่มีจริง") is None


ACTIVE_TAMBONS = sorted(
    (a for a in vocab._areas().values() if a.level == "tambon" and not a.abolished),
    key=lambda a: a.code,
)


@given(st.sampled_from(ACTIVE_TAMBONS), st.booleans())
def test_find_area_resolves_every_tambon_by_its_names(tambon: vocab.Area, prefixed: bool) -> None:
    amphoe = area(tambon.parent or "")
    province = area(tambon.code[:2])
    assert amphoe is not None and province is not None
    words = ("จังหวัด", "อำเภอ ", "ตำบล ") if prefixed else ("", "", "")
    found = find_area(
        words[0] + province.name_th, words[1] + amphoe.name_th, words[2] + tambon.name_th
    )
    assert found is not None
    assert (found.name_th, found.parent) == (tambon.name_th, tambon.parent)


# --- categories, channels, outcomes ------------------------------------------------------


@pytest.mark.parametrize("label", sorted({*TRAFFY_BANGKOK_2023, *TRAFFY_NATIONAL}))
def test_every_listed_traffy_category_maps(label: str) -> None:
    assert category_for_traffy(label) in categories()


def test_every_type_in_the_sample_maps() -> None:
    labels = csv_type_labels()
    assert len(labels) >= 20
    assert all(category_for_traffy(label) in categories() for label in labels)


def test_each_traffy_label_belongs_to_exactly_one_category() -> None:
    labels = [label for c in categories().values() for label in c.traffy]
    assert [label for label, n in Counter(labels).items() if n > 1] == []


def test_unknown_traffy_label_fails_loudly() -> None:
    with pytest.raises(UnmappedValue) as raised:
        category_for_traffy("ยานอวกาศ")
    assert (raised.value.system, raised.value.field, raised.value.value) == (
        "traffy_fondue",
        "type",
        "ยานอวกาศ",
    )


def test_categories_are_well_formed() -> None:
    families = vocab.load_json("vocab/categories.json")["families"]
    for code, c in categories().items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert c.th and c.en and c.family in families
    assert {"road", "footpath", "flooding", "drainage", "waste", "electricity"} <= set(categories())
    assert {"other", "uncategorised"} <= set(categories())


def test_required_channels_and_outcomes_exist() -> None:
    assert {
        "traffy_fondue",
        "hotline_1111",
        "call_1555",
        "damrongdhama_1567",
        "web",
        "mobile_app",
        "walk_in",
        "letter",
        "open311",
        "ministry_system",
    } <= set(channels())
    assert {"fixed", "not_actionable", "duplicate", "referred_outside", "no_fault_found"} <= set(
        outcomes()
    )


@pytest.mark.parametrize(
    ("enum", "codes"),
    [("category_code", categories), ("channel_code", channels), ("outcome_code", outcomes)],
)
def test_schema_enums_match_vocabularies(enum: str, codes: Any) -> None:
    defs = json.loads((SCHEMAS / "defs.json").read_text("utf-8"))["$defs"]
    assert defs[enum]["enum"] == list(codes()), "run python schemas/tools/sync_enums.py"


# --- statuses ----------------------------------------------------------------------------


def test_transitions_only_reference_defined_statuses_and_events() -> None:
    known_events = message_types() | internal_events()
    for t in transitions():
        assert t.from_ in statuses() and t.to in statuses()
        assert t.on in known_events, t


def test_transitions_are_deterministic() -> None:
    keys = Counter((t.from_, t.on) for t in transitions())
    assert [k for k, n in keys.items() if n > 1] == []


def test_terminal_statuses_leave_only_by_reopen_or_unmerge() -> None:
    terminal = {code for code, s in statuses().items() if s.terminal}
    assert terminal == {"closed", "rejected", "merged"}
    exits = {(t.from_, t.on) for t in transitions() if t.from_ in terminal}
    assert {on for _, on in exits} <= {"case.reopen", "case.unmerge"}
    assert allowed_transitions()["closed"] == {"reopened"}


def test_every_status_is_reachable_and_non_terminal_ones_can_move() -> None:
    seen, frontier = {"received"}, ["received"]
    while frontier:
        for nxt in allowed_transitions()[frontier.pop()] - seen:
            seen.add(nxt)
            frontier.append(nxt)
    assert seen == set(statuses())
    for code, s in statuses().items():
        assert s.terminal or allowed_transitions()[code] - {code}


@pytest.mark.parametrize("label", TRAFFY_STATES)
def test_traffy_states_map_to_statuses(label: str) -> None:
    assert status_for_traffy(label) in statuses()


def test_unknown_traffy_state_fails_loudly() -> None:
    with pytest.raises(UnmappedValue):
        status_for_traffy("ปฏิเสธ")  # refused: deliberately unmapped until the adapter decides


# --- schema files ------------------------------------------------------------------------


def test_ids_are_unique_and_follow_the_base_uri() -> None:
    ids = {name: doc["$id"] for name, doc in schema_files().items()}
    assert len(set(ids.values())) == len(ids) >= 6
    for name, schema_id in ids.items():
        assert schema_id == BASE_URI + name


@pytest.mark.parametrize("name", sorted(schema_files()))
def test_schema_is_valid_2020_12_and_bilingual(name: str) -> None:
    doc = schema_files()[name]
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    for key in ("title", "x-title-th", "description", "x-description-th"):
        assert doc[key], key
    assert re.search(r"[\u0e00-\u0e7f]", doc["x-title-th"])


def test_message_type_references_point_at_definitions() -> None:
    docs = schema_files()
    for message_type in message_types():
        ref = schema_for_message(message_type) or ""
        file, _, fragment = ref.partition("#")
        target: Any = docs[file]
        for part in filter(None, fragment.split("/")):
            target = target[part]
        assert isinstance(target, dict) and target.get("type") == "object"


def test_every_contact_field_is_marked_personal() -> None:
    contact = schema_files()["complaint.json"]["properties"]["reporter"]["properties"]["contact"]
    assert contact["properties"]
    assert all(field.get("x-personal") is True for field in contact["properties"].values())

"""Fixture provenance: every fixture file is accounted for in its folder's README (captured,
documented or synthesised, and from where), and the Traffy adapter honours every example
the project's Traffy data README documents (copied verbatim into the fixtures)."""

from __future__ import annotations

import csv
import fnmatch
import json
import re
from pathlib import Path

import pytest

from adapters.traffy_fondue import FIXTURES as TRAFFY_FIXTURES
from adapters.traffy_fondue.adapter import api_fixtures
from adapters.traffy_fondue.client import parse_answer
from adapters.traffy_fondue.mapping import (
    TABLES,
    parse_pg_array,
    split_organizations,
    to_hub,
    to_rfc3339,
)
from adapters.traffy_fondue.updates import JOIN_SCENARIO
from hub.vocab import find_area

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
FOLDERS = sorted(p for p in ADAPTERS.glob("*/fixtures") if p.is_dir())
DOCUMENTED = json.loads(
    (TRAFFY_FIXTURES / "documented" / "traffy_readme_examples.json").read_text(encoding="utf-8")
)


def listed_patterns(readme: str) -> list[str]:
    """The backticked names in the first column of the README's provenance table."""
    patterns = []
    for line in readme.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            patterns += [p.replace("<ministry>", "*") for p in re.findall(r"`([^`]+)`", first)]
    return patterns


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.parent.name)
def test_every_fixture_file_says_where_it_comes_from(folder: Path) -> None:
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "synthesised" in readme.lower()
    patterns = listed_patterns(readme)
    files = [
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name not in ("README.md", "SOURCE.md")
    ]
    unlisted = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not unlisted, f"{folder}: no provenance for {unlisted}"


def test_the_documented_csv_columns_are_the_sample_s() -> None:
    with (TRAFFY_FIXTURES / "bangkok_sample.csv").open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == DOCUMENTED["csv_export"]["columns"]["value"]


def test_documented_type_literals_organisation_trail_and_timestamp_parse() -> None:
    doc = DOCUMENTED["csv_export"]
    assert [parse_pg_array(v) for v in doc["type"]["value"]] == doc["type"]["parsed"]
    assert split_organizations(doc["organization"]["value"]) == doc["organization"]["parsed"]
    assert to_rfc3339(doc["timestamp"]["value"]) == doc["timestamp"]["rfc3339"]
    for spelling in doc["province"]["value"]:
        found = find_area(spelling)
        assert found is not None and found.code == doc["province"]["province_code"]


def test_the_documented_1555_ticket_is_a_call_centre_complaint() -> None:
    doc = DOCUMENTED["csv_export"]["ticket_1555"]
    record = next(r for r in api_fixtures() if r["ticket_id"] == doc["value"])
    assert record["description"].endswith(doc["comment_suffix"])
    assert to_hub(record)["channel"] == "call_1555"


def test_every_documented_state_label_and_type_maps() -> None:
    doc = DOCUMENTED["states"]
    for state_type, labels in doc["value"].items():
        assert state_type in TABLES["state_type"]
        for label in labels:
            assert label in TABLES["state"]  # raises nothing: every label has a hub status
            assert TABLES["state_type"][TABLES["state_to_type"][label]] in (
                TABLES["state_type"][state_type],
                "offered",  # รอรับเรื่อง is both start and waiting
            )
    for label in doc["staff_tools"]:
        assert label in TABLES["state"]


def test_the_documented_answer_envelope_and_join_scenarios() -> None:
    doc = DOCUMENTED["partner_api"]
    for status in doc["answer"]["value"]["status"]:
        answer = parse_answer(json.dumps({"status": status, "message": "", "results": None}))
        assert set(doc["answer"]["value"]["keys"]) <= set(answer)
    scenarios = doc["join-forward/v1"]["value"]["scenario"]
    assert {str(v): k for k, v in JOIN_SCENARIO.items()} == {
        "1": "case.assist",
        "2": "case.forward",
    }
    assert TABLES["state"][scenarios["1"]] == "in_progress"
    assert TABLES["state"][scenarios["2"]] == "forwarded"

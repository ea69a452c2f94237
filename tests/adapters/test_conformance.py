"""The conformance kit passes Traffy (end to end through a real hub) and fails broken adapters."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.conformance import check, main
from adapters.traffy_fondue import ADAPTER


def outcomes(report) -> dict[str, str]:
    return {r.check: r.outcome for r in report.results}


def test_traffy_passes_and_end_to_end_is_skipped_without_a_hub() -> None:
    report = check(ADAPTER, examples=30)
    assert report.ok, report.table()
    assert outcomes(report)["end-to-end"] == "skip"
    assert "SKIP  end-to-end" in report.table()


def test_traffy_passes_end_to_end_through_a_live_hub(agencies) -> None:
    bma = agencies.enrol("bma")
    report = check(ADAPTER, client=bma.client, examples=10)
    assert report.ok, report.table()
    assert set(outcomes(report).values()) == {"pass"}


def test_main_prints_the_table_and_exits_zero(capsys) -> None:
    assert main(["traffy_fondue", "--examples", "10"]) == 0
    out = capsys.readouterr().out
    assert "PASS  fixtures" in out and "=> OK" in out


def test_main_knows_no_such_adapter(capsys) -> None:
    assert main(["no_such_system"]) == 2
    assert "no adapter package" in capsys.readouterr().err


def _silent_default(value: str) -> str:
    return "other"  # the mistake the kit exists to catch: no UnmappedValue


def _forgets_location(complaint, status):
    native = ADAPTER.to_native(complaint, status)
    return {k: v for k, v in native.items() if k not in ("province", "district", "subdistrict")}


BROKEN = {
    "tables": (
        {"map_category": _silent_default},
        "unknown category mapped to 'other' instead of raising",
    ),
    "round-trip": ({"to_native": _forgets_location}, "location"),
    "no-loop": (
        {"from_hub": lambda event, ref: {"op": "update-issue/v1", "payload": {}}},
        "would be sent back",
    ),
    "fixtures": (
        {"to_hub": lambda native: {"id": "traffy:x"}},
        "bangkok_sample.csv#1: /category required property",
    ),
}


@pytest.mark.parametrize("check_name", sorted(BROKEN))
def test_a_broken_adapter_fails_with_a_clear_message(check_name: str) -> None:
    change, message = BROKEN[check_name]
    broken = dataclasses.replace(ADAPTER, name="broken", **change)
    report = check(broken, examples=5)
    assert not report.ok
    failed = {r.check: r.detail for r in report.results if r.outcome == "fail"}
    assert check_name in failed, report.table()
    assert message in failed[check_name], failed[check_name]
    assert "FAIL" in report.table() and "=> FAILED" in report.table()

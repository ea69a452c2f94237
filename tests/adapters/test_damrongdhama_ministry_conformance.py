"""The conformance kit passes the Damrongdhama adapter and every ministry, through a real hub."""

from __future__ import annotations

import pytest

from adapters.conformance import check, main
from adapters.damrongdhama import ADAPTER as DAMRONGDHAMA
from adapters.ministry.adapter import ADAPTERS


def outcomes(report) -> dict[str, str]:
    return {r.check: r.outcome for r in report.results}


def test_damrongdhama_passes_without_a_hub() -> None:
    report = check(DAMRONGDHAMA, examples=30)
    assert report.ok, report.table()
    assert outcomes(report)["end-to-end"] == "skip"


def test_damrongdhama_passes_end_to_end_through_a_live_hub(agencies) -> None:
    dc = agencies.enrol("dc-50", kind="damrongdhama_centre", areas=["50"])
    report = check(DAMRONGDHAMA, client=dc.client, examples=10)
    assert report.ok, report.table()
    assert set(outcomes(report).values()) == {"pass"}


@pytest.mark.parametrize("code", sorted(ADAPTERS))
def test_every_ministry_passes_without_a_hub(code: str) -> None:
    report = check(ADAPTERS[code], examples=20)
    assert report.ok, report.table()


@pytest.mark.parametrize("code", ["moph", "rtp"])  # one pull, one push ministry
def test_a_ministry_passes_end_to_end_through_a_live_hub(agencies, code: str) -> None:
    enrolled = agencies.enrol(code, kind="ministry", areas=["TH"])
    report = check(ADAPTERS[code], client=enrolled.client, examples=10)
    assert report.ok, report.table()
    assert set(outcomes(report).values()) == {"pass"}


def test_the_cli_checks_damrongdhama_and_a_ministry_named_in_the_environment(
    capsys, monkeypatch
) -> None:
    assert main(["damrongdhama", "--examples", "5"]) == 0
    assert "=> OK" in capsys.readouterr().out
    assert main(["ministry", "--examples", "5"]) == 0  # ADAPTER: the first configured ministry
    assert "ministry:moj" in capsys.readouterr().out

"""The 1111 adapter keeps the contract: loadable, and the conformance kit passes it end to end."""

from __future__ import annotations

from adapters.base import load
from adapters.conformance import check, main
from adapters.ops1111 import ADAPTER


def outcomes(report) -> dict[str, str]:
    return {r.check: r.outcome for r in report.results}


def test_the_adapter_loads_by_name() -> None:
    assert load("ops1111") is ADAPTER
    assert ADAPTER.system == "ops1111"


def test_ops1111_passes_and_end_to_end_is_skipped_without_a_hub() -> None:
    report = check(ADAPTER, examples=60)
    assert report.ok, report.table()
    assert outcomes(report)["end-to-end"] == "skip"


def test_ops1111_passes_end_to_end_through_a_live_hub(agencies) -> None:
    hotline = agencies.enrol("opm1111", kind="hotline", areas=["10", "12", "40", "50", "90"])
    report = check(ADAPTER, client=hotline.client, examples=10)
    assert report.ok, report.table()
    assert set(outcomes(report).values()) == {"pass"}


def test_hub_adapters_check_ops1111_prints_ok(capsys) -> None:
    assert main(["ops1111", "--examples", "10"]) == 0
    out = capsys.readouterr().out
    assert "PASS  fixtures" in out and "PASS  no-loop" in out and "=> OK" in out

"""The service loop itself, with a scripted source: failures back off and never end the loop,
success waits the interval, SIGTERM's flag ends it, ``--once`` says whether it worked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.base import Unavailable
from adapters.service.runner import Service
from adapters.service.source import Found, Known, Source
from adapters.service.state import StateStore
from adapters.traffy_fondue.adapter import ADAPTER


class Scripted(Source):
    """A source whose polls fail or succeed (finding nothing) as scripted."""

    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.adapter, self.agency, self.name, self.cursor = ADAPTER, "bma", "scripted", {}
        self.outcomes = outcomes

    def scan(self, known: Known) -> Iterator[Found]:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return iter(())


class Waits:
    """Stands in for the wake event: records each wait, stops the service after ``n``."""

    def __init__(self, service: Service, n: int) -> None:
        self.service, self.n, self.delays = service, n, list[float]()

    def wait(self, delay: float) -> bool:
        self.delays.append(delay)
        if len(self.delays) >= self.n:
            self.service.stop.set()
        return False

    def clear(self) -> None:
        pass

    def set(self) -> None:
        pass


def service(tmp_path: Path, outcomes: list[Exception | None]) -> Service:
    store = StateStore.open(tmp_path / "s.sqlite", adapter="scripted", agency="bma", native="-")
    return Service(Scripted(outcomes), None, store, interval=2.0, backoff_cap=30.0)  # type: ignore[arg-type]


def test_failures_back_off_a_bug_does_not_end_the_loop_and_success_waits_the_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = Unavailable("traffy_fondue", "get-issues/v2 answered 502", status=502)
    run = service(tmp_path, [down, down, RuntimeError("a listing without ticket_id"), down, None])
    waits = Waits(run, 5)
    run.wake = waits  # type: ignore[assignment]
    assert run.run() == 0
    first, second, third, fourth, after = waits.delays
    assert 1.0 <= first <= 2.0 <= second <= 4.0 <= third <= 8.0 <= fourth <= 16.0
    assert after == 2.0  # back to the interval once a cycle works
    assert run.counts["cycle_errors"] == 4
    assert "a listing without ticket_id" in caplog.text  # logged with its traceback


def test_the_backoff_stops_growing_at_its_cap(tmp_path: Path) -> None:
    down = Unavailable("ops1111", "GetCases timed out")
    run = service(tmp_path, [down] * 8)
    waits = Waits(run, 8)
    run.wake = waits  # type: ignore[assignment]
    run.run()
    assert max(waits.delays) <= 30.0 and waits.delays[-1] >= 15.0


def test_once_says_whether_the_cycle_worked(tmp_path: Path) -> None:
    assert service(tmp_path / "a", [Unavailable("x", "down")]).run(once=True) == 1
    assert service(tmp_path / "b", [None]).run(once=True) == 0


def test_a_stop_before_the_first_cycle_runs_nothing(tmp_path: Path) -> None:
    run = service(tmp_path, [RuntimeError("must not run")])
    run.stop.set()
    assert run.run() == 0 and run.counts["cycle_errors"] == 0

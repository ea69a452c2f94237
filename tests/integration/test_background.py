"""The head publisher publishes when the log grows, and only then; the index's fold runs
without readers."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from hub.background import fold_index_forever, publish_heads_forever, start_index_folder
from hub.exchange import translog
from hub.models import Case, CaseFacts, Complaint, ComplaintText, IndexDirty
from tests.support.envelopes import traffy_complaint


class _Rounds(threading.Event):
    """Lets the loop run a fixed number of rounds without sleeping."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds

    def wait(self, timeout: float | None = None) -> bool:
        self.rounds -= 1
        return self.rounds < 0


def test_heads_follow_the_log(hub, agencies):
    publish_heads_forever(hub, _Rounds(1), interval=0)
    bma = agencies.enrol("bma")
    for i in range(3):
        bma.client.send("complaint.submit", traffy_complaint(i))
    publish_heads_forever(hub, _Rounds(3), interval=0)  # three rounds, one growth
    with hub.transaction() as s:
        assert [h.tree_size for h in translog.heads_after(s, after=-1, limit=10)] == [0, 3]


def _queued(hub) -> int:
    with hub.transaction() as s:
        return s.scalar(select(func.count()).select_from(IndexDirty)) or 0


def _counts(hub) -> tuple[int, int, int, int]:
    with hub.transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(Case)) or 0,
            s.scalar(select(func.count()).select_from(CaseFacts)) or 0,
            s.scalar(select(func.count()).select_from(Complaint)) or 0,
            s.scalar(select(func.count()).select_from(ComplaintText)) or 0,
        )


def test_the_index_is_folded_with_nobody_reading_it(hub, agencies):
    """Intake queues its cases; a background round folds them all, a few per transaction,
    before any reader asks (SQLite keeps no queue: nothing to do)."""
    bma = agencies.enrol("bma")
    for i in range(5):
        bma.client.send("complaint.submit", traffy_complaint(i))
    postgres = hub.engine.dialect.name == "postgresql"
    assert (_queued(hub) > 0) is postgres
    fold_index_forever(hub, _Rounds(1), interval=0, batch=2)
    assert _queued(hub) == 0
    cases, facts, complaints, texts = _counts(hub)
    assert cases > 0
    assert (facts, texts) == ((cases, complaints) if postgres else (0, 0))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # PostgreSQL only
def test_the_fold_thread_runs_until_stopped(hub, agencies):
    bma = agencies.enrol("bma")
    bma.client.send("complaint.submit", traffy_complaint(1))
    assert _queued(hub) > 0
    stop = start_index_folder(hub, interval=0.01, batch=1)
    try:
        for _ in range(1000):  # not a timing: it waits (up to 10 s) for the thread to fold
            if _queued(hub) == 0:
                break
            time.sleep(0.01)
        assert _queued(hub) == 0
    finally:
        stop.set()
    cases, facts, _, _ = _counts(hub)
    assert facts == cases > 0

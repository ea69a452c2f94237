"""Group commit: concurrent callers share batches, each gets its own answer, none is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.exchange.group import GroupCommit


class Recorder:
    """A ``process`` that answers each item with its upper case, slowly, and notes batches."""

    def __init__(self, delay: float = 0.0, fail_on: bytes | None = None) -> None:
        self.delay, self.fail_on = delay, fail_on
        self.batches: list[list[bytes]] = []
        self.lock = threading.Lock()
        self.running = 0
        self.overlapped = False

    def __call__(self, items: Sequence[bytes]) -> list[bytes]:
        with self.lock:
            self.running += 1
            self.overlapped |= self.running > 1
            self.batches.append(list(items))
        try:
            time.sleep(self.delay)
            if self.fail_on is not None and self.fail_on in items:
                raise RuntimeError("database went away")
            return [i.upper() for i in items]
        finally:
            with self.lock:
                self.running -= 1


def run_concurrently(group: GroupCommit[bytes], items: list[bytes]) -> dict[bytes, object]:
    answers: dict[bytes, object] = {}
    start = threading.Barrier(len(items))

    def call(item: bytes) -> None:
        start.wait()
        try:
            answers[item] = group.submit(item)
        except Exception as exc:
            answers[item] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a caller never got its answer"
    return answers


def test_a_lone_call_is_processed_at_once_alone():
    rec = Recorder()
    assert GroupCommit(rec, limit=10).submit(b"a") == b"A"
    assert rec.batches == [[b"a"]]


def test_callers_arriving_together_share_batches_and_each_gets_its_own_answer():
    rec = Recorder(delay=0.05)
    items = [f"m{i}".encode() for i in range(40)]
    answers = run_concurrently(GroupCommit(rec, limit=100), items)
    assert answers == {i: i.upper() for i in items}
    assert sorted(x for b in rec.batches for x in b) == sorted(items)  # each exactly once
    assert len(rec.batches) < len(items)  # batches formed while the first was processed
    assert not rec.overlapped  # one leader at a time


def test_batches_respect_the_limit():
    rec = Recorder(delay=0.05)
    items = [f"m{i}".encode() for i in range(30)]
    run_concurrently(GroupCommit(rec, limit=4), items)
    assert max(len(b) for b in rec.batches) <= 4
    assert sorted(x for b in rec.batches for x in b) == sorted(items)


def test_a_failed_batch_fails_its_callers_only_and_the_next_batch_still_runs():
    rec = Recorder(delay=0.05, fail_on=b"poison")
    group: GroupCommit[bytes] = GroupCommit(rec, limit=100)
    with pytest.raises(RuntimeError, match="went away"):
        group.submit(b"poison")
    items = [f"m{i}".encode() for i in range(10)]
    answers = run_concurrently(group, items)
    assert answers == {i: i.upper() for i in items}  # the lead was handed on, not lost


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=24), st.integers(1, 6))
def test_every_caller_is_answered_exactly_once_whatever_the_timing(delays, limit):
    rec = Recorder()
    group: GroupCommit[bytes] = GroupCommit(rec, limit=limit)
    items = [f"m{i}".encode() for i in range(len(delays))]

    def call(item: bytes, pause: int, out: dict[bytes, bytes]) -> None:
        time.sleep(pause / 1000)
        out[item] = group.submit(item)

    out: dict[bytes, bytes] = {}
    threads = [
        threading.Thread(target=call, args=(i, d, out)) for i, d in zip(items, delays, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert out == {i: i.upper() for i in items}
    assert sorted(x for b in rec.batches for x in b) == sorted(items)


def test_a_call_from_inside_the_batch_goes_alone_instead_of_waiting_for_itself():
    group: GroupCommit[bytes]
    seen: list[list[bytes]] = []

    def process(items: Sequence[bytes]) -> list[bytes]:
        seen.append(list(items))
        if items == [b"outer"]:
            return [group.submit(b"inner") + b"+"]  # re-entrant: would deadlock if queued
        return [i.upper() for i in items]

    group = GroupCommit(process, limit=10)
    done: list[bytes] = []
    t = threading.Thread(target=lambda: done.append(group.submit(b"outer")))
    t.start()
    t.join(timeout=10)
    assert done == [b"INNER+"] and seen == [[b"outer"], [b"inner"]]
    assert group.submit(b"after") == b"AFTER"  # the lead was released

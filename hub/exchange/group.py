"""Group commit: single submissions that arrive together are stored in one transaction.

A ministry that POSTs one envelope per request should not pay a transaction, a log lock
and a disk flush per envelope when others are sending at the same moment. The first
request to arrive becomes the leader and stores whatever is waiting — at first only its
own envelope, so an idle hub adds no delay; requests that arrive meanwhile wait, and the
next leader, one of them, takes all of them in one batch. Under load batches form by
themselves; each request still gets only its own answer, and one refused envelope never
spoils the others (the batch path judges every item alone).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass(eq=False)
class _Slot(Generic[R]):
    item: bytes
    woken: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[R]):
    """Leader/follower batching of concurrent calls to ``process`` (one list in, one
    result per item out, in order)."""

    def __init__(self, process: Callable[[Sequence[bytes]], Sequence[R]], limit: int) -> None:
        self._process, self._limit = process, max(1, limit)
        self._lock = threading.Lock()
        self._waiting: list[_Slot[R]] = []
        self._busy = False
        self._leading = threading.local()

    def submit(self, item: bytes) -> R:
        if getattr(self._leading, "now", False):
            # called from inside ``process`` (a handler submitting on its own account):
            # queueing behind ourselves would wait forever; this one goes alone
            return self._process([item])[0]
        slot: _Slot[R] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            if not self._busy:
                self._busy = slot.lead = True
        while not slot.done:
            if slot.lead:
                slot.lead = False
                self._lead()
            else:
                slot.woken.wait()
                slot.woken.clear()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Store one batch (the leader's own item is in it: it waits first in line), then
        hand the lead to the first of those who arrived meanwhile."""
        with self._lock:
            batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
        self._leading.now = True
        try:
            results = self._process([s.item for s in batch])
            for s, r in zip(batch, results, strict=True):
                s.result = r
        except BaseException as exc:  # every waiter hears it; nobody waits forever
            for s in batch:
                s.error = exc
        finally:
            self._leading.now = False
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                if following is None:
                    self._busy = False
                else:
                    following.lead = True
            for s in batch:
                s.done = True
                s.woken.set()
            if following is not None:
                following.woken.set()

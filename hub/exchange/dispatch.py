"""Delivering the outbox: push to each destination in order, retry, pause the failing.

``deliver_due`` is the unit of work — everything due for one destination, under a lease so
one deliverer at a time serves an agency. It runs in an rq job (``hub.exchange.jobs``) when
Redis is configured, or in the embedded dispatcher thread otherwise. Either way the outbox
table is the truth: :func:`sweep` finds every destination with due work, so a lost job, a
flushed Redis or a killed worker delays a delivery but never loses it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx
from sqlalchemy.orm import Session

from hub.config import Settings
from hub.errors import HubError
from hub.exchange import outbox
from hub.exchange.envelopes import policy_for
from hub.exchange.outbox import RetryPolicy
from hub.exchange.push import PushFailed, Timeouts, push
from hub.services import Hub

log = logging.getLogger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Delivery:
    """Tunables of delivery, from settings."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    lease_seconds: float = 30.0
    batch: int = 100
    concurrency: int = 8

    @classmethod
    def from_settings(cls, s: Settings) -> Delivery:
        return cls(
            retry=RetryPolicy(
                base_seconds=s.delivery_backoff_base,
                cap_seconds=s.delivery_backoff_cap,
                max_attempts=s.delivery_max_attempts,
                max_age=timedelta(hours=s.delivery_max_age_hours),
                breaker_threshold=s.delivery_breaker,
            ),
            timeouts=Timeouts(connect=s.delivery_connect_timeout, read=s.delivery_read_timeout),
            lease_seconds=s.delivery_lease_seconds,
            concurrency=s.delivery_concurrency,
        )


def deliver_due(
    hub: Hub,
    destination: str,
    *,
    http: httpx.Client,
    tuning: Delivery,
    owner: str = OWNER,
    rounds: int = 5,
) -> int:
    """Send what is due for ``destination``; returns how many were delivered.

    At most ``rounds`` rounds of ``tuning.batch`` each, so one busy destination cannot keep a
    worker from the others (the sweeper brings the job back for the rest). Stops early when
    nothing is due, the circuit opens, or the lease is lost (its holder sends these too).

    One transaction per round in the steady state: the one that records a round's outcomes
    also claims the next round (or lets the lease go when there is none), so a busy
    destination costs a commit per round, not four.
    """
    delivered = 0
    claimed, endpoint = _first_round(hub, destination, owner=owner, tuning=tuning)
    if claimed is None:
        return 0  # a pull agency, or another deliverer holds the lease
    for left in range(rounds - 1, -1, -1):
        if claimed:
            assert endpoint is not None
            sent, claimed = _send_in_order(
                hub,
                destination,
                endpoint,
                claimed,
                http=http,
                tuning=tuning,
                owner=owner,
                then_claim=left > 0,
            )
            delivered += sent
            if claimed is None:
                return delivered  # circuit open or lease lost; the lease is let go
            if claimed:
                continue  # claimed with this round's record: the lease is still ours
        else:
            with hub.transaction() as s:
                outbox.release_lease(s, destination, owner=owner)
        if left == 0 or not _due_after_release(hub, destination):
            return delivered
        # work arrived while we held the lease: its own job may have found it taken
        claimed, endpoint = _first_round(hub, destination, owner=owner, tuning=tuning)
        if claimed is None:
            return delivered
    with hub.transaction() as s:
        outbox.release_lease(s, destination, owner=owner)
    return delivered


def _first_round(
    hub: Hub, destination: str, *, owner: str, tuning: Delivery
) -> tuple[list[outbox.Claimed] | None, str | None]:
    """Lease, what is due and its claim, in one transaction: ``(claimed, endpoint)``;
    ``claimed`` is None when there is nothing to do here (a pull agency fetches its own; a
    lease held by someone else), else the round (possibly empty, the lease then ours)."""
    with hub.transaction() as s:
        now = hub.now()
        mode, endpoint = outbox.agency_mode(s, destination)
        if mode != "push" or not endpoint:
            return None, None  # no lease, nothing loaded
        if not outbox.take_lease(
            s, destination, owner=owner, now=now, seconds=tuning.lease_seconds
        ):
            return None, None
        return _claim_next(s, destination, owner=owner, now=now, tuning=tuning), endpoint


def _claim_next(
    s: Session, destination: str, *, owner: str, now: datetime, tuning: Delivery
) -> list[outbox.Claimed] | None:
    work = outbox.due_keys(s, destination, now=now, limit=tuning.batch)
    if not work:
        return []
    return outbox.claim_round(
        s,
        destination,
        [delivery_id for delivery_id, _ in work],
        owner=owner,
        now=now,
        lease_seconds=tuning.lease_seconds,
    )


def _due_after_release(hub: Hub, destination: str) -> bool:
    """After the lease is let go, one more look for due work.

    Closes a race: a message committed while we held the lease gets a job that finds the
    lease taken and returns; without this second look it would wait for the next sweep.
    """
    with hub.transaction() as s:
        return bool(outbox.due_keys(s, destination, now=hub.now(), limit=1))


class _Counter:
    def __init__(self) -> None:
        self.value, self._lock = 0, threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


@dataclass
class _Outcome:
    """What one push came to: an ack to check, a failure, or not tried (held back)."""

    ack: bytes | None = None
    error: str | None = None
    retry_after: float | None = None


def _send_in_order(
    hub: Hub,
    destination: str,
    endpoint: str,
    claimed: list[outbox.Claimed],
    *,
    http: httpx.Client,
    tuning: Delivery,
    owner: str,
    then_claim: bool,
) -> tuple[int, list[outbox.Claimed] | None]:
    """One claimed round: push cases side by side, record every outcome, and (with
    ``then_claim``) claim the next round in the same transaction. ``(sent, next round)``:
    the next round is None when delivery must stop (circuit open, lease lost) and empty
    when nothing more is due; in both cases the lease has been let go.

    A few transactions per round instead of two per message. Different cases go out in
    parallel (``tuning.concurrency`` at once: a ministry across the country answers in tens
    of milliseconds, and one at a time would cap a destination at a few dozen a second);
    one case's messages go one after another, and a failure holds back the rest of its case.
    Pushes go one at a time until the destination has answered once, and after
    ``breaker_threshold`` failures in the round nothing more is tried: a destination that is
    down is probed, not hammered, while its circuit is about to open.
    """
    by_case: dict[str | None, list[outbox.Claimed]] = {}
    for c in claimed:
        by_case.setdefault(c.case_id, []).append(c)
    outcomes: dict[int, _Outcome] = {}
    failed = _Counter()

    def push_case(items: list[outbox.Claimed]) -> None:
        for c in items:
            if failed.value >= tuning.retry.breaker_threshold:
                return  # enough failures this round: leave the rest untried
            try:
                outcomes[c.id] = _Outcome(ack=push(http, endpoint, c.jws, timeouts=tuning.timeouts))
            except PushFailed as exc:
                failed.add()
                outcomes[c.id] = _Outcome(error=exc.reason, retry_after=exc.retry_after)
                return  # the rest of this case waits for this one

    groups = list(by_case.values())
    while groups and not any(o.ack is not None for o in outcomes.values()):
        push_case(groups.pop(0))  # one at a time until the destination answers once
    if len(groups) == 1 or tuning.concurrency <= 1:
        for g in groups:
            push_case(g)
    elif groups:
        with ThreadPoolExecutor(min(tuning.concurrency, len(groups))) as pool:
            list(pool.map(push_case, groups))
    return _record_round(
        hub, destination, claimed, outcomes, tuning=tuning, owner=owner, then_claim=then_claim
    )


def _record_round(
    hub: Hub,
    destination: str,
    claimed: list[outbox.Claimed],
    outcomes: dict[int, _Outcome],
    *,
    tuning: Delivery,
    owner: str,
    then_claim: bool,
) -> tuple[int, list[outbox.Claimed] | None]:
    """Every outcome of a round in one transaction, in the round's order (the breaker
    counts failures in a row). A bad ack is a failure; an untried delivery goes back to
    how it was before the claim. The same transaction claims the next round or lets the
    lease go."""
    sent = 0
    with hub.transaction() as s:
        now = hub.now()
        answered = [c.id for c in claimed if (o := outcomes.get(c.id)) and o.ack is not None]
        recorded = dict(
            zip(
                answered,
                outbox.record_acks(
                    s,
                    [outcomes[i].ack or b"" for i in answered],
                    policy=policy_for(hub.settings),
                    now=now,
                    expect_from=destination,
                ),
                strict=True,
            )
        )
        for c in claimed:
            o = outcomes.get(c.id)
            if o is None:
                outbox.unclaim(s, c)
                continue
            error = o.error
            result = recorded.get(c.id)
            if isinstance(result, HubError):
                error = f"bad ack ({result.slug}): {result.detail}"
            elif result is not None:
                outbox.destination_result(
                    s, destination, ok=True, error=None, now=now, policy=tuning.retry
                )
                sent += 1
                continue
            log.info("delivery %s to %s failed: %s", c.id, destination, error)
            outbox.fail(
                s,
                c.id,
                destination,
                error or "unknown",
                now=now,
                policy=tuning.retry,
                retry_after=o.retry_after,
            )
        if outbox.paused(s, destination):
            outbox.release_lease(s, destination, owner=owner)
            return sent, None
        following = (
            _claim_next(s, destination, owner=owner, now=now, tuning=tuning) if then_claim else []
        )
        if not following:
            outbox.release_lease(s, destination, owner=owner)
    return sent, following


def sweep(hub: Hub) -> list[str]:
    """Destinations with due push work right now (the outbox is the truth)."""
    with hub.transaction() as s:
        return outbox.destinations_due(s, now=hub.now())


class Dispatcher(Protocol):
    """Told after each commit which destinations have new work; finds the rest by sweeping."""

    def wake(self, destinations: Iterable[str]) -> None: ...

    def stop(self) -> None: ...


class NullDispatcher:
    """For processes that must not deliver (tests of intake alone, CLI tools)."""

    def wake(self, destinations: Iterable[str]) -> None:
        return None

    def stop(self) -> None:
        return None


class EmbeddedDispatcher:
    """Delivery inside the hub process when there is no Redis: a sweeper thread plus a pool."""

    def __init__(
        self,
        hub: Hub,
        *,
        tuning: Delivery | None = None,
        interval: float = 1.0,
        http: httpx.Client | None = None,
        workers: int = 4,
    ) -> None:
        self.hub, self.tuning, self.interval = hub, tuning or Delivery(), interval
        self.http = http or httpx.Client()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver")
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._thread.start()

    def wake(self, destinations: Iterable[str]) -> None:
        for d in destinations:
            self._submit(d)

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for d in sweep(self.hub):
                    self._submit(d)
            except HubError:
                log.warning("sweep failed", exc_info=True)
            self._kick.wait(self.interval)
            self._kick.clear()

    def _submit(self, destination: str) -> None:
        with self._lock:
            if destination in self._busy or self._stop.is_set():
                return
            self._busy.add(destination)
        self._pool.submit(self._deliver, destination)

    def _deliver(self, destination: str) -> None:
        try:
            deliver_due(self.hub, destination, http=self.http, tuning=self.tuning)
        except Exception:
            log.exception("delivery round for %s failed", destination)
        finally:
            with self._lock:
                self._busy.discard(destination)


class RqDispatcher:
    """Delivery by rq workers: one job per destination with work, enqueued at most once.

    A Redis key per destination (``hub:queued:<agency>``, a few sweeps long) stops a burst
    of commits from enqueueing a job each; the job clears it when it starts, so work
    committed while it runs gets a fresh job. A sweeper thread re-wakes every destination
    the outbox says is due, which is how a flushed Redis or a killed worker loses nothing.
    """

    QUEUE = "hub-deliveries"

    def __init__(self, hub: Hub, *, sweep_thread: bool = True) -> None:
        from redis import Redis
        from rq import Queue

        assert hub.settings.redis_url, "RqDispatcher needs HUB_REDIS_URL"
        self.hub = hub
        # short: a marker left by a process killed between SET and enqueue (or a worker
        # killed before it cleared it) must not hold the destination back for long; an
        # extra job is harmless, the lease lets one deliverer in at a time
        self.marker_seconds = max(5, int(5 * hub.settings.dispatch_interval))
        self.redis = Redis.from_url(hub.settings.redis_url)
        self.queue = Queue(self.QUEUE, connection=self.redis, serializer="json")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if sweep_thread:
            self._thread = threading.Thread(target=self._run, name="rq-sweeper", daemon=True)
            self._thread.start()

    def wake(self, destinations: Iterable[str]) -> None:
        from redis import RedisError

        for d in destinations:
            try:
                if self.redis.set(queued_key(d), "1", nx=True, ex=self.marker_seconds):
                    self.queue.enqueue(
                        "hub.exchange.jobs.deliver",
                        d,
                        job_timeout=600,
                        result_ttl=0,
                        failure_ttl=3600,
                    )
            except RedisError:
                log.warning(
                    "could not enqueue delivery for %s; the sweeper will retry", d, exc_info=True
                )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.hub.settings.dispatch_interval):
            try:
                self.wake(sweep(self.hub))
            except HubError:
                log.warning("sweep failed", exc_info=True)


def queued_key(destination: str) -> str:
    return f"hub:queued:{destination}"


def start_dispatcher(hub: Hub) -> Dispatcher:
    """The dispatcher the settings call for, wired so intake wakes it after each commit."""
    dispatcher: Dispatcher = (
        RqDispatcher(hub) if hub.settings.redis_url else EmbeddedDispatcher(hub)
    )
    hub.wake = dispatcher.wake
    return dispatcher


DispatcherFactory = Callable[[Hub], Dispatcher]

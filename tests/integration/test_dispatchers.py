"""The dispatchers drive delivery on their own: embedded (no Redis) and rq (real Redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from hub.exchange.dispatch import EmbeddedDispatcher, RqDispatcher
from hub.models import Delivery
from tests.support.destination import SimulatedAgency
from tests.support.envelopes import traffy_complaint


def water(i: int) -> dict:
    body = traffy_complaint(i)
    body["category"] = "water_supply"
    return body


@pytest.fixture
def mwa(agencies) -> Iterator[SimulatedAgency]:
    agency = agencies.enrol(
        "mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"]
    )
    with SimulatedAgency(agency.client) as sim:
        agencies.set_endpoint("mwa", sim.url)
        yield sim


def _wait_all_delivered(hub, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with hub.transaction() as s:
            done = s.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state == "delivered")
            )
        if done == n:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {done} of {n} delivered in {timeout} s")


def test_embedded_dispatcher_delivers_after_commit(hub, agencies, mwa):
    bma = agencies.enrol("bma")
    dispatcher = EmbeddedDispatcher(hub)
    hub.wake = dispatcher.wake
    try:
        for i in range(10):
            bma.client.send("complaint.submit", water(i))
        _wait_all_delivered(hub, 10)
    finally:
        dispatcher.stop()
    assert mwa.total_calls() == 10 and mwa.duplicates() == 0


@pytest.mark.redis
def test_rq_jobs_deliver_and_the_sweeper_recovers_a_flushed_queue(
    hub, agencies, mwa, redis_url, monkeypatch
):
    from redis import Redis
    from rq import Queue, SimpleWorker

    from hub.exchange import jobs

    hub.settings = hub.settings.with_(redis_url=redis_url)
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    monkeypatch.setattr(jobs, "_context", lambda: (hub, httpx.Client(), jobs.Delivery(), conn))
    dispatcher = RqDispatcher(hub, sweep_thread=False)
    hub.wake = dispatcher.wake
    bma = agencies.enrol("bma")
    for i in range(6):
        bma.client.send("complaint.submit", water(i))
    queue = Queue(RqDispatcher.QUEUE, connection=conn, serializer="json")
    assert queue.count == 1  # one job for the destination, not one per message
    conn.flushdb()  # Redis loses everything
    assert queue.count == 0
    dispatcher.wake(
        __import__("hub.exchange.dispatch", fromlist=["sweep"]).sweep(hub)
    )  # what the sweeper does
    SimpleWorker([queue], connection=conn, serializer="json").work(burst=True)
    _wait_all_delivered(hub, 6, timeout=5)
    assert mwa.total_calls() == 6 and mwa.duplicates() == 0
    conn.flushdb()


def test_waking_a_pull_agency_takes_no_lease_and_loads_nothing(hub, agencies):
    """A pull agency fetches its own forwards; a wake for it (every intake sends one) must
    not lease it or read its backlog. It once read up to 400 deliveries five times over."""
    from sqlalchemy import event

    from hub.exchange.dispatch import deliver_due
    from hub.exchange.jobs import Delivery as Tuning
    from hub.models import Destination

    agencies.enrol("bma")  # pull: the default
    sender = agencies.enrol("ops1111", kind="hotline", areas=[], roles=["submit"])
    for i in range(5):
        sender.client.send("complaint.submit", traffy_complaint(i))
    with hub.transaction() as s:
        pending = s.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.destination == "bma")
        )
    assert pending == 5
    statements: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(hub.engine, "before_cursor_execute", listen)
    try:
        assert deliver_due(hub, "bma", http=httpx.Client(), tuning=Tuning()) == 0
    finally:
        event.remove(hub.engine, "before_cursor_execute", listen)
    assert not [q for q in statements if "deliveries" in q or "destinations" in q]
    with hub.transaction() as s:
        assert s.get(Destination, "bma") is None  # never leased
        assert (
            s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "pending"))
            == 5
        )

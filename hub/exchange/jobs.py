"""rq jobs. Module-level functions with JSON-safe arguments; the hub is built inside the
worker process (never inherited across a fork), once per process."""

from __future__ import annotations

import contextlib
import functools
import logging
import time

import httpx
from redis import Redis
from redis.exceptions import ConnectionError as RedisDown

from hub.config import Settings
from hub.exchange.dispatch import Delivery, deliver_due, queued_key
from hub.services import Hub, build_hub


@functools.cache
def _context() -> tuple[Hub, httpx.Client, Delivery, Redis | None]:
    settings = Settings.from_env()
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub = build_hub(settings, create_key=False)
    return hub, httpx.Client(), Delivery.from_settings(settings), redis


log = logging.getLogger(__name__)


def deliver(destination: str) -> int:
    """Deliver everything due for one destination; returns how many were delivered."""
    hub, http, tuning, redis = _context()
    if redis is not None:
        # work committed from now on gets a new job; with Redis gone the marker expires by
        # itself, and delivering matters more than tidying it
        with contextlib.suppress(RedisDown):
            redis.delete(queued_key(destination))
    return deliver_due(hub, destination, http=http, tuning=tuning)


def work(redis_url: str, *, burst: bool = False, max_wait: float = 30.0) -> None:
    """Run an rq worker until it is told to stop, and outlive Redis going away.

    rq's worker gives up when Redis vanishes under a running job; a deliverer must not
    (Redis is a wake-up call here, the outbox is the truth). Each time, wait — 1 s, doubling
    up to ``max_wait`` — and start a fresh worker on a fresh connection.
    """
    from rq import Queue, SimpleWorker

    from hub.exchange.dispatch import RqDispatcher

    wait = 1.0
    while True:
        conn = Redis.from_url(redis_url)
        try:
            queue = Queue(RqDispatcher.QUEUE, connection=conn, serializer="json")
            SimpleWorker([queue], connection=conn, serializer="json").work(burst=burst)
            return
        except RedisDown as exc:
            log.warning("Redis unavailable (%s); a new worker in %.0f s", exc, wait)
            time.sleep(wait)
            wait = min(wait * 2, max_wait)
        finally:
            conn.close()

"""rq jobs. Module-level functions with JSON-safe arguments; the hub is built inside the
worker process (never inherited across a fork), once per process."""

from __future__ import annotations

import functools

import httpx
from redis import Redis

from hub.config import Settings
from hub.exchange.dispatch import Delivery, deliver_due, queued_key
from hub.services import Hub, build_hub


@functools.cache
def _context() -> tuple[Hub, httpx.Client, Delivery, Redis | None]:
    settings = Settings.from_env()
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub = build_hub(settings, create_key=False)
    return hub, httpx.Client(), Delivery.from_settings(settings), redis


def deliver(destination: str) -> int:
    """Deliver everything due for one destination; returns how many were delivered."""
    hub, http, tuning, redis = _context()
    if redis is not None:
        redis.delete(queued_key(destination))  # work committed from now on gets a new job
    return deliver_due(hub, destination, http=http, tuning=tuning)

"""/health tells the truth about the database and Redis."""

from __future__ import annotations

import pytest

from hub.app import create_app
from hub.services import build_hub


def _health(settings, clock):
    hub = build_hub(settings, clock=clock)
    try:
        with create_app(settings, hub=hub, validate_responses=True).test_client() as c:
            return c.get("/health")
    finally:
        hub.engine.dispose()


def test_embedded_default_needs_no_redis(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok" and r.json()["redis"] == "not-configured"


@pytest.mark.redis
def test_reachable_redis_is_reported(settings, clock, redis_url):
    r = _health(settings.with_(redis_url=redis_url), clock)
    assert r.status_code == 200 and r.json()["redis"] == "ok"


def test_unreachable_redis_makes_the_hub_degraded(settings, clock):
    r = _health(settings.with_(redis_url="redis://127.0.0.1:1/0"), clock)
    assert r.status_code == 503
    assert r.json() | {"version": "x"} == {
        "status": "degraded",
        "database": "ok",
        "redis": "down",
        "version": "x",
    }


def test_unreachable_database_makes_the_hub_degraded(key_dir, clock, tmp_path):
    from hub.config import Settings

    settings = Settings(
        database_url="postgresql+psycopg2://nobody@127.0.0.1:1/none", key_dir=key_dir
    )
    r = _health(settings, clock)
    assert r.status_code == 503 and r.json()["database"] == "down"

"""Shared fixtures: a real database per backend, a hub, an app, and signing agencies.

Backends: SQLite always; PostgreSQL and Redis when ``HUB_TEST_DATABASE_URL`` /
``HUB_TEST_REDIS_URL`` are set. With ``HUB_TEST_REQUIRE_SERVICES=1`` (what ``.ci/run``
sets) a test that needs a missing service FAILS instead of skipping.
Each test starts from empty tables (truncated after the schema was migrated once).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub.config import Settings
from hub.db import make_engine
from hub.migrate import upgrade
from hub.models import Base
from tests.support.agencies import AgencyFactory
from tests.support.clock import FakeClock

REQUIRE = os.environ.get("HUB_TEST_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")


def _need(value: str | None, what: str) -> str:
    if value:
        return value
    if REQUIRE:
        pytest.fail(f"{what} is required here (HUB_TEST_REQUIRE_SERVICES=1) but not configured")
    pytest.skip(f"{what} not configured")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _need(PG_URL, "PostgreSQL (HUB_TEST_DATABASE_URL)")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = _need(REDIS_URL, "Redis (HUB_TEST_REDIS_URL)")
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} does not answer: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per backend; tables are emptied afterwards."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    yield url
    truncate(url)


def truncate(url: str) -> None:
    engine: Engine = make_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(text("INSERT INTO log_state (id, size) VALUES (1, 0)"))
        # a new stamp: no process may take its cached registry for this emptied one
        stamp = secrets.randbits(62) + 1
        conn.execute(text(f"INSERT INTO registry_state (id, stamp) VALUES (1, {stamp})"))
    engine.dispose()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    return Settings(database_url=database_url, key_dir=key_dir)


@pytest.fixture
def hub(settings: Settings, clock: FakeClock):
    from hub.services import build_hub

    h = build_hub(settings, clock=clock)
    yield h
    h.engine.dispose()


@pytest.fixture
def app(settings: Settings, hub):
    from hub.app import create_app

    return create_app(settings, hub=hub, validate_responses=True)


@pytest.fixture
def client(app):
    with app.test_client() as c:
        yield c


@pytest.fixture
def agencies(hub, client, clock: FakeClock) -> AgencyFactory:
    return AgencyFactory(hub, client, clock)

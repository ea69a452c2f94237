"""Alembic owns the schema: it goes up and down on both backends and matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from hub.db import make_engine
from hub.migrate import current_heads, downgrade, upgrade
from hub.models import Base


def _fresh(url: str) -> None:
    downgrade(url, "base")
    assert set(inspect(make_engine(url)).get_table_names()) <= {"alembic_version"}
    upgrade(url)


@pytest.fixture
def migrated(database_url: str) -> str:
    _fresh(database_url)
    return database_url


def test_upgrade_creates_every_model_table(migrated: str) -> None:
    tables = set(inspect(make_engine(migrated)).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_models_and_migrations_agree(migrated: str) -> None:
    engine = make_engine(migrated)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_database_is_at_the_single_head(migrated: str) -> None:
    with make_engine(migrated).connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert {version} == current_heads()


def test_log_lock_row_is_seeded(migrated: str) -> None:
    with make_engine(migrated).connect() as conn:
        assert conn.execute(text("SELECT id, size FROM log_state")).all() == [(1, 0)]


@pytest.mark.postgres
def test_json_columns_are_jsonb_on_postgresql(postgres_url: str) -> None:
    cols = {
        c["name"]: c["type"] for c in inspect(make_engine(postgres_url)).get_columns("complaints")
    }
    assert type(cols["record"]).__name__ == "JSONB"

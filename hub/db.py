"""Engine and session lifecycle.

Core functions receive a ``Session`` and never commit; the request scope (``hub.api``) or the
job wrapper owns the transaction through :func:`transaction`. Driver exceptions stop here:
an unreachable database becomes :class:`hub.errors.Unavailable`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import Unavailable

log = logging.getLogger(__name__)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned per backend: SQLite gets WAL, foreign keys and a busy timeout;
    psycopg2 sends many-row UPDATEs in pages (``execute_batch``) rather than one round trip
    per row (a round of deliveries claimed or settled, the rows a batch touches). The stamps
    the transparency log's leaves put on their rows do not go this way: they travel in the
    log's own write (``hub.exchange.translog``), while its lock is held."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql+psycopg2"):
        kwargs.setdefault("executemany_mode", "values_plus_batch")
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defeat BEGIN IMMEDIATE below.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN: two deferred writers that both read first would
    # otherwise deadlock on the upgrade and one would fail with "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that number queued log leaves just before they commit (see translog)."""
    from hub.exchange import translog

    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_commit", translog.sequence)
    event.listen(factory, "after_soft_rollback", translog.discard)
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise Unavailable("database unavailable") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except DBAPIError:
        log.warning("database ping failed", exc_info=True)
        return False

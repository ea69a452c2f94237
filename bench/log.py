"""Transparency-log benchmark: appends inside the intake transaction, proofs at 1M and 10M leaves.

    HUB_DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/hub_logbench \\
        .venv/bin/python bench/log.py [--quick] [--sizes 1000000,10000000] [--proofs 500]

The database named by HUB_DATABASE_URL is EMPTIED (``alembic downgrade base`` + ``upgrade``):
point it at a database made for benchmarking. Unset, a temp SQLite file is used and a warning
says so -- the PostgreSQL figures are the ones that count.

1. Appends per second the way intake makes them: ``translog.enqueue`` inside the transaction,
   numbered and written by ``translog.sequence`` in the session's before_commit hook under the
   ``log_state`` row lock (older translog without ``enqueue``: ``translog.append`` per leaf):
   one append per transaction (single-message intake), 200 per transaction (a batch), and two
   processes appending at once (lock contention). Each figure is the median of ``--runs``
   runs of ``--seconds`` each. Beside them, the machine's own limits measured in the same run
   on the same database: trivial ``INSERT`` + ``COMMIT`` transactions (one row per
   transaction, 200 rows per transaction, two processes) and pure-Python ``MemoryNodes.append``
   (``leaf_hash`` + ``merkle.nodes_to_store`` over a dict), with ratios; and, for
   comparison, ``translog.append`` called once per leaf (the tools' path) at 200 per tx.
2. Proof latency at each size (default 1M then 10M leaves; ``--quick``: 100k). On PostgreSQL
   the log is filled in SQL (``generate_series``, ``sha256``) level by level with *real*
   RFC 9162 hashes: leaf hash = SHA-256(0x00 || leaf_input) over synthetic canonical-JSON leaf
   inputs shaped like the hub's, node (k+1, i) = SHA-256(0x01 || (k, 2i) || (k, 2i+1)). The
   10M tree *extends* the 1M one (write-once nodes, exactly as appends would leave them).
   Then ``VACUUM ANALYZE``, a structural check (node count and index range per level), proofs
   verified with ``merkle.verify_inclusion`` / ``verify_consistency`` against
   ``merkle.root_hash(N, DbNodes)``, an independent root recomputation from the stored leaf
   inputs (sizes <= 1M, or every size with ``--full-check``), and timing: ``translog.inclusion``
   and ``translog.consistency`` with random arguments, each call its own short transaction (as
   the API does), p50/p95/p99; ``merkle.root_hash`` and ``translog.publish_head`` (rolled back
   so each call recomputes). ``EXPLAIN (ANALYZE, BUFFERS)`` of the exact node query psycopg2
   sends, and table sizes.
3. Appends once more at the largest size (one run each), to show append cost does not grow
   with the log.

Prints a table; the last line is
``log: append N/s (1/tx), M/s (200/tx); inclusion p95 X ms at 10M; consistency p95 Y ms at 10M``.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from _common import (
    database_url_from_env,
    is_postgres,
    median,
    percentile,
    reset_database,
)
from sqlalchemy import Engine, event, insert, select, text, tuple_
from sqlalchemy.orm import Session, sessionmaker

from hub.db import make_engine, make_sessionmaker, transaction
from hub.exchange import merkle, translog
from hub.exchange.hubkey import HubSigner, SigningKey
from hub.exchange.keys import generate_private_key, jwk_thumbprint, public_jwk
from hub.models import LogLeaf, LogNode, LogState

INTAKE_QUEUES = hasattr(translog, "enqueue")  # leaves numbered at commit (translog.sequence)
APPEND_LABEL = "enqueue+commit" if INTAKE_QUEUES else "translog.append"
BATCH = 200  # appends per transaction for the "batch" figure (the default intake batch size)
BARE_TABLE = "bench_log_bare"
FULL_SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (100_000,)
SQLITE_MAX_SIZE = 1_000_000  # the Python fill path is too slow beyond this


# --------------------------------------------------------------------------- small helpers


def now_utc() -> datetime:
    return datetime.now(UTC)


def leaf_data(worker: int, n: int) -> bytes:
    """A leaf input shaped like ``translog.leaf_input``: canonical JSON, about 190 bytes."""
    digest = hashlib.sha256(f"{worker}:{n}".encode()).hexdigest()
    return (
        f'{{"id":"bench-{worker}-{n}","issuer":"bench-{worker}","jws_sha256":"{digest}",'
        f'"received_at":"2025-06-01T00:00:00.{n % 1_000_000:06d}Z","type":"complaint.submit"}}'
    ).encode()


def human(n: float) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n / 1_000_000:.0f}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n / 1000:.0f}k"
    return f"{n:,.0f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def say(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class Rate:
    """Per-run rates (items/s) of one measurement; the figure is their median."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.runs)

    def spread(self) -> str:
        if len(self.runs) < 2:
            return ""
        return f"{min(self.runs):,.0f}..{max(self.runs):,.0f}"


def run_for(seconds: float, step: Callable[[], int]) -> float:
    """Call ``step`` (one transaction, returns items done) until ``seconds`` pass; items/s."""
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        done += step()
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


# --------------------------------------------------------------------------- transactions


class Workload:
    """One process's unit-of-work functions against one engine (appends or bare inserts)."""

    def __init__(self, url: str, worker: int) -> None:
        pool = {"pool_size": 2, "max_overflow": 0} if is_postgres(url) else {}
        self.engine = make_engine(url, **pool)
        self.factory = make_sessionmaker(self.engine)
        self.worker = worker
        self.n = 0
        self.bare_sql = text(f"INSERT INTO {BARE_TABLE} (v) VALUES (:v)")

    def _next(self) -> bytes:
        self.n += 1
        return leaf_data(self.worker, self.n)

    def append(self, per_tx: int) -> int:
        """The intake path: queue ``per_tx`` leaves, commit (``translog.sequence`` numbers and
        writes them in the session's before_commit hook). Older translog: ``append`` each."""
        with transaction(self.factory) as session:
            now = now_utc()
            for _ in range(per_tx):
                if INTAKE_QUEUES:
                    translog.enqueue(session, self._next(), envelope_id=None, now=now)
                else:
                    translog.append(session, self._next(), envelope_id=None, now=now)
        return per_tx

    def per_leaf(self, per_tx: int) -> int:
        """``translog.append`` once per leaf (tools' path): lock, read, write per leaf."""
        with transaction(self.factory) as session:
            now = now_utc()
            for _ in range(per_tx):
                translog.append(session, self._next(), envelope_id=None, now=now)
        return per_tx

    def bare(self, per_tx: int) -> int:
        with transaction(self.factory) as session:
            if per_tx == 1:
                session.execute(self.bare_sql, {"v": self._next()})
            else:
                session.execute(self.bare_sql, [{"v": self._next()} for _ in range(per_tx)])
        return per_tx

    def step(self, kind: str, per_tx: int) -> Callable[[], int]:
        fn = {"append": self.append, "bare": self.bare, "per_leaf": self.per_leaf}[kind]
        return lambda: fn(per_tx)

    def close(self) -> None:
        self.engine.dispose()


def _proc_worker(
    url: str,
    worker: int,
    kind: str,
    per_tx: int,
    seconds: float,
    ready: Any,
    start: Any,
    results: Any,
) -> None:
    """A separate process: warm up, wait for the common start, run, report (count, t0, t1)."""
    load = Workload(url, worker)
    try:
        load.step(kind, 1)()  # connect + warm the statement caches
        ready.put(worker)
        if not start.wait(timeout=120):
            results.put((worker, 0, 0.0, 0.0))
            return
        t0 = time.monotonic()
        deadline, done = t0 + seconds, 0
        step = load.step(kind, per_tx)
        while time.monotonic() < deadline:
            done += step()
        results.put((worker, done, t0, time.monotonic()))
    except Exception as exc:  # report instead of hanging the parent
        results.put((worker, -1, 0.0, repr(exc)))
    finally:
        load.close()


def concurrent_rate(
    url: str, kind: str, per_tx: int, seconds: float, procs: int, base: int
) -> float:
    """Aggregate items/s of ``procs`` processes running the same workload at once."""
    ctx = mp.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    workers = [
        ctx.Process(
            target=_proc_worker,
            args=(url, base + i, kind, per_tx, seconds, ready, start, results),
            daemon=True,
        )
        for i in range(procs)
    ]
    for p in workers:
        p.start()
    try:
        for _ in workers:
            ready.get(timeout=120)
        start.set()
        out = [results.get(timeout=seconds + 120) for _ in workers]
    finally:
        for p in workers:
            p.join(timeout=30)
            if p.is_alive():  # only our own children, by handle
                p.kill()
                p.join(timeout=5)
    failed = [o for o in out if o[1] < 0]
    if failed:
        raise RuntimeError(f"concurrent worker failed: {failed}")
    total = sum(o[1] for o in out)
    t0 = min(o[2] for o in out)
    t1 = max(o[3] for o in out)
    return total / (t1 - t0)


def python_merkle_rate(seconds: float) -> float:
    """Pure Python: ``MemoryNodes.append`` = leaf_hash + nodes_to_store over a dict."""
    nodes = merkle.MemoryNodes()
    data = [leaf_data(9, i) for i in range(1000)]

    def step() -> int:
        for d in data:
            nodes.append(d)
        return len(data)

    return run_for(seconds, step)


# --------------------------------------------------------------------------- append section


@dataclass
class AppendFigures:
    rates: dict[str, Rate] = field(default_factory=dict)
    at_size: dict[str, float] = field(default_factory=dict)
    at_size_n: int = 0
    checked: str = ""


def create_bare_table(engine: Engine) -> None:
    pk = "INTEGER PRIMARY KEY" if engine.dialect.name == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        conn.exec_driver_sql(f"CREATE TABLE {BARE_TABLE} (id {pk}, v BYTEA NOT NULL)")


def drop_bare_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {BARE_TABLE}")


def measure_appends(url: str, engine: Engine, runs: int, seconds: float) -> AppendFigures:
    create_bare_table(engine)
    figs = AppendFigures()
    load = Workload(url, 0)
    plan: list[tuple[str, Callable[[], float]]] = [
        ("bare 1/tx", lambda: run_for(seconds, load.step("bare", 1))),
        ("append 1/tx", lambda: run_for(seconds, load.step("append", 1))),
        (f"bare {BATCH}/tx", lambda: run_for(seconds, load.step("bare", BATCH))),
        (f"append {BATCH}/tx", lambda: run_for(seconds, load.step("append", BATCH))),
        ("bare 1/tx x2", lambda: concurrent_rate(url, "bare", 1, seconds, 2, 100)),
        ("append 1/tx x2", lambda: concurrent_rate(url, "append", 1, seconds, 2, 200)),
        (f"append {BATCH}/tx x2", lambda: concurrent_rate(url, "append", BATCH, seconds, 2, 300)),
        (f"per-leaf {BATCH}/tx", lambda: run_for(seconds, load.step("per_leaf", BATCH))),
        ("python merkle", lambda: python_merkle_rate(seconds)),
    ]
    try:
        load.append(1)  # warm up connection and statements
        load.bare(1)
        for run in range(runs):  # interleaved, so slow phases of a noisy machine hit all rows
            for name, fn in plan:
                figs.rates.setdefault(name, Rate()).runs.append(fn())
            say(
                f"  append run {run + 1}/{runs}: "
                + ", ".join(f"{k} {v.runs[-1]:,.0f}/s" for k, v in figs.rates.items())
            )
    finally:
        load.close()
        drop_bare_table(engine)
    figs.checked = check_appended_tree(engine)
    return figs


def check_appended_tree(engine: Engine) -> str:
    """The tree the appends built (queued, per-leaf, 1 and 2 processes) is a real RFC 9162 tree."""
    t = time.perf_counter()
    with Session(engine) as s:
        n = translog.size(s)
        root = merkle.root_hash(n, translog.DbNodes(s))
    check_structure(engine, n)
    if independent_root(engine, n) != root:
        raise RuntimeError(f"appended log of {n} leaves: root differs from the leaves' MTH")
    return f"{n:,} appended leaves: node shape and root verified ({time.perf_counter() - t:.1f}s)"


def measure_appends_at_size(url: str, seconds: float, figs: AppendFigures, size: int) -> None:
    load = Workload(url, 7)
    try:
        load.append(1)
        figs.at_size["append 1/tx"] = run_for(seconds, load.step("append", 1))
        figs.at_size[f"append {BATCH}/tx"] = run_for(seconds, load.step("append", BATCH))
        figs.at_size_n = size
    finally:
        load.close()


# --------------------------------------------------------------------------- filling the log

# Canonical JSON like translog.leaf_input (keys sorted), ~190 bytes, distinct per index.
LEAF_SQL = (
    'convert_to(format(\'{"id":"bench-%s","issuer":"bench-%s","jws_sha256":"%s",'
    '"received_at":"2025-06-01T00:00:00.%sZ","type":"complaint.submit"}\', '
    "i, i % 77, encode(sha256(int8send(i)), 'hex'), lpad((i % 1000000)::text, 6, '0')), 'UTF8')"
)
PAIR_SQL = (
    "CREATE TEMP TABLE lb_next AS SELECT idx >> 1 AS idx, "
    "sha256('\\x01'::bytea || hash || r) AS hash FROM ("
    "  SELECT idx, hash, lead(hash) OVER (ORDER BY idx) AS r FROM lb_cur) s "
    "WHERE idx % 2 = 0 AND r IS NOT NULL"
)


def fill_postgres(engine: Engine, n0: int, n1: int) -> dict[str, float]:
    """Grow the log from ``n0`` to ``n1`` leaves in SQL with real RFC 9162 hashes.

    Level by level: level 0 = leaf hashes of [n0, n1) plus the old frontier node of that
    level (when the old size has that bit set), paired with ``lead()`` into the next level.
    Only nodes that are new at ``n1`` are inserted, so the result is exactly what ``n1 - n0``
    appends would have stored. Primary keys and the leaf-hash index are dropped for the load
    and rebuilt (same names) afterwards; FK triggers are off (envelope_id is NULL anyway).
    """
    timings: dict[str, float] = {}
    frontier: dict[int, tuple[int, bytes]] = {}
    if n0:
        with Session(engine) as s:
            got = translog.DbNodes(s).get_nodes(merkle.root_keys(n0))
        frontier = {lv: (ix, h) for (lv, ix), h in got.items()}
        if len(frontier) != len(merkle.root_keys(n0)):
            raise RuntimeError("old frontier incomplete; cannot extend the log")
    raw = engine.raw_connection()  # plain DBAPI: no parameter formatting unless we pass some
    try:
        cur = raw.cursor()

        def step(name: str, sql: str, params: Any = None) -> None:
            t = time.perf_counter()
            cur.execute(sql, params)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t

        for sql in (
            "SET synchronous_commit = off",
            "SET work_mem = '512MB'",
            "SET maintenance_work_mem = '1GB'",
            "SET session_replication_role = replica",
            "ALTER TABLE log_leaves DROP CONSTRAINT IF EXISTS pk_log_leaves",
            "DROP INDEX IF EXISTS ix_log_leaves_leaf_hash",
            "ALTER TABLE log_nodes DROP CONSTRAINT IF EXISTS pk_log_nodes",
        ):
            cur.execute(sql)
        raw.commit()
        step(
            "leaves",
            "INSERT INTO log_leaves (leaf_index, leaf_input, leaf_hash, envelope_id, created_at) "
            "SELECT i, d, sha256('\\x00'::bytea || d), NULL, now() "
            f"FROM (SELECT i, {LEAF_SQL} AS d "
            f"FROM generate_series({int(n0)}::bigint, {int(n1) - 1}) i) s",
        )
        raw.commit()
        cur.execute("DROP TABLE IF EXISTS lb_cur")
        cur.execute("DROP TABLE IF EXISTS lb_next")
        step(
            "nodes",
            "CREATE TEMP TABLE lb_cur AS SELECT leaf_index AS idx, leaf_hash AS hash "
            f"FROM log_leaves WHERE leaf_index >= {int(n0)}",
        )
        level = 0
        while n1 >> level:
            old = n0 >> level  # complete nodes this level already had
            step(
                "nodes",
                f"INSERT INTO log_nodes (level, idx, hash) "
                f"SELECT {level}, idx, hash FROM lb_cur WHERE idx >= {old}",
            )
            if not n1 >> (level + 1):
                break
            if old & 1:  # the old right-most node of this level pairs with the first new one
                ix, h = frontier[level]
                cur.execute(
                    "INSERT INTO lb_cur (idx, hash) VALUES (%(i)s, %(h)s)", {"i": ix, "h": h}
                )
            step("nodes", PAIR_SQL)
            cur.execute("DROP TABLE lb_cur")
            cur.execute("ALTER TABLE lb_next RENAME TO lb_cur")
            raw.commit()
            level += 1
        cur.execute("DROP TABLE IF EXISTS lb_cur")
        cur.execute(f"UPDATE log_state SET size = {int(n1)} WHERE id = 1")
        raw.commit()
        step(
            "indexes", "ALTER TABLE log_nodes ADD CONSTRAINT pk_log_nodes PRIMARY KEY (level, idx)"
        )
        step(
            "indexes",
            "ALTER TABLE log_leaves ADD CONSTRAINT pk_log_leaves PRIMARY KEY (leaf_index)",
        )
        step("indexes", "CREATE INDEX ix_log_leaves_leaf_hash ON log_leaves (leaf_hash)")
        cur.execute("RESET session_replication_role")
        cur.execute("RESET synchronous_commit")
        cur.execute("RESET work_mem")
        cur.execute("RESET maintenance_work_mem")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t = time.perf_counter()
        conn.exec_driver_sql("VACUUM ANALYZE log_nodes")
        conn.exec_driver_sql("VACUUM ANALYZE log_leaves")
        conn.exec_driver_sql("VACUUM ANALYZE log_state")
        timings["vacuum"] = time.perf_counter() - t
    return timings


def fill_python(engine: Engine, n0: int, n1: int, chunk: int = 20_000) -> dict[str, float]:
    """SQLite path: the hub's own ``nodes_to_store_many`` in chunks, bulk inserted."""
    t = time.perf_counter()
    factory = make_sessionmaker(engine)
    now = now_utc()
    for start in range(n0, n1, chunk):
        end = min(n1, start + chunk)
        with transaction(factory) as s:
            datas = [leaf_data(0, i) for i in range(start, end)]
            hashes = [merkle.leaf_hash(d) for d in datas]
            rows = merkle.nodes_to_store_many(start, hashes, translog.DbNodes(s))
            s.execute(
                insert(LogLeaf),
                [
                    {
                        "leaf_index": start + j,
                        "leaf_input": d,
                        "leaf_hash": h,
                        "envelope_id": None,
                        "created_at": now,
                    }
                    for j, (d, h) in enumerate(zip(datas, hashes, strict=True))
                ],
            )
            s.execute(insert(LogNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in rows])
            s.execute(LogState.__table__.update().where(LogState.id == 1).values(size=end))
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {"python fill": time.perf_counter() - t}


def empty_log(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("tree_heads", "log_nodes", "log_leaves"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("UPDATE log_state SET size = 0 WHERE id = 1")


# --------------------------------------------------------------------------- checking the tree


def check_structure(engine: Engine, n: int) -> None:
    """Every level has exactly n >> k nodes with indexes 0 .. (n >> k) - 1."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT level, count(*), min(idx), max(idx) FROM log_nodes "
            "GROUP BY level ORDER BY level"
        ).all()
        leaves = conn.exec_driver_sql("SELECT count(*), max(leaf_index) FROM log_leaves").one()
    want = [(k, n >> k, 0, (n >> k) - 1) for k in range(n.bit_length()) if n >> k]
    got = [tuple(int(x) for x in r) for r in rows]
    if got != want:
        raise RuntimeError(f"log_nodes shape wrong at {n}: {got[:4]}... want {want[:4]}...")
    if (int(leaves[0]), int(leaves[1])) != (n, n - 1):
        raise RuntimeError(f"log_leaves wrong at {n}: {tuple(leaves)}")


def independent_root(engine: Engine, n: int) -> bytes:
    """MTH of the stored leaf inputs, by a stack fold written here (not merkle.py's code)."""
    stack: list[tuple[int, bytes]] = []  # (height, hash); heights strictly decreasing
    sha = hashlib.sha256
    with engine.connect().execution_options(stream_results=True, yield_per=20_000) as conn:
        result = conn.execute(
            select(LogLeaf.leaf_input).where(LogLeaf.leaf_index < n).order_by(LogLeaf.leaf_index)
        )
        for (data,) in result:
            h, height = sha(b"\x00" + bytes(data)).digest(), 0
            while stack and stack[-1][0] == height:
                h = sha(b"\x01" + stack.pop()[1] + h).digest()
                height += 1
            stack.append((height, h))
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = sha(b"\x01" + h + acc).digest()
    return acc


def verify_sample(
    factory: sessionmaker[Session], n: int, rng: random.Random, count: int = 5
) -> bytes:
    """Verify ``count`` inclusion and consistency proofs; also that a tampered one fails."""
    with transaction(factory) as s:
        reader = translog.DbNodes(s)
        root = merkle.root_hash(n, reader)
        for i in [0, n - 1, *(rng.randrange(n) for _ in range(count))]:
            index, path = translog.inclusion(s, tree_size=n, leaf_index=i)
            data = s.scalar(select(LogLeaf.leaf_input).where(LogLeaf.leaf_index == index))
            proof = [bytes.fromhex(h) for h in path]
            merkle.verify_inclusion(merkle.leaf_hash(bytes(data)), index, n, proof, root)
            if proof:
                bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                try:
                    merkle.verify_inclusion(merkle.leaf_hash(bytes(data)), index, n, bad, root)
                except merkle.ProofError:
                    pass
                else:
                    raise RuntimeError("a tampered inclusion proof verified")
        for first in [1, n - 1 or 1, *(rng.randint(1, n) for _ in range(count))]:
            proof = [bytes.fromhex(h) for h in translog.consistency(s, first=first, second=n)]
            merkle.verify_consistency(first, n, merkle.root_hash(first, reader), root, proof)
    return root


# --------------------------------------------------------------------------- proof timing


@dataclass
class ProofFigures:
    size: int
    fill: dict[str, float] = field(default_factory=dict)
    inclusion: list[float] = field(default_factory=list)
    consistency: list[float] = field(default_factory=list)
    root: list[float] = field(default_factory=list)
    publish: list[float] = field(default_factory=list)
    python_inclusion: list[float] = field(default_factory=list)
    bare_select: list[float] = field(default_factory=list)
    inclusion_keys: list[int] = field(default_factory=list)
    consistency_keys: list[int] = field(default_factory=list)
    root_hex: str = ""
    independent: str = "skipped"
    explain: dict[str, list[str]] = field(default_factory=dict)
    sizes: list[tuple[str, int, int, int]] = field(default_factory=list)


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def time_proofs(
    factory: sessionmaker[Session], figs: ProofFigures, calls: int, rng: random.Random
) -> None:
    n = figs.size

    def inclusion(i: int) -> None:
        with transaction(factory) as s:
            translog.inclusion(s, tree_size=n, leaf_index=i)

    def consistency(first: int) -> None:
        with transaction(factory) as s:
            translog.consistency(s, first=first, second=n)

    def root() -> None:
        with transaction(factory) as s:
            merkle.root_hash(n, translog.DbNodes(s))

    for _ in range(20):  # warm-up: connection, statement paths, upper btree pages
        inclusion(rng.randrange(n))
        consistency(rng.randint(1, n))
    for _ in range(calls):  # interleaved so machine noise lands on both
        i, first = rng.randrange(n), rng.randint(1, n)
        figs.inclusion.append(timed(lambda i=i: inclusion(i)))
        figs.consistency.append(timed(lambda f=first: consistency(f)))
        figs.inclusion_keys.append(len(merkle.required_nodes_inclusion(i, n)))
        figs.consistency_keys.append(len(merkle.required_nodes_consistency(first, n)))

    def bare_select() -> None:
        with transaction(factory) as s:
            s.execute(text("SELECT 1")).scalar_one()

    for _ in range(max(20, calls // 5)):
        figs.root.append(timed(root))
        figs.bare_select.append(timed(bare_select))

    # Pure-Python share of an inclusion proof: same code, nodes already in a dict.
    with Session(factory.kw["bind"]) as s:
        for _ in range(min(calls, 200)):
            i = rng.randrange(n)
            nodes = translog.DbNodes(s).get_nodes(merkle.required_nodes_inclusion(i, n))
            figs.python_inclusion.append(
                timed(lambda i=i, nodes=nodes: merkle.inclusion_proof(i, n, _Dict(nodes)))
            )

    signer = make_signer()
    for _ in range(max(10, calls // 20)):
        s = factory()
        try:
            figs.publish.append(timed(lambda s=s: translog.publish_head(s, signer, now=now_utc())))
        finally:
            s.rollback()  # keep tree_heads empty so the next call computes and signs again
            s.close()


class _Dict:
    def __init__(self, nodes: Mapping[merkle.NodeKey, bytes]) -> None:
        self.nodes = nodes

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> Mapping[merkle.NodeKey, bytes]:
        return self.nodes


def make_signer() -> HubSigner:
    key = generate_private_key("EdDSA")
    kid = f"hub/bench-{jwk_thumbprint(public_jwk(key))[:12]}"
    return HubSigner([SigningKey(kid, key, public_jwk(key, kid=kid))])


def explain_node_queries(engine: Engine, n: int, rng: random.Random) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the exact statements DbNodes sends for a proof."""
    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "log_nodes" in statement:
            captured.append((statement, params))

    out: dict[str, list[str]] = {}
    event.listen(engine, "before_cursor_execute", grab)
    try:
        with Session(engine) as s:
            i, first = rng.randrange(n), rng.randint(1, n)
            translog.inclusion(s, tree_size=n, leaf_index=i)
            translog.consistency(s, first=first, second=n)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    names = ["inclusion", "consistency"]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, (statement, params) in zip(names, captured, strict=False):
            sql = cur.mogrify(statement, params).decode()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            out[name] = [r[0] for r in cur.fetchall()]
            out[name + " sql"] = [short_sql(sql)]
        # The statements above were just executed, so their pages are hot. A leaf nobody has
        # asked about shows the usual case: the same statement (built exactly as DbNodes
        # builds it) with the pages not yet in shared_buffers.
        keys = merkle.required_nodes_inclusion(rng.randrange(n), n)
        stmt = select(LogNode.level, LogNode.idx, LogNode.hash).where(
            tuple_(LogNode.level, LogNode.idx).in_(keys)
        )
        compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
        sql = cur.mogrify(str(compiled), compiled.params).decode()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        out["inclusion, fresh leaf"] = [r[0] for r in cur.fetchall()]
        out["inclusion, fresh leaf sql"] = [short_sql(sql)]
        cur.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))")
        out["shared_buffers"] = [str(cur.fetchone()[0])]
        raw.rollback()
    finally:
        raw.close()
    return out


def short_sql(sql: str) -> str:
    return sql if len(sql) < 400 else sql[:300] + " ... " + sql[-60:]


def condense_plan(lines: Sequence[str]) -> list[str]:
    """Shorten long conditions and fold runs of identical per-key Bitmap Index Scans."""
    out: list[str] = []
    scans = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("->  Bitmap Index Scan") or line.strip().startswith(
            "->  Index Scan"
        ):
            block = [line]
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("->"):
                if lines[j].startswith(" " * (len(line) - len(line.lstrip()) + 1)):
                    block.append(lines[j])
                    j += 1
                else:
                    break
            if scans == 0:
                out.extend(block)
                first_indent = line[: len(line) - len(line.lstrip())]
            scans += 1
            i = j
            continue
        if scans > 1:
            out.append(f"{first_indent}   ... {scans} such index scans in all, one per key")
        scans = 0
        out.append(line if len(line) <= 160 else line[:150] + " ...")
        i += 1
    if scans > 1:
        out.append(f"{first_indent}   ... {scans} such index scans in all, one per key")
    return out


def table_sizes(engine: Engine) -> list[tuple[str, int, int, int]]:
    rows = []
    with engine.connect() as conn:
        for table in ("log_leaves", "log_nodes"):
            r = conn.exec_driver_sql(
                "SELECT pg_total_relation_size(%(t)s), pg_relation_size(%(t)s), "
                "pg_indexes_size(%(t)s)",
                {"t": table},
            ).one()
            rows.append((table, int(r[0]), int(r[1]), int(r[2])))
    return rows


def measure_proofs(
    url: str, engine: Engine, sizes: Sequence[int], calls: int, full_check: bool, seed: int
) -> list[ProofFigures]:
    factory = make_sessionmaker(engine)
    rng = random.Random(seed)
    out: list[ProofFigures] = []
    empty_log(engine)
    have = 0
    for n in sizes:
        figs = ProofFigures(n)
        say(f"  filling {human(have)} -> {human(n)} leaves ...")
        t = time.perf_counter()
        figs.fill = (
            fill_postgres(engine, have, n) if is_postgres(url) else fill_python(engine, have, n)
        )
        figs.fill["total"] = time.perf_counter() - t
        say("  fill: " + ", ".join(f"{k} {v:.1f}s" for k, v in figs.fill.items()))
        have = n
        check_structure(engine, n)
        root = verify_sample(factory, n, rng)
        figs.root_hex = root.hex()
        if full_check or n <= 1_000_000:
            t = time.perf_counter()
            indep = independent_root(engine, n)
            if indep != root:
                raise RuntimeError(f"root mismatch at {n}: db {root.hex()} vs {indep.hex()}")
            figs.independent = f"match ({time.perf_counter() - t:.1f}s)"
        say(f"  root {root.hex()[:16]}..  proofs verified; independent root: {figs.independent}")
        time_proofs(factory, figs, calls, rng)
        if is_postgres(url):
            figs.explain = explain_node_queries(engine, n, rng)
            figs.sizes = table_sizes(engine)
        say(
            f"  {human(n)}: inclusion p50 {ms(median(figs.inclusion))} ms "
            f"p95 {ms(percentile(figs.inclusion, 95))} ms; consistency p50 "
            f"{ms(median(figs.consistency))} ms p95 {ms(percentile(figs.consistency, 95))} ms"
        )
        out.append(figs)
    return out


# --------------------------------------------------------------------------- report


def report(appends: AppendFigures | None, proofs: list[ProofFigures], url: str) -> None:
    say("")
    say("=" * 96)
    say(f"database: {url.split('@')[-1]}  ({'PostgreSQL' if is_postgres(url) else 'SQLite'})")
    if appends:
        r = appends.rates
        bare1, bareb = r["bare 1/tx"].median, r[f"bare {BATCH}/tx"].median
        bare2 = r["bare 1/tx x2"].median
        py = r["python merkle"].median
        appb = r[f"append {BATCH}/tx"].median
        say("")
        say(f"{'appends (median of runs)':<34}{'rate/s':>12}{'runs min..max':>22}{'ratio':>26}")
        rows = [
            ("bare INSERT+COMMIT, 1 row/tx", "bare 1/tx", ""),
            (
                f"{APPEND_LABEL}, 1/tx",
                "append 1/tx",
                f"{r['append 1/tx'].median / bare1:.2f} x bare 1/tx",
            ),
            (f"bare INSERT, {BATCH} rows/tx", f"bare {BATCH}/tx", ""),
            (
                f"{APPEND_LABEL}, {BATCH}/tx",
                f"append {BATCH}/tx",
                f"{r[f'append {BATCH}/tx'].median / bareb:.2f} x bare {BATCH}/tx",
            ),
            ("bare 1 row/tx, 2 processes", "bare 1/tx x2", ""),
            (
                f"{APPEND_LABEL} 1/tx, 2 procs",
                "append 1/tx x2",
                f"{r['append 1/tx x2'].median / bare2:.2f} x bare x2",
            ),
            (
                f"{APPEND_LABEL} {BATCH}/tx, 2 procs",
                f"append {BATCH}/tx x2",
                f"{r[f'append {BATCH}/tx x2'].median / appb:.2f} x 1 proc",
            ),
            (
                f"append() per leaf, {BATCH}/tx",
                f"per-leaf {BATCH}/tx",
                f"{r[f'per-leaf {BATCH}/tx'].median / appb:.2f} x queued",
            ),
            (
                "pure Python merkle (dict)",
                "python merkle",
                f"append {BATCH}/tx = {r[f'append {BATCH}/tx'].median / py:.2f} x this",
            ),
        ]
        for label, key, ratio in rows:
            say(f"{label:<34}{r[key].median:>12,.0f}{r[key].spread():>22}{ratio:>26}")
        if appends.at_size:
            for key, v in appends.at_size.items():
                base = r[key].median
                say(
                    f"{key + ' at ' + human(appends.at_size_n) + ' leaves':<34}{v:>12,.0f}"
                    f"{'(1 run)':>22}{v / base:>20.2f} x empty"
                )
        say(f"  check: {appends.checked}")
    for f in proofs:
        say("")
        say(
            f"proofs at {human(f.size)} leaves (root {f.root_hex[:16]}.., independent root "
            f"{f.independent}); fill " + ", ".join(f"{k} {v:.0f}s" for k, v in f.fill.items())
        )
        say(
            f"{'':<34}{'calls':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}"
            f"{'nodes read':>14}{'p50/floor':>11}"
        )
        floor = median(f.bare_select)
        for label, vals, keys in [
            ("inclusion (own tx)", f.inclusion, f.inclusion_keys),
            ("consistency (own tx)", f.consistency, f.consistency_keys),
            ("root_hash (own tx)", f.root, []),
            ("publish_head (root+sign+insert)", f.publish, []),
            ("  inclusion, pure Python part", f.python_inclusion, []),
            ("  floor: SELECT 1 in own tx", f.bare_select, []),
        ]:
            nodes = f"{median(keys):.0f} (max {max(keys)})" if keys else ""
            say(
                f"{label:<34}{len(vals):>7}{ms(median(vals)):>10}{ms(percentile(vals, 95)):>10}"
                f"{ms(percentile(vals, 99)):>10}{ms(max(vals)):>10}{nodes:>14}"
                f"{median(vals) / floor:>10.1f}x"
            )
        for table, total, heap, idx in f.sizes:
            say(
                f"  {table:<12} total {total / 2**20:>8,.0f} MiB  (heap {heap / 2**20:,.0f} MiB, "
                f"indexes {idx / 2**20:,.0f} MiB)"
            )
    if proofs and proofs[-1].explain:
        f = proofs[-1]
        for name in ("inclusion", "consistency", "inclusion, fresh leaf"):
            if name in f.explain:
                say("")
                say(f"EXPLAIN (ANALYZE, BUFFERS) of the {name} node query at {human(f.size)}:")
                if name == "inclusion":
                    say("  (the statement psycopg2 sent for a timed-style call, re-run: pages hot)")
                say("  " + f.explain[name + " sql"][0])
                for line in condense_plan(f.explain[name]):
                    say("    " + line)
    if proofs and proofs[-1].explain.get("shared_buffers"):
        f = proofs[-1]
        nodes = sum(total for table, total, _, _ in f.sizes if table == "log_nodes")
        buffers = int(f.explain["shared_buffers"][0])
        say("")
        say(
            f"shared_buffers {buffers / 2**20:,.0f} MiB, log_nodes {nodes / 2**20:,.0f} MiB at "
            f"{human(f.size)}"
            + (
                ": a random proof's low-level pages are mostly read from outside "
                "shared_buffers ('read=' in the fresh-leaf plan): microseconds from the OS page "
                "cache, milliseconds from disk."
                if nodes > buffers
                else " (fits)."
            )
        )
    say("=" * 96)
    parts = []
    if appends:
        parts.append(
            f"append {appends.rates['append 1/tx'].median:,.0f}/s (1/tx), "
            f"{appends.rates[f'append {BATCH}/tx'].median:,.0f}/s ({BATCH}/tx)"
        )
    if proofs:
        f = proofs[-1]
        parts.append(f"inclusion p95 {ms(percentile(f.inclusion, 95))} ms at {human(f.size)}")
        parts.append(f"consistency p95 {ms(percentile(f.consistency, 95))} ms at {human(f.size)}")
    say("log: " + "; ".join(parts))


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="smoke run: 100k leaves, one 1 s run per figure"
    )
    p.add_argument("--sizes", help="comma-separated log sizes for proofs (ascending)")
    p.add_argument("--proofs", type=int, help="timed calls per proof kind (default 500)")
    p.add_argument("--runs", type=int, help="runs per append figure (default 3)")
    p.add_argument("--seconds", type=float, help="seconds per append run (default 3)")
    p.add_argument("--seed", type=int, default=9162)
    p.add_argument(
        "--full-check",
        action="store_true",
        help="recompute the root from the leaves at every size (slow at 10M)",
    )
    p.add_argument("--skip-appends", action="store_true")
    p.add_argument("--skip-proofs", action="store_true")
    a = p.parse_args(argv)
    sizes = (
        [int(x) for x in a.sizes.split(",")]
        if a.sizes
        else list(QUICK_SIZES if a.quick else FULL_SIZES)
    )
    if sizes != sorted(set(sizes)) or sizes[0] < 2:
        p.error("--sizes must be ascending, distinct and >= 2")
    a.sizes = sizes
    a.proofs = a.proofs or (150 if a.quick else 500)
    a.runs = a.runs or (1 if a.quick else 3)
    a.seconds = a.seconds or (1.0 if a.quick else 3.0)
    return a


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url, temporary = database_url_from_env()
    if temporary:
        warnings.warn(
            f"HUB_DATABASE_URL unset: using a temp SQLite file ({url}). The PostgreSQL figures "
            "are the ones that count.",
            stacklevel=1,
        )
        if max(args.sizes) > SQLITE_MAX_SIZE:
            args.sizes = [s for s in args.sizes if s <= SQLITE_MAX_SIZE] or [100_000]
            say(f"SQLite: proof sizes limited to {args.sizes} (the Python fill is slow)")
    started = time.perf_counter()
    say(
        f"log bench: sizes {[human(s) for s in args.sizes]}, {args.proofs} proofs each, "
        f"{args.runs} x {args.seconds:g}s append runs, {os.cpu_count()} cores"
    )
    say("  emptying the database (downgrade base, upgrade head) ...")
    reset_database(url)
    engine = make_engine(url)
    appends: AppendFigures | None = None
    proofs: list[ProofFigures] = []
    try:
        if not args.skip_appends:
            say("appends ...")
            appends = measure_appends(url, engine, args.runs, args.seconds)
        if not args.skip_proofs:
            say("proofs ...")
            proofs = measure_proofs(
                url, engine, args.sizes, args.proofs, args.full_check, args.seed
            )
            if appends:
                say(f"  appends at {human(args.sizes[-1])} leaves ...")
                measure_appends_at_size(url, args.seconds, appends, args.sizes[-1])
    finally:
        engine.dispose()
    say(f"  total bench time {time.perf_counter() - started:.0f}s")
    report(appends, proofs, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

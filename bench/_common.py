"""Helpers shared by the benchmarks: a real hub server, a clean database, test agencies, stats.

Benchmarks print figures and ratios; they never assert on time (see bench/README.md). Every
helper here is bounded: servers are started on a free loopback port and always stopped,
waits have deadlines, measuring loops have a time budget.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the benchmarks are scripts; the repo root holds hub/ and tests/
    sys.path.insert(0, str(ROOT))

LOOPBACK = "127.0.0.1"


# --------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def cpu_count() -> int:
    return os.cpu_count() or 1


# --------------------------------------------------------------------------- database


def database_url_from_env(env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """(url, is_temporary): ``HUB_DATABASE_URL``, or a fresh temp SQLite file when unset."""
    e = os.environ if env is None else env
    url = e.get("HUB_DATABASE_URL", "").strip()
    if url:
        return url, False
    path = Path(tempfile.mkdtemp(prefix="hub-bench-db-")) / "bench.db"
    return f"sqlite:///{path}", True


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def warn_unless_postgres(url: str, temporary: bool) -> None:
    """Say on stderr when the figures will not be the ones that count."""
    if not is_postgres(url):
        print(
            "WARNING: not PostgreSQL "
            + ("(HUB_DATABASE_URL unset: temp SQLite file)" if temporary else f"({url})")
            + "; the PostgreSQL figures are the ones that count",
            file=sys.stderr,
        )


def reset_database(url: str) -> None:
    """Make the bench database empty and current: ``downgrade base`` then ``upgrade head``.

    If the downgrade cannot run (a half-made schema), every table is dropped instead. Only
    ever point this at a database made for benchmarking.
    """
    from hub.migrate import downgrade, upgrade

    try:
        downgrade(url, "base")
    except Exception:  # a schema Alembic cannot walk back: drop what is there
        _drop_everything(url)
    upgrade(url)


def _drop_everything(url: str) -> None:
    from sqlalchemy import MetaData

    from hub.db import make_engine

    engine = make_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class BenchAgency:
    code: str
    kid: str
    key: Any  # a cryptography private key
    alg: str


def enrol_agencies(
    url: str,
    count: int,
    *,
    prefix: str = "bench",
    alg: str = "EdDSA",
    areas: Sequence[str] = ("10",),
    kind: str = "local_government",
) -> list[BenchAgency]:
    """Enrol ``count`` agencies with fresh keys, in one transaction, straight into the DB."""
    from hub.db import make_engine, make_sessionmaker, transaction
    from hub.exchange import registry
    from hub.exchange.keys import generate_private_key, jwk_thumbprint, public_jwk

    engine = make_engine(url)
    out: list[BenchAgency] = []
    now = datetime.now(UTC)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            for i in range(1, count + 1):
                code = f"{prefix}-{i}"
                key = generate_private_key(alg)
                key_id = jwk_thumbprint(public_jwk(key))[:16]
                registry.enrol(
                    session,
                    code=code,
                    kind=kind,
                    name_th=f"หน่วยงานทดสอบสมรรถนะ {i}",
                    name_en=f"Benchmark agency {i}",
                    areas=list(areas),
                    key=registry.KeyMaterial(jwk=public_jwk(key), key_id=key_id),
                    now=now,
                )
                out.append(BenchAgency(code, f"{code}/{key_id}", key, alg))
    finally:
        engine.dispose()
    return out


# --------------------------------------------------------------------------- hub server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class HubServer:
    """A ``hub serve`` subprocess on loopback; use :func:`hub_server` to start and stop it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    workers: int
    pids: list[int] = field(default_factory=list)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def process_tree(self) -> list[int]:
        """The server's pid and its children's (uvicorn worker processes)."""
        return [self.process.pid, *_children(self.process.pid)]

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server and its worker processes."""
        return sum(_proc_cpu_seconds(pid) for pid in self.process_tree())


def hub_env(
    database_url: str, key_dir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": database_url,
        "HUB_KEY_DIR": str(key_dir),
        "HUB_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env |= dict(extra or {})
    return env


@contextlib.contextmanager
def hub_server(
    env: Mapping[str, str],
    *,
    workers: int = 1,
    startup_timeout: float = 60.0,
    log_dir: Path | None = None,
) -> Iterator[HubServer]:
    """Run ``python -m hub.cli serve`` on a free loopback port until the block ends.

    Waits for ``GET /health`` to answer 200; raises RuntimeError (with the server's log
    tail) if it does not within ``startup_timeout``. The server runs in its own process
    group so that uvicorn's worker processes are stopped with it.
    """
    port = free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="hub-bench-log-"))
    log_path = log_dir / f"hub-serve-{port}.log"
    cmd = [sys.executable, "-m", "hub.cli", "serve", "--host", LOOPBACK, "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd,
            env=dict(env),
            cwd=str(ROOT),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = HubServer(process, f"http://{LOOPBACK}:{port}", log_path, workers)
    try:
        _wait_healthy(server, startup_timeout)
        server.pids = server.process_tree()
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: HubServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"hub serve exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"hub serve not healthy after {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM our server's own process group, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    kids = [int(p) for p in text.split()]
    return [k for kid in kids for k in (kid, *_children(kid))]


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process from /proc (Linux); 0 when unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (int(fields[11]) + int(fields[12])) / ticks


# --------------------------------------------------------------------------- raw crypto


def raw_ed25519_verify_rate(
    message: bytes, *, seconds: float = 2.0, runs: int = 3, chunk: int = 200
) -> list[float]:
    """Ed25519 ``public_key.verify(sig, message)`` per second, one thread, one per run.

    This is the physical floor of intake: every envelope needs exactly one such check.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public, signature = key.public_key(), key.sign(message)
    rates = []
    for _ in range(runs):
        done, start = 0, time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(chunk):
                public.verify(signature, message)
            done += chunk
            now = time.perf_counter()
            if now >= deadline:
                break
        rates.append(done / (now - start))
    return rates


def process_cpu_seconds() -> float:
    """CPU time (user + system, all threads) used by this process so far."""
    return time.process_time()


@contextlib.contextmanager
def recorded_statements(engine: Any) -> Iterator[list[tuple[str, Any, float]]]:
    """Every SQL statement ``engine`` sends inside the block: ``(statement, parameters,
    seconds)``, in order (clear the list between repetitions to time each alone)."""
    from sqlalchemy import event

    statements: list[tuple[str, Any, float]] = []
    started: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        statements.append((statement, parameters, time.perf_counter() - started.pop()))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)

"""Real processes for end-to-end tests: ``hub serve``, ``hub worker``, a private redis-server,
a throwaway PostgreSQL database.

Everything is loopback only and bounded: every wait has a deadline, every process runs in
its own session (process group) so that it and anything it spawned are killed together,
and :class:`Procs` kills whatever is still running when the test ends, pass or fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_for(
    check: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:.1f} s")


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """One subprocess we started, its log file, and how to end it."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the process group (the process and anything it spawned), then reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        self.kill9()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Procs:
    """Starts processes and remembers them, so that :meth:`kill_all` ends every one."""

    log_dir: Path
    started: list[Proc] = field(default_factory=list)

    def spawn(self, name: str, cmd: list[str], env: Mapping[str, str]) -> Proc:
        n = sum(1 for p in self.started if p.name.split("#")[0] == name)
        label = f"{name}#{n + 1}"
        log_path = self.log_dir / f"{label.replace('#', '-')}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                cmd,
                env=dict(env),
                cwd=str(ROOT),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(label, process, log_path)
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in reversed(self.started):
            proc.kill9()

    def tails(self, lines: int = 25) -> str:
        return "\n".join(
            f"--- {p.name} (pid {p.pid}, rc {p.process.poll()}) ---\n{p.log_tail(lines)}"
            for p in self.started
        )


def hub_env(
    *, database_url: str, redis_url: str | None, key_dir: Path, port: int, **extra: str
) -> dict[str, str]:
    """The environment of a hub process: the caller's minus every HUB_*, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_DATABASE_URL": database_url,
        "HUB_KEY_DIR": str(key_dir),
        "HUB_HOST": LOOPBACK,
        "HUB_PORT": str(port),
        "HUB_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if redis_url:
        env["HUB_REDIS_URL"] = redis_url
    env |= extra
    return env


def start_serve(procs: Procs, env: Mapping[str, str], *, timeout: float = 30.0) -> Proc:
    """``hub serve`` on HUB_HOST:HUB_PORT; returns once ``GET /health`` answers."""
    proc = procs.spawn("serve", [sys.executable, "-m", "hub.cli", "serve"], env)
    wait_healthy(proc, f"http://{env['HUB_HOST']}:{env['HUB_PORT']}", timeout=timeout)
    return proc


def wait_healthy(proc: Proc, base_url: str, *, timeout: float) -> None:
    """Until /health answers at all (200, or 503 "degraded" while Redis is down)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                if http.get("/health").status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not answering after {timeout:.0f} s:\n{proc.log_tail()}")


def start_worker(procs: Procs, env: Mapping[str, str]) -> Proc:
    """``hub worker`` (an rq SimpleWorker plus its sweeper thread)."""
    return procs.spawn("worker", [sys.executable, "-m", "hub.cli", "worker"], env)


# --------------------------------------------------------------------------- redis


class RedisServer:
    """A private, non-persistent redis-server on a fixed loopback port: kill it, restart it,
    flush it, without touching anybody else's Redis."""

    def __init__(self, procs: Procs, port: int | None = None) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed")
        self.exe, self.procs = exe, procs
        self.port = port or free_port()
        self.url = f"redis://{LOOPBACK}:{self.port}/0"
        self.proc: Proc | None = None

    def start(self, timeout: float = 10.0) -> RedisServer:
        cmd = [self.exe, "--port", str(self.port), "--bind", LOOPBACK, "--save", ""]
        cmd += ["--appendonly", "no", "--daemonize", "no"]
        self.proc = self.procs.spawn("redis", cmd, os.environ)
        wait_for(self.ping, timeout=timeout, interval=0.05, what=f"redis on {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        client = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=5)


# --------------------------------------------------------------------------- postgres


@contextlib.contextmanager
def fresh_postgres_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``; dropped (forcefully) after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin_url = make_url(server_url).set(database="postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def ensure_postgres_database(url: str) -> None:
    """Create the database ``url`` names if it does not exist yet (for a fixture to migrate)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=_null_pool()
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def _null_pool():  # type: ignore[no-untyped-def]
    from sqlalchemy.pool import NullPool

    return NullPool

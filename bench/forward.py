"""Forwarding end to end: intake → outbox → rq worker → destination → signed ack → delivered.

    .venv/bin/python bench/forward.py            # full: ~3 minutes on 2 cores
    .venv/bin/python bench/forward.py --quick    # smoke run: under 40 s
    .venv/bin/python bench/forward.py --profile  # plus a cProfile of one delivery round

Topology, all on loopback: PostgreSQL (database ``hub_fwdbench``, EMPTIED and migrated; override
with ``--database-url``), a private ``redis-server`` on a free port, ``hub serve`` (RqDispatcher),
two ``hub worker`` processes, and a separate process hosting the simulated destination agencies
(the SDK receiver of ``tests/support/destination.py`` on werkzeug) so that their GIL is not the
load generator's. Sender agencies (no receive area) submit Traffy complaints; each destination
owns one category, so the routing spreads the forwards evenly over the destinations.

Measured, in this order:

1. raw Ed25519 verify and sign rate of one thread (the physical cost of a signature);
2. enqueue cost: ``RqDispatcher.wake`` per call (coalesced: key present; first: SET NX +
   enqueue) vs a naive ``Queue.enqueue`` per message, and how fast the two workers drain no-op
   rq jobs (the queue's own per-job cost on the worker side);
3. fixed offered load: ``--rate`` messages/s for ``--duration`` s, open loop (a timetable; many
   sender threads, one envelope per ``POST /v1/envelopes``). Latency = intake request start →
   the destination's receiver callback (wall clocks of one machine), split into intake, queue +
   push, and ack; p50/p95/p99;
4. saturation: ``--saturation`` messages in batches as fast as intake takes them; sustained
   rate = messages / (first send → last ack recorded), and the steady slope of ``delivered_at``
   between 10 % and 90 % of them;
5. ``--profile``: one ``deliver_due`` round in this process under cProfile, SQL per message.

The last line is ``forward: p95 X ms at R/s offered (achieved Y/s); sustained Z msg/s
intake→ack; raw verify M/s``. Every process started here is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import csv
import ctypes
import io
import itertools
import json
import math
import os
import pstats
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
from _common import (
    LOOPBACK,
    ROOT,
    BenchAgency,
    HubServer,
    cpu_count,
    enrol_agencies,
    free_port,
    hub_env,
    hub_server,
    is_postgres,
    median,
    percentile,
    process_cpu_seconds,
    raw_ed25519_verify_rate,
    reset_database,
)

DEFAULT_DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/hub_fwdbench"
JOSE = {"Content-Type": "application/jose"}
JSON_CT = {"Content-Type": "application/json"}
PROBE_QUEUE = "bench-enqueue-probe"
SIG_OPS = "hub: verify submission, sign receipt, sign forward, verify ack; destination: verify "
SIG_OPS += "forward, verify origin, sign ack"


# --------------------------------------------------------------------------- small helpers


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1e3:,.1f}"


def pct_line(values: Sequence[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {ms(percentile(values, 50))}  p95 {ms(percentile(values, 95))}  "
        f"p99 {ms(percentile(values, 99))}  max {ms(max(values))} ms  (n={len(values)})"
    )


def proc_cpu(pid: int) -> float:
    """utime + stime of one process from /proc; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when this process dies (Linux), even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def terminate(process: subprocess.Popen[Any], grace: float = 8.0) -> None:
    """SIGTERM the child's own process group, SIGKILL it if it lingers."""
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


def spawn(
    cmd: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[Any]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=str(ROOT),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- complaints


def complaint_templates(limit: int = 200) -> list[dict[str, Any]]:
    """Real Traffy Fondue rows mapped to hub complaints (rows the mapping refuses skipped)."""
    from adapters.traffy_fondue import SAMPLE_CSV
    from adapters.traffy_fondue.mapping import row_to_complaint

    out = []
    with Path(SAMPLE_CSV).open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                out.append(row_to_complaint(row))
            except Exception:  # an unmapped label: not this benchmark's business
                continue
            if len(out) >= limit:
                break
    if not out:
        raise SystemExit("no Traffy sample row maps to a complaint")
    return out


@dataclass
class Routing:
    """Which category each destination owns; ``pools[i]`` are the templates routed to it."""

    categories: list[list[str]]  # per destination; [] = every category not owned by another
    pools: list[list[dict[str, Any]]]
    profile_category: str


def plan_routing(templates: list[dict[str, Any]], destinations: int) -> Routing:
    """Destination 1 takes every category; 2..D and the profile destination one each (the
    more specific agency wins the route), so messages can be spread evenly by template."""
    by_count = [c for c, _ in Counter(t["category"] for t in templates).most_common()]
    if len(by_count) < destinations + 1:
        raise SystemExit("too few categories in the Traffy sample for this many destinations")
    owned = by_count[: destinations - 1]
    profile = by_count[destinations - 1]
    categories: list[list[str]] = [[], *[[c] for c in owned]]
    pools = [[t for t in templates if t["category"] not in (*owned, profile)]]
    pools += [[t for t in templates if t["category"] == c] for c in owned]
    pools.append([t for t in templates if t["category"] == profile])
    return Routing(categories, pools, profile)


@dataclass
class Signed:
    items: list[tuple[str, str]]  # (message id, compact JWS), in sending order
    seconds: float


def presign(
    signers: Sequence[Any], pools: Sequence[list[dict[str, Any]]], total: int, tag: str
) -> Signed:
    """``total`` complaint envelopes, destination round-robin, issuer round-robin."""
    items = []
    start = time.perf_counter()
    for i in range(total):
        signer = signers[i % len(signers)]
        pool = pools[i % len(pools)]
        body = copy.deepcopy(pool[(i // len(pools)) % len(pool)])
        ref = f"FWD-{tag}-{i:07d}"
        body["origin"]["ref"] = ref
        body["origin"]["agency"] = signer.agency
        body["id"] = f"traffy:{ref}"
        message_id = f"{signer.agency}-{tag}-{i:07d}"
        items.append((message_id, signer.envelope("complaint.submit", body, id=message_id)))
    return Signed(items, time.perf_counter() - start)


# --------------------------------------------------------------------------- agencies process


def agencies_main(config_path: str) -> int:
    """``--agencies-only CONFIG``: host the simulated destinations until stdin closes."""
    import logging

    from flask import jsonify, request

    from hub.exchange.client import HubClient
    from hub.exchange.keys import load_private_jwk
    from hub.exchange.receiver import Forwarded
    from tests.support.destination import SimulatedAgency

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    config = json.loads(Path(config_path).read_text())
    records: list[tuple[str, str, float]] = []  # (origin message id, forward id, wall time)
    lock = threading.Lock()

    class Recording(SimulatedAgency):
        def _on_message(self, message: Forwarded) -> None:  # the receiver's callback
            now = time.time()
            with lock:
                records.append((str(message.origin["id"]), message.message_id, now))
                self.calls[message.message_id] += 1

    def received() -> Any:
        since = int(request.args.get("since", "0"))
        with lock:
            part, count = records[since:], len(records)
        return jsonify({"count": count, "records": part if request.args.get("full") else []})

    agencies = []
    for a in config["agencies"]:
        client = HubClient(
            config["hub_url"], agency=a["code"], key=load_private_jwk(a["jwk"]), kid=a["kid"]
        )
        client.hub_keys()  # warm the key caches before any message arrives
        for sender in config["senders"]:
            client.agency_keys(sender)
        sim = Recording(client)
        sim.app.add_url_rule("/bench/received", "bench_received", received)
        agencies.append(sim.__enter__())
    endpoints = {a.client.agency: a.url for a in agencies}
    control = agencies[0].url.rsplit("/hub/", 1)[0] + "/bench/received"
    print(json.dumps({"endpoints": endpoints, "control": control}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # the parent closes the pipe (or dies): time to go
    for a in agencies:
        a.__exit__(None, None, None)
    return 0


@dataclass
class AgencyProcess:
    process: subprocess.Popen[Any]
    endpoints: dict[str, str]
    control: str
    http: httpx.Client

    def count(self) -> int:
        return int(self.http.get(self.control).json()["count"])

    def records(self, since: int) -> list[tuple[str, str, float]]:
        answer = self.http.get(self.control, params={"since": since, "full": 1}).json()
        return [(r[0], r[1], float(r[2])) for r in answer["records"]]


@contextlib.contextmanager
def agencies_process(
    hub_url: str, agencies: Sequence[BenchAgency], senders: Sequence[str], work: Path
) -> Iterator[AgencyProcess]:
    from hub.exchange.keys import private_jwk

    config = work / "agencies.json"
    config.write_text(
        json.dumps(
            {
                "hub_url": hub_url,
                "senders": list(senders),
                "agencies": [
                    {"code": a.code, "kid": a.kid, "jwk": private_jwk(a.key, kid=a.kid)}
                    for a in agencies
                ],
            }
        )
    )
    config.chmod(0o600)
    log = (work / "agencies.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--agencies-only", str(config)],
        cwd=str(ROOT),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(f"agencies process did not start:\n{tail(work / 'agencies.log')}")
        info = json.loads(line)
        with httpx.Client(timeout=30) as http:
            yield AgencyProcess(process, info["endpoints"], info["control"], http)
    finally:
        with contextlib.suppress(OSError):
            if process.stdin:
                process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=3)
        terminate(process)
        log.close()


# --------------------------------------------------------------------------- redis, workers


@contextlib.contextmanager
def redis_server(work: Path) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    """Our own redis-server on a free loopback port, no persistence."""
    from redis import Redis

    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", LOOPBACK, "--save", ""]
    cmd += ["--appendonly", "no", "--dir", str(work)]
    process = spawn(cmd, work / "redis.log")
    url = f"redis://{LOOPBACK}:{port}/0"
    try:
        deadline = time.monotonic() + 15
        r = Redis.from_url(url)
        while True:
            try:
                if r.ping():
                    break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"redis did not start:\n{tail(work / 'redis.log')}"
                    ) from None
                time.sleep(0.1)
        r.close()
        yield url, process
    finally:
        terminate(process)


@contextlib.contextmanager
def rq_workers(count: int, env: dict[str, str], redis_url: str, work: Path) -> Iterator[list[Any]]:
    from redis import Redis

    processes = []
    try:
        for i in range(count):
            cmd = [sys.executable, "-m", "hub.cli", "worker"]
            processes.append(spawn(cmd, work / f"worker-{i + 1}.log", env))
        r = Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        while r.scard("rq:workers") < count:
            for i, p in enumerate(processes):
                if p.poll() is not None:
                    raise RuntimeError(f"worker exited:\n{tail(work / f'worker-{i + 1}.log')}")
            if time.monotonic() > deadline:
                raise RuntimeError("rq workers did not register within 60 s")
            time.sleep(0.1)
        r.close()
        yield processes
    finally:
        for p in processes:
            terminate(p)


def rq_job_counts(redis_url: str) -> tuple[int, int]:
    """(successful, failed) jobs over every registered worker (rq's own counters)."""
    from redis import Redis

    r = Redis.from_url(redis_url)
    ok = failed = 0
    for key in r.smembers("rq:workers"):
        data = r.hgetall(key)
        ok += int(data.get(b"successful_job_count", 0) or 0)
        failed += int(data.get(b"failed_job_count", 0) or 0)
    r.close()
    return ok, failed


# --------------------------------------------------------------------------- database


def ensure_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            found = c.execute(
                text("select 1 from pg_database where datname = :n"), {"n": u.database}
            )
            if found.scalar() is None:
                c.execute(text(f'create database "{u.database}"'))
    finally:
        admin.dispose()


def enrol_destinations(
    url: str,
    agencies: Sequence[BenchAgency],
    endpoints: dict[str, str],
    categories: Sequence[list[str]],
    modes: Sequence[str],
) -> None:
    from hub.db import make_engine, make_sessionmaker, transaction
    from hub.exchange import registry
    from hub.exchange.keys import public_jwk

    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as s:
            for a, cats, mode in zip(agencies, categories, modes, strict=True):
                registry.enrol(
                    s,
                    code=a.code,
                    kind="local_government",
                    name_th=f"ปลายทางทดสอบ {a.code}",
                    name_en=f"Benchmark destination {a.code}",
                    areas=["10"],
                    categories=cats,
                    roles=["receive"],
                    endpoint=endpoints[a.code],
                    mode=mode,
                    key=registry.KeyMaterial(jwk=public_jwk(a.key), key_id=a.kid.split("/")[1]),
                    now=datetime.now(UTC),
                )
    finally:
        engine.dispose()


def new_agencies(prefix: str, count: int) -> list[BenchAgency]:
    from hub.exchange.keys import generate_private_key, jwk_thumbprint, public_jwk

    out = []
    for i in range(1, count + 1):
        key = generate_private_key("EdDSA")
        code = f"{prefix}-{i}"
        out.append(
            BenchAgency(code, f"{code}/{jwk_thumbprint(public_jwk(key))[:16]}", key, "EdDSA")
        )
    return out


class Db:
    """The bench's own read-only view of the hub database (counts, timestamps, activity)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url, pool_size=2, max_overflow=2)

    def scalar(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        with self.engine.connect() as c:
            return c.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        with self.engine.connect() as c:
            return list(c.execute(text(sql), params))

    def max_delivery_id(self) -> int:
        return int(self.scalar("select coalesce(max(id), 0) from deliveries"))

    def delivered_since(self, base: int) -> int:
        sql = "select count(*) from deliveries where id > :b and state = 'delivered'"
        return int(self.scalar(sql, b=base))

    def states_since(self, base: int) -> dict[str, int]:
        sql = "select state, count(*) from deliveries where id > :b group by state"
        return {r[0]: int(r[1]) for r in self.rows(sql, b=base)}

    def timeline(self, base: int) -> list[tuple[str, datetime, datetime | None]]:
        """(message id, hub received_at, delivered_at) of the deliveries after ``base``."""
        sql = (
            "select e.message_id, e.received_at, d.delivered_at from deliveries d "
            "join envelopes e on e.id = d.envelope_id where d.id > :b"
        )
        return [
            (r[0], _aware(r[1]), _aware(r[2]) if r[2] else None) for r in self.rows(sql, b=base)
        ]

    def backend_pids(self) -> list[int]:
        sql = "select pid from pg_stat_activity where datname = current_database()"
        return [int(r[0]) for r in self.rows(sql)]

    def close(self) -> None:
        self.engine.dispose()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class ActivitySampler:
    """Samples pg_stat_activity of the bench database every ``interval`` s while running."""

    SQL = (
        "select state, coalesce(wait_event_type, '-'), coalesce(wait_event, '-') "
        "from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() "
        "and backend_type = 'client backend' and state <> 'idle'"
    )

    def __init__(self, db: Db, interval: float = 0.05) -> None:
        self.db, self.interval = db, interval
        self.samples = 0
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from sqlalchemy import text

        with self.db.engine.connect() as c:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(Exception):
                    rows = list(c.execute(text(self.SQL)))
                    c.commit()
                    self.samples += 1
                    for state, wtype, wevent in rows:
                        self.counts[f"{state} / {wtype}:{wevent}"] += 1

    def report(self) -> list[str]:
        if not self.samples:
            return []
        total = sum(self.counts.values()) / self.samples
        out = [f"  PostgreSQL sessions not idle: {total:.2f} on average ({self.samples} samples)"]
        for key, n in self.counts.most_common(6):
            out.append(f"    {n / self.samples:5.2f}  {key}")
        return out


# --------------------------------------------------------------------------- CPU accounting


@dataclass
class Cpu:
    """CPU seconds used by each part of the system over a phase."""

    parts: dict[str, list[int]]  # name -> pids (resolved once per phase)
    db: Db
    start: dict[str, float] = field(default_factory=dict)
    pg_start: dict[int, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> Cpu:
        self.start = {k: self._part(k) for k in self.parts}
        self.pg_start = {p: proc_cpu(p) for p in self.db.backend_pids()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {k: self._part(k) - self.start[k] for k in self.parts}
        pg = 0.0
        for p in self.db.backend_pids():
            pg += proc_cpu(p) - self.pg_start.get(p, 0.0)
        self.used["postgres"] = max(0.0, pg)

    def _part(self, name: str) -> float:
        if name == "load generator":
            return process_cpu_seconds()
        return sum(proc_cpu(p) for p in self.parts[name])

    def line(self, seconds: float, messages: int) -> str:
        total = sum(self.used.values())
        shares = ", ".join(f"{k} {v / seconds:.0%}" for k, v in self.used.items())
        per = total / max(1, messages) * 1e3
        return (
            f"  CPU (share of one core): {shares}; total {total / seconds:.0%} of "
            f"{cpu_count()} cores = {per:.2f} ms CPU per message"
        )


# --------------------------------------------------------------------------- phases


@dataclass
class FixedResult:
    offered: float
    sent: int
    accepted: int
    send_seconds: float
    starts: dict[str, float]  # message id -> wall time of the intake request start
    intake: list[float]
    lags: list[float]
    failures: Counter[str]

    @classmethod
    def collect(
        cls,
        signed: Signed,
        started: list[float],
        status: list[int],
        intake: list[float],
        lags: list[float],
    ) -> FixedResult:
        """Per-message records (index k: wall start, HTTP status, intake time, lag) summed
        up; a message never started has ``started[k] == 0``."""
        n = len(signed.items)
        ok = [k for k in range(n) if status[k] == 201]
        sent = [started[k] for k in range(n) if started[k]]
        span = max(sent) - min(sent) if len(sent) > 1 else math.nan
        return cls(
            offered=(len(sent) - 1) / span if span and not math.isnan(span) else math.nan,
            sent=len(sent),
            accepted=len(ok),
            send_seconds=span,
            starts={signed.items[k][0]: started[k] for k in ok},
            intake=[intake[k] for k in ok],
            lags=[lags[k] for k in range(n) if started[k]],
            failures=Counter(
                f"HTTP {status[k]}" if status[k] > 0 else "no answer" if status[k] else "not sent"
                for k in range(n)
                if status[k] != 201
            ),
        )


def run_fixed_rate(
    base_url: str, signed: Signed, rate: float, senders: int, grace: float
) -> FixedResult:
    """Open loop: message k starts at t0 + k/rate, whichever sender thread is free. Nothing
    starts later than ``grace`` seconds after the timetable ends (a hub that cannot keep up
    shows as a lower achieved rate, not as an endless run)."""
    n = len(signed.items)
    start_wall = [0.0] * n
    intake = [math.nan] * n
    lags = [0.0] * n
    status = [0] * n
    counter = itertools.count()
    t0: list[float] = []
    barrier = threading.Barrier(senders + 1, action=lambda: t0.append(time.perf_counter() + 0.2))
    errors: list[BaseException] = []

    def sender() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base_url, timeout=30, limits=limits) as c:
            c.get("/health")
            barrier.wait(timeout=60)
            try:
                while (k := next(counter)) < n:
                    due = t0[0] + k / rate
                    if time.perf_counter() > t0[0] + n / rate + grace:
                        continue  # past the deadline: counted as not sent
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    p, w = time.perf_counter(), time.time()
                    try:
                        r = c.post("/v1/envelopes", content=signed.items[k][1], headers=JOSE)
                        status[k] = r.status_code
                    except httpx.HTTPError:
                        status[k] = -1  # no answer (timeout, connection)
                    intake[k] = time.perf_counter() - p
                    start_wall[k], lags[k] = w, p - due
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    for t in threads:
        t.join(timeout=600)
    if errors:
        raise RuntimeError(f"a sender thread failed: {errors[0]!r}") from errors[0]
    return FixedResult.collect(signed, start_wall, status, intake, lags)


def run_fixed_rate_windowed(
    base_url: str, signed: Signed, rate: float, senders: int, grace: float, window: float
) -> FixedResult:
    """The same timetable, sent as an adapter at volume sends: every ``window`` seconds the
    messages that fell due since the last tick go in one ``POST /v1/envelopes:batch``.
    A message's latency still starts at its due time, so the wait for the tick counts."""
    n = len(signed.items)
    due_wall = [0.0] * n
    intake = [math.nan] * n
    lags = [0.0] * n
    status = [0] * n
    batches: queue.Queue[list[int] | None] = queue.Queue()
    errors: list[BaseException] = []
    t0 = time.perf_counter() + 0.2
    w0 = time.time() + (t0 - time.perf_counter())

    def ticker() -> None:
        sent_upto = 0
        while sent_upto < n:
            now = time.perf_counter()
            if now > t0 + n / rate + grace:
                break
            upto = min(n, max(0, math.floor((now - t0) * rate) + 1))
            if upto > sent_upto:
                batches.put(list(range(sent_upto, upto)))
                sent_upto = upto
            time.sleep(window)
        for _ in range(senders):
            batches.put(None)

    def sender() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as c:
            try:
                while (ks := batches.get()) is not None:
                    p = time.perf_counter()
                    body = json.dumps([signed.items[k][1] for k in ks])
                    try:
                        r = c.post("/v1/envelopes:batch", content=body, headers=JSON_CT)
                        results = r.json()["results"] if r.status_code == 200 else []
                        for k, res in zip(ks, results, strict=False):
                            status[k] = res["status"]
                    except (httpx.HTTPError, ValueError, KeyError):
                        pass
                    end = time.perf_counter()
                    for k in ks:
                        status[k] = status[k] or -1
                        due = t0 + k / rate
                        intake[k], lags[k], due_wall[k] = end - due, p - due, w0 + k / rate
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    ticker()
    for t in threads:
        t.join(timeout=600)
    if errors:
        raise RuntimeError(f"a sender thread failed: {errors[0]!r}") from errors[0]
    return FixedResult.collect(signed, due_wall, status, intake, lags)


def wait_delivered(
    db: Db, agencies: AgencyProcess, base: int, expected: int, deadline_s: float, stall_s: float
) -> float:
    """Wait until ``expected`` deliveries after ``base`` are delivered; wall time when done."""
    deadline = time.monotonic() + deadline_s
    last, last_change = -1, time.monotonic()
    while True:
        done = db.delivered_since(base)
        now = time.monotonic()
        if done >= expected:
            return time.time()
        if done != last:
            last, last_change = done, now
        if now > deadline or now - last_change > stall_s:
            print(
                f"  ! only {done}/{expected} delivered before the deadline: {db.states_since(base)}"
            )
            return time.time()
        time.sleep(0.05)


def drain(db: Db, deadline_s: float) -> int:
    """Wait (bounded) until no delivery is open; how many still are."""
    deadline = time.monotonic() + deadline_s
    sql = "select count(*) from deliveries where state in ('pending', 'in_flight', 'failed')"
    while (left := int(db.scalar(sql))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@dataclass
class Breakdown:
    total: list[float]  # intake start -> destination callback
    intake: list[float]  # intake start -> hub received_at (clock of the hub)
    queue_push: list[float]  # hub received_at -> destination callback
    ack: list[float]  # destination callback -> delivered_at recorded by the hub
    to_ack: list[float]  # intake start -> delivered_at
    duplicates: int
    missing: int


def breakdown(
    starts: dict[str, float], records: list[tuple[str, str, float]], timeline: list[Any]
) -> Breakdown:
    seen: dict[str, float] = {}
    forwards: Counter[str] = Counter()
    for origin, forward_id, t in records:
        forwards[forward_id] += 1
        if origin in starts and origin not in seen:
            seen[origin] = t
    rows = {m: (rec.timestamp(), dl.timestamp() if dl else None) for m, rec, dl in timeline}
    b = Breakdown([], [], [], [], [], sum(n - 1 for n in forwards.values()), 0)
    for m, t0 in starts.items():
        if m not in seen:
            b.missing += 1
            continue
        cb = seen[m]
        b.total.append(cb - t0)
        if m in rows:
            received, delivered = rows[m]
            b.intake.append(received - t0)
            b.queue_push.append(cb - received)
            if delivered is not None:
                b.ack.append(delivered - cb)
                b.to_ack.append(delivered - t0)
    return b


@dataclass
class SaturationResult:
    accepted: int
    delivered: int
    intake_seconds: float
    to_ack_seconds: float
    steady_rate: float
    first_send: float
    failures: Counter[str]


def run_saturation(
    base_url: str,
    signed: Signed,
    batch: int,
    senders: int,
    db: Db,
    agencies: AgencyProcess,
    base: int,
    deadline_s: float,
) -> SaturationResult:
    batches = [signed.items[i : i + batch] for i in range(0, len(signed.items), batch)]
    bodies = [json.dumps([jws for _, jws in b]).encode("ascii") for b in batches]
    queue = iter(range(len(bodies)))
    lock = threading.Lock()
    accepted = [0]
    failures: Counter[str] = Counter()

    def sender() -> None:
        with httpx.Client(base_url=base_url, timeout=300) as c:
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                r = c.post("/v1/envelopes:batch", content=bodies[i], headers=JSON_CT)
                ok = 0
                if r.status_code == 200:
                    for x in r.json()["results"]:
                        if x["status"] == 201:
                            ok += 1
                        else:
                            failures[f"item {x['status']}"] += 1
                else:
                    failures[f"HTTP {r.status_code}"] += len(batches[i])
                with lock:
                    accepted[0] += ok

    first = time.time()
    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    intake_done = time.time()
    last = wait_delivered(db, agencies, base, accepted[0], deadline_s, stall_s=20)
    delivered = sorted(dl.timestamp() for _, _, dl in db.timeline(base) if dl is not None)
    steady = math.nan
    if len(delivered) >= 20:
        lo, hi = int(len(delivered) * 0.1), int(len(delivered) * 0.9)
        if delivered[hi] > delivered[lo]:
            steady = (hi - lo) / (delivered[hi] - delivered[lo])
    to_ack = (delivered[-1] if delivered else last) - first
    return SaturationResult(
        accepted[0], len(delivered), intake_done - first, to_ack, steady, first, failures
    )


# --------------------------------------------------------------------------- enqueue cost


@dataclass
class EnqueueCost:
    wake_coalesced: list[float]
    wake_first: list[float]
    naive: list[float]
    noop_jobs_per_s: float


def measure_enqueue(redis_url: str, calls: int, noop_jobs: int) -> EnqueueCost:
    """``RqDispatcher.wake`` vs ``Queue.enqueue`` per message, on a probe queue no worker
    reads; then how fast the two workers drain ``noop_jobs`` trivial jobs from their queue."""
    from redis import Redis
    from rq import Queue

    from hub.config import Settings
    from hub.exchange.dispatch import RqDispatcher, queued_key

    class ProbeDispatcher(RqDispatcher):
        QUEUE = PROBE_QUEUE

    fake_hub = types.SimpleNamespace(settings=Settings(redis_url=redis_url))
    dispatcher = ProbeDispatcher(cast(Any, fake_hub), sweep_thread=False)
    redis = Redis.from_url(redis_url)
    dests = [f"probe-dest-{i}" for i in range(4)]
    first, coalesced, naive = [], [], []
    try:
        for i in range(calls):
            d = dests[i % len(dests)]
            redis.delete(queued_key(d))  # as after a job started: this wake must enqueue
            t = time.perf_counter()
            dispatcher.wake([d])
            first.append(time.perf_counter() - t)
        for i in range(calls):
            d = dests[i % len(dests)]  # key present: a burst of commits coalesces
            t = time.perf_counter()
            dispatcher.wake([d])
            coalesced.append(time.perf_counter() - t)
        naive_queue = Queue(PROBE_QUEUE + "-naive", connection=redis, serializer="json")
        for i in range(calls):
            t = time.perf_counter()
            naive_queue.enqueue(
                "hub.exchange.jobs.deliver",
                dests[i % len(dests)],
                job_timeout=600,
                result_ttl=0,
                failure_ttl=3600,
            )
            naive.append(time.perf_counter() - t)
        naive_queue.empty()
        dispatcher.queue.empty()
        redis.delete(*[queued_key(d) for d in dests])
        # the workers' side: trivial jobs through the real queue, both workers
        real = Queue(RqDispatcher.QUEUE, connection=redis, serializer="json")
        ok0, _ = rq_job_counts(redis_url)
        t = time.perf_counter()
        for _ in range(noop_jobs):
            real.enqueue("os.getpid", result_ttl=0, failure_ttl=60)
        deadline = time.monotonic() + 60
        while rq_job_counts(redis_url)[0] - ok0 < noop_jobs and time.monotonic() < deadline:
            time.sleep(0.02)
        drained = rq_job_counts(redis_url)[0] - ok0
        rate = drained / (time.perf_counter() - t)
    finally:
        redis.close()
        dispatcher.redis.close()
    return EnqueueCost(coalesced, first, naive, rate)


def raw_sign_rate(message: bytes, seconds: float) -> float:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            key.sign(message)
        done += 200
    return done / (time.perf_counter() - start)


# --------------------------------------------------------------------------- profile


def profile_round(
    url: str,
    env: dict[str, str],
    server: HubServer,
    signers: Sequence[Any],
    routing: Routing,
    code: str,
    items: int,
    db: Db,
) -> None:
    """Queue ``items`` forwards for the (pull-mode, so idle) profile destination, switch it to
    push while holding its lease (so no worker races us), and run ``deliver_due`` here under
    cProfile with the SQL it issues counted per message."""
    from sqlalchemy import event, update

    from hub.config import Settings
    from hub.exchange import outbox
    from hub.exchange.dispatch import OWNER, Delivery, deliver_due
    from hub.models import Agency
    from hub.services import build_hub

    signed = presign(signers, [routing.pools[-1]], items, "prof")
    base = db.max_delivery_id()
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        body = json.dumps([jws for _, jws in signed.items]).encode()
        r = c.post("/v1/envelopes:batch", content=body, headers=JSON_CT)
        r.raise_for_status()
    queued = db.states_since(base).get("pending", 0)
    settings = Settings.from_env(env)
    hub = build_hub(settings, create_key=False)
    tuning = Delivery.from_settings(settings)
    with hub.transaction() as s:
        s.execute(update(Agency).where(Agency.code == code).values(mode="push"))
        outbox.take_lease(s, code, owner=OWNER, now=hub.now(), seconds=120)
    statements: Counter[str] = Counter()
    db_seconds: Counter[str] = Counter()
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        head = " ".join(statement.split()[:4])[:60]
        statements[head] += 1
        db_seconds[head] += time.perf_counter() - started.pop()

    event.listen(hub.engine, "before_cursor_execute", before)
    event.listen(hub.engine, "after_cursor_execute", after)
    profiler = cProfile.Profile()
    with httpx.Client() as http:
        t0 = time.perf_counter()
        profiler.enable()
        sent = deliver_due(hub, code, http=http, tuning=tuning, owner=OWNER)
        profiler.disable()
        seconds = time.perf_counter() - t0
    hub.engine.dispose()
    n = max(1, sent)
    print(
        f"\n[profile] deliver_due of {queued} queued forwards in this process: {sent} delivered "
        f"in {seconds:.2f} s under cProfile = {seconds / n * 1e3:.2f} ms/message, one at a time"
    )
    print(
        f"  SQL: {sum(statements.values()) / n:.1f} statements/message, "
        f"{sum(db_seconds.values()) / n * 1e3:.2f} ms/message waiting on PostgreSQL"
    )
    for head, secs in db_seconds.most_common(12):
        print(f"    {statements[head] / n:5.2f}/msg {secs / n * 1e3:6.2f} ms/msg  {head}")
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    interesting = ("hub/", "httpx/_client.py", "ed25519", "jws.py")
    ours = [
        (ct, nc, f"{Path(file).name}:{line}({fn})")
        for (file, line, fn), (_cc, nc, _tt, ct, _callers) in raw.items()
        if any(s in file for s in interesting) or fn in ("sign", "verify")
    ]
    print("  by cumulative time per message (cProfile inflates Python-heavy code):")
    for ct, nc, name in sorted(ours, reverse=True)[:22]:
        print(f"    {ct / n * 1e3:7.2f} ms/msg {nc / n:6.2f} calls/msg  {name}")
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(12)
    text = buf.getvalue()
    start = text.find("ncalls")
    print("  top by own time:\n" + text[start:].replace(str(ROOT) + "/", "").rstrip())


# --------------------------------------------------------------------------- main


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default=DEFAULT_DB, help="EMPTIED and migrated")
    p.add_argument("--rate", type=float, default=200.0, help="offered messages/s (200)")
    p.add_argument("--duration", type=float, help="seconds of fixed load (20; quick 8)")
    p.add_argument("--senders", type=int, default=24, help="sender threads, fixed load (24)")
    p.add_argument(
        "--window",
        type=float,
        default=0.0,
        help="ms; >0: fixed load sent as batches of what fell due in each window",
    )
    p.add_argument("--saturation", type=int, help="messages in the saturation run (4000)")
    p.add_argument("--batch-size", type=int, default=100, help="saturation batch size (100)")
    p.add_argument("--destinations", type=int, default=4, help="simulated agencies (4)")
    p.add_argument("--sources", type=int, default=4, help="signing sender agencies (4)")
    p.add_argument("--workers", type=int, default=2, help="hub worker processes (2)")
    p.add_argument("--dispatch-interval", type=float, default=0.2, help="HUB_DISPATCH_INTERVAL")
    p.add_argument("--verify-seconds", type=float, help="one raw verify run (2; quick 0.5)")
    p.add_argument("--enqueue-calls", type=int, help="calls per enqueue variant (2000; quick 500)")
    p.add_argument("--profile", action="store_true", help="cProfile one deliver_due round")
    p.add_argument("--profile-items", type=int, default=300)
    p.add_argument("--quick", action="store_true", help="smoke run, under 40 s")
    p.add_argument("--agencies-only", metavar="CONFIG", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.duration = a.duration or (5.0 if a.quick else 20.0)
    a.saturation = a.saturation or (400 if a.quick else 3000)
    a.verify_seconds = a.verify_seconds or (0.5 if a.quick else 2.0)
    a.enqueue_calls = a.enqueue_calls or (300 if a.quick else 2000)
    if not 1 <= a.destinations <= 8 or a.workers < 1 or a.rate <= 0 or a.senders < 1:
        p.error("1..8 destinations, at least one worker and sender, a positive rate")
    if a.batch_size > 1000:
        p.error("the hub takes at most 1000 envelopes per batch (HUB_BATCH_MAX)")
    return a


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds every context manager: all children are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.agencies_only:
        return agencies_main(args.agencies_only)
    signal.signal(signal.SIGTERM, _sigterm)
    t_begin = time.monotonic()
    url = args.database_url
    if not is_postgres(url):
        print("WARNING: not PostgreSQL; the PostgreSQL figures are the ones that count")
    else:
        ensure_database(url)
    reset_database(url)
    work = Path(tempfile.mkdtemp(prefix="hub-fwdbench-"))
    key_dir = work / "keys"
    from hub.config import Settings
    from hub.exchange.client import HubClient
    from hub.exchange.jws import parse_compact
    from hub.services import build_hub

    build_hub(Settings.from_env(hub_env(url, key_dir))).engine.dispose()  # the hub's key
    sources = enrol_agencies(url, args.sources, prefix="fwd-src", areas=())  # never routed to
    dests = new_agencies("fwd-dst", args.destinations)
    prof = new_agencies("fwd-prof", 1)
    templates = complaint_templates()
    routing = plan_routing(templates, args.destinations)
    shared = httpx.Client(base_url="http://127.0.0.1:9")  # signers never send
    signers = [
        HubClient("http://127.0.0.1:9", agency=a.code, key=a.key, kid=a.kid, http=shared)
        for a in sources
    ]
    sample = presign(signers, routing.pools[:1], 1, "sample").items[0][1]
    signing_input = parse_compact(sample).signing_input
    print(
        f"database {url.split('@')[-1]} emptied and migrated; logs in {work}\n"
        f"{args.sources} sources, {args.destinations} destinations (push), {args.workers} rq "
        f"workers; {cpu_count()} cores shared by everything; envelope {len(sample)} B"
    )

    print("\n[1] raw signatures, one thread")
    raw = raw_ed25519_verify_rate(signing_input, seconds=args.verify_seconds, runs=3)
    raw_verify = median(raw)
    raw_sign = raw_sign_rate(signing_input, args.verify_seconds / 2)
    print(f"  Ed25519 verify {', '.join(f'{r:,.0f}' for r in raw)}/s; sign {raw_sign:,.0f}/s")

    with contextlib.ExitStack() as stack:
        redis_url, redis_proc = stack.enter_context(redis_server(work))
        extra = {"HUB_REDIS_URL": redis_url, "HUB_DISPATCH_INTERVAL": str(args.dispatch_interval)}
        env = hub_env(url, key_dir, extra)
        server = stack.enter_context(hub_server(env, log_dir=work))
        agencies = stack.enter_context(
            agencies_process(server.base_url, [*dests, *prof], [a.code for a in sources], work)
        )
        enrol_destinations(
            url,
            [*dests, *prof],
            agencies.endpoints,
            [*routing.categories, [routing.profile_category]],
            ["push"] * len(dests) + ["pull"],  # the profile destination idles until --profile
        )
        workers = stack.enter_context(rq_workers(args.workers, env, redis_url, work))
        db = Db(url)
        stack.callback(db.close)
        parts = {
            "hub serve": server.process_tree(),
            "workers": [w.pid for w in workers],
            "agencies": [agencies.process.pid],
            "redis": [redis_proc.pid],
            "load generator": [os.getpid()],
        }
        print(
            f"  hub {server.base_url}, redis {redis_url}, "
            f"ready in {time.monotonic() - t_begin:.1f} s"
        )

        # warm-up: connections, key caches, schema compilation in every process
        warm = presign(signers, routing.pools[: args.destinations], 8 * args.destinations, "warm")
        base = db.max_delivery_id()
        run_fixed_rate(server.base_url, warm, 50, 4, 10)
        wait_delivered(db, agencies, base, len(warm.items), 30, 15)

        print(f"\n[2] enqueue cost per message ({args.enqueue_calls} calls each, own Redis)")
        eq = measure_enqueue(redis_url, args.enqueue_calls, args.enqueue_calls // 2)
        for label, values in (
            ("RqDispatcher.wake, coalesced (key set)", eq.wake_coalesced),
            ("RqDispatcher.wake, first (SET NX + enqueue)", eq.wake_first),
            ("naive Queue.enqueue per message", eq.naive),
        ):
            print(
                f"  {label:<46} p50 {percentile(values, 50) * 1e6:6.0f} µs  "
                f"p95 {percentile(values, 95) * 1e6:6.0f} µs"
            )
        print(
            f"  {args.workers} workers drain trivial rq jobs at {eq.noop_jobs_per_s:,.0f} jobs/s "
            "(rq's own per-job cost on the worker side, no hub work)"
        )

        how = (
            f"batched every {args.window:g} ms (latency from each message's due time)"
            if args.window > 0
            else "one envelope per request"
        )
        print(
            f"\n[3] fixed offered load: {args.rate:g}/s for {args.duration:g} s, open loop, {how}"
        )
        n = int(args.rate * args.duration)
        signed = presign(signers, routing.pools[: args.destinations], n, "fixed")
        base, seen0 = db.max_delivery_id(), agencies.count()
        jobs0 = rq_job_counts(redis_url)
        with ActivitySampler(db) as activity, Cpu(parts, db) as cpu:
            t_phase = time.time()
            grace = 4 if args.quick else 10
            if args.window > 0:
                fixed = run_fixed_rate_windowed(
                    server.base_url, signed, args.rate, 4, grace, args.window / 1000
                )
            else:
                fixed = run_fixed_rate(server.base_url, signed, args.rate, args.senders, grace)
            wait_delivered(db, agencies, base, fixed.accepted, 10 if args.quick else 60, 15)
            phase_s = time.time() - t_phase
        jobs = rq_job_counts(redis_url)[0] - jobs0[0]
        br = breakdown(fixed.starts, agencies.records(seen0), db.timeline(base))
        print(
            f"  achieved {fixed.offered:,.1f}/s: {fixed.sent}/{n} sent, {fixed.accepted} accepted "
            f"in "
            f"{fixed.send_seconds:.1f} s; sender lag behind the timetable "
            f"p95 {ms(percentile(fixed.lags, 95))} ms, max {ms(max(fixed.lags, default=0))} ms"
        )
        if fixed.failures:
            print(f"  ! not accepted: {dict(fixed.failures.most_common(4))}")
        print(f"  intake → destination callback  {pct_line(br.total)}")
        print(f"    intake (request → received_at)  {pct_line(br.intake)}")
        print(
            "    received_at → callback (queue, rq, claim, push, 2 verifies)  "
            + pct_line(br.queue_push)
        )
        print(f"    callback → delivered_at (ack sign, record_ack)  {pct_line(br.ack)}")
        print(f"  intake → ack recorded  {pct_line(br.to_ack)}")
        print(f"  intake HTTP round trip  {pct_line(fixed.intake)}")
        print(
            f"  rq jobs finished: {jobs} for {fixed.accepted} messages "
            f"({fixed.accepted / max(1, jobs):.1f}"
            f" messages/job); missing {br.missing}, duplicate callbacks {br.duplicates}"
        )
        print(cpu.line(phase_s, fixed.accepted))
        print("\n".join(activity.report()))
        p95 = percentile(br.total, 95)

        backlog = drain(db, 10 if args.quick else 90)
        print(f"\n[4] saturation: {args.saturation} messages in batches of {args.batch_size}")
        if backlog:
            print(f"  ! {backlog} deliveries of [3] still open: they go first and slow this down")
        signed = presign(signers, routing.pools[: args.destinations], args.saturation, "sat")
        base, seen0 = db.max_delivery_id(), agencies.count()
        jobs0 = rq_job_counts(redis_url)
        with ActivitySampler(db) as activity, Cpu(parts, db) as cpu:
            sat = run_saturation(
                server.base_url,
                signed,
                args.batch_size,
                min(args.sources, 4),
                db,
                agencies,
                base,
                8 if args.quick else 120,
            )
            phase_s = time.time() - sat.first_send
        jobs = rq_job_counts(redis_url)[0] - jobs0[0]
        sustained = sat.delivered / sat.to_ack_seconds if sat.to_ack_seconds > 0 else math.nan
        print(
            f"  intake took {sat.intake_seconds:.1f} s "
            f"({sat.accepted / sat.intake_seconds:,.0f}/s);"
            f" {sat.delivered} acked, the last after {sat.to_ack_seconds:.1f} s: sustained "
            f"{sustained:,.1f} msg/s "
            f"intake→ack; steady delivery slope (10–90 %) {sat.steady_rate:,.1f}/s"
        )
        if sat.failures:
            print(f"  ! refused: {dict(sat.failures.most_common(4))}")
        print(f"  rq jobs finished: {jobs} ({sat.accepted / max(1, jobs):.1f} messages/job)")
        print(cpu.line(phase_s, sat.accepted))
        print("\n".join(activity.report()))

        if args.profile:
            profile_round(url, env, server, signers, routing, prof[0].code, args.profile_items, db)

    shared.close()
    ceiling = 2 / (4 / raw_verify + 3 / raw_sign)
    print("\n" + "=" * 78)
    print(
        f"signatures per forwarded message: 4 verify + 3 sign ({SIG_OPS}); at the raw rates "
        f"that is {(4 / raw_verify + 3 / raw_sign) * 1e3:.2f} ms CPU, a ceiling of "
        f"{ceiling:,.0f} msg/s on 2 cores"
    )
    print(
        f"sustained {sustained:,.1f} msg/s = {sustained / ceiling:.3f} × the signature ceiling, "
        f"{sustained / raw_verify:.3f} × raw verify of one core; target p95 < 250 ms at "
        f"{args.rate:g}/s: {'met' if p95 < 0.25 else 'NOT met'}; "
        f"ran {time.monotonic() - t_begin:.0f} s"
    )
    print(
        f"forward: p95 {p95 * 1e3:.0f} ms at {args.rate:g}/s offered (achieved "
        f"{fixed.offered:.0f}/s); sustained {sustained:.0f} msg/s intake→ack; "
        f"raw verify {raw_verify:.0f}/s"
    )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted; every process started here was stopped", file=sys.stderr)
        raise SystemExit(130) from None

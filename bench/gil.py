"""How long a database round trip waits for the GIL when other threads of the process compute.

    .venv/bin/python bench/gil.py                     # PostgreSQL on 127.0.0.1, database postgres
    HUB_DATABASE_URL=postgresql+psycopg2://... .venv/bin/python bench/gil.py --trips 2000

Why it matters: every intake and every round of acks holds the transparency log's row lock
from ``SELECT ... FOR UPDATE`` to ``COMMIT`` (``hub.exchange.translog.sequence``): three round
trips. psycopg2 lets go of the GIL while it waits for PostgreSQL; when the answer comes, the
thread must win the GIL back from whichever request thread is verifying signatures or
building rows, and CPython hands it over only every ``sys.getswitchinterval()`` (5 ms by
default). Each of those waits is spent holding the lock that every other intake in every
process queues on. ``hub serve`` and ``hub worker`` therefore shorten the interval
(``HUB_GIL_SWITCH_MS``, default 0.5 ms); this script measures what that buys on this machine.

For each number of busy threads (pure-Python work: canonical JSON and arithmetic, like the
hub's own), and each switch interval, it times ``--trips`` round trips of ``--statement``
(default a 0.3 ms ``pg_sleep``: a statement that takes the server a moment, as the hub's
writes do; a bare ``SELECT 1`` often answers before a busy thread has even taken the GIL) from
one more thread and prints p50, p95 and p99, plus how much work the busy threads got done
(a shorter interval costs them some throughput: the price of the shorter waits). The last
line compares the default interval with the hub's at the largest thread count.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Sequence

import psycopg2
from _common import percentile
from sqlalchemy.engine import make_url

from hub.exchange.canonical import canonicalize

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1/postgres"


def _dsn(url: str) -> str:
    u = make_url(url)
    parts = {
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
        "user": u.username or "postgres",
        "dbname": u.database or "postgres",
    }
    if u.password:
        parts["password"] = u.password
    return " ".join(f"{k}={v}" for k, v in parts.items())


def measure(
    dsn: str, interval: float, busy: int, trips: int, statement: str
) -> tuple[list[float], float]:
    """Round-trip latencies (s) with ``busy`` computing threads, and their work rate (/s)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    stop = threading.Event()
    done = [0] * busy
    document = {"type": "complaint.submit", "body": {"text": "ถนนชำรุด " * 20, "n": list(range(40))}}

    def burn(slot: int) -> None:
        while not stop.is_set():
            canonicalize(document)
            sum(i * i for i in range(300))
            done[slot] += 1

    threads = [threading.Thread(target=burn, args=(i,), daemon=True) for i in range(busy)]
    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        for t in threads:
            t.start()
        time.sleep(0.05)
        latencies: list[float] = []
        started = time.perf_counter()
        for _ in range(trips):
            t0 = time.perf_counter()
            cur.execute(statement)
            cur.fetchall()
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        for t in threads:
            t.join()
        conn.close()
        sys.setswitchinterval(previous)
    return latencies, sum(done) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--trips", type=int, default=1000, help="round trips per cell (1000)")
    p.add_argument(
        "--statement",
        default="SELECT pg_sleep(0.0003)",
        help="what each round trip runs (default: 0.3 ms on the server, like a small write)",
    )
    p.add_argument("--busy", default="0,1,3", help="busy thread counts (0,1,3)")
    p.add_argument("--intervals-ms", default="5,1,0.5", help="switch intervals in ms (5,1,0.5)")
    args = p.parse_args(argv)
    dsn = _dsn(os.environ.get("HUB_DATABASE_URL") or DEFAULT_URL)
    busy_counts = [int(b) for b in args.busy.split(",")]
    intervals = [float(i) / 1e3 for i in args.intervals_ms.split(",")]
    print(f"{os.cpu_count()} core(s); {args.trips} round trips of {args.statement!r} per cell")
    head = ("busy", "interval", "p50 ms", "p95 ms", "p99 ms", "busy work/s")
    print(f"{head[0]:>4} {head[1]:>9} {head[2]:>8} {head[3]:>8} {head[4]:>8} {head[5]:>12}")
    p95: dict[tuple[int, float], float] = {}
    for busy in busy_counts:
        for interval in intervals:
            lat, work = measure(dsn, interval, busy, args.trips, args.statement)
            p95[(busy, interval)] = percentile(lat, 95)
            print(
                f"{busy:>4} {interval * 1e3:>7.1f}ms {percentile(lat, 50) * 1e3:>8.3f} "
                f"{percentile(lat, 95) * 1e3:>8.3f} {percentile(lat, 99) * 1e3:>8.3f} "
                f"{work:>12,.0f}"
            )
    most = max(busy_counts)
    default, hub = 0.005, 0.0005
    if (most, default) in p95 and (most, hub) in p95:
        print(
            f"gil: round trip p95 {p95[(most, default)] * 1e3:.2f} ms at 5 ms switch interval vs "
            f"{p95[(most, hub)] * 1e3:.2f} ms at the hub's 0.5 ms, {most} busy threads"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Which filter shapes make an index query's tail: every repetition of ``bench/index.py``'s
workload (same seed, same parameters) timed several times, with its SQL statements.

    HUB_DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/hub_bench_index \\
        .venv/bin/python bench/index_shapes.py "count, filtered" [--reps 30] [--runs 3]
        [--explain LABEL-SUBSTRING] [--slowest K]

Reads a database ``bench/index.py`` loaded (``--keep``); writes nothing but the index's
own fold. Prints, per repetition, the median and max over ``--runs`` timings, its label and
the time of each SQL statement it ran (median over runs); ``--explain`` prints
``EXPLAIN (ANALYZE, BUFFERS)`` of every statement of the repetitions whose label contains
the substring, ``--slowest K`` of the K slowest repetitions.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, percentile, recorded_statements
from bench.index import Model, Workload, fit_source, loaded_meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("query", help='a query name of bench/index.py, e.g. "count, filtered"')
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--runs", type=int, default=3, help="timings per repetition")
    p.add_argument("--explain", default="", help="EXPLAIN the repetitions whose label has this")
    p.add_argument("--slowest", type=int, default=0, help="EXPLAIN the K slowest repetitions")
    p.add_argument(
        "--buffers",
        action="store_true",
        help="also EXPLAIN (ANALYZE, BUFFERS) every statement of every repetition and print"
        " its shared buffers and server time: evidence a busy machine does not blur",
    )
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args(argv)

    import os
    from datetime import datetime

    from hub.db import make_engine, make_sessionmaker

    url = os.environ["HUB_DATABASE_URL"]
    meta = loaded_meta(url)
    if not meta:
        p.error("no loaded bench database at HUB_DATABASE_URL (run bench/index.py first)")
    model = Model(fit_source(), now=datetime.fromisoformat(meta["now"]))
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    wl = Workload(model, sessions, seed=args.seed)
    for plan in wl.plans(args.query, 2):  # the bench's warm-up
        _run(sessions, plan)

    plans = wl.plans(args.query, args.reps)
    times: dict[int, list[float]] = defaultdict(list)
    stmt_times: dict[int, list[list[float]]] = defaultdict(list)
    recorded: dict[int, list[tuple[str, Any, float]]] = {}
    rows: dict[int, int] = {}
    with recorded_statements(engine) as statements:
        for _ in range(args.runs):
            for k, plan in enumerate(plans):
                statements.clear()
                seconds, rows[k] = _run(sessions, plan)
                times[k].append(seconds)
                stmt_times[k].append([s[2] for s in statements])
                recorded[k] = list(statements)

    print(f"{args.query}: {args.reps} repetitions x {args.runs} runs (ms: median, max)")
    buffers: list[int] = []
    for k, plan in enumerate(plans):
        per_stmt = [median(list(col)) * 1e3 for col in zip(*stmt_times[k], strict=False)]
        shown = " ".join(f"{t:.1f}" for t in per_stmt)
        extra = ""
        if args.buffers:
            n, server = _buffers(engine, recorded[k])
            buffers.append(n)
            extra = f" buffers={n} server={server:.1f}ms"
        print(
            f"{k:>3} {median(times[k]) * 1e3:>7.1f} {max(times[k]) * 1e3:>7.1f} "
            f"rows={rows[k]:<7}{extra} {plan.label}  [stmts ms: {shown}]"
        )
    if buffers:
        print(
            f"shared buffers per repetition: p50 {percentile(buffers, 50):.0f}, "
            f"p95 {percentile(buffers, 95):.0f}, max {max(buffers)}, sum {sum(buffers)}"
        )
    medians = [median(t) for t in times.values()]
    print(
        f"p50 {percentile(medians, 50) * 1e3:.1f} ms, p95 {percentile(medians, 95) * 1e3:.1f} ms"
        " (of each repetition's median)"
    )

    chosen = [k for k, plan in enumerate(plans) if args.explain and args.explain in plan.label]
    chosen += sorted(times, key=lambda k: -median(times[k]))[: args.slowest]
    for k in dict.fromkeys(chosen):
        print(f"\n### {plans[k].label} ({median(times[k]) * 1e3:.1f} ms)")
        for statement, params, secs in recorded[k]:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                text = "\n".join(r[0] for r in cur.fetchall())
                sql = cur.mogrify(statement, params).decode()
                raw.rollback()
            finally:
                raw.close()
            print(f"-- {secs * 1e3:.1f} ms when recorded\n{sql}\n{text}\n")
    engine.dispose()
    return 0


def _buffers(engine: Any, statements: list[tuple[str, Any, float]]) -> tuple[int, float]:
    """Shared buffers (hit + read) and server execution ms of a repetition's SELECTs."""
    total, server = 0, 0.0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, params, _ in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params)
            doc = cur.fetchone()[0][0]
            top = doc["Plan"]
            total += int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))
            server += float(doc.get("Execution Time", 0.0))
        raw.rollback()
    finally:
        raw.close()
    return total, server


def _run(sessions: Any, plan: Any) -> tuple[float, int]:
    session = sessions()
    try:
        t = time.perf_counter()
        n = plan.call(session)
        elapsed = time.perf_counter() - t
        session.rollback()
        return elapsed, n
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())

"""Intake throughput through the real HTTP API, beside the raw Ed25519 verify rate of one core.

    HUB_DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/hub_bench \\
        .venv/bin/python bench/intake.py [--messages N --batch-size B --agencies K --quick]

The database named by HUB_DATABASE_URL is EMPTIED and migrated (it must be a bench database);
unset, a temp SQLite file is used (PostgreSQL figures are the ones that count). The script
enrols K agencies with fresh Ed25519 keys, starts ``hub serve`` on a free loopback port,
pre-signs every envelope before timing (signing is the sender's cost), then measures:

* single: K threads, one envelope per ``POST /v1/envelopes`` over keep-alive connections;
* batch:  K threads, ``POST /v1/envelopes:batch`` with B envelopes per request;
* in-process: ``hub.exchange.intake.submit_batch`` called directly (no HTTP), same batches;
* raw verify: ``Ed25519PublicKey.verify`` in a loop, one thread, on a real signing input.

Counted: 2xx answers whose every item was accepted (201). A sample of receipts is verified
with ``HubClient.verify_receipt``. Each figure is the median of ``--runs`` runs with fresh
message ids. With ``--workers 1,2`` the server runs as one process, then as two uvicorn
workers. The ratio on the last line uses the one-process batch figure: one core's worth of
server against one core's worth of signature checking.

``--profile`` adds a cProfile of one in-process ``submit_batch`` of ``--profile-items``
envelopes and the SQL statements it issues per item.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import csv
import io
import json
import pstats
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ROOT,
    BenchAgency,
    HubServer,
    cpu_count,
    database_url_from_env,
    enrol_agencies,
    hub_env,
    hub_server,
    median,
    percentile,
    process_cpu_seconds,
    raw_ed25519_verify_rate,
    reset_database,
    warn_unless_postgres,
)

from hub.config import Settings
from hub.exchange.client import HubClient
from hub.exchange.jws import parse_compact

JOSE = {"Content-Type": "application/jose"}
JSON_CT = {"Content-Type": "application/json"}
RECEIPT_SAMPLE = 25  # receipts verified per run
REQUEST_TIMEOUT = 120.0


# --------------------------------------------------------------------------- complaint bodies


def complaint_templates(limit: int = 40) -> list[dict[str, Any]]:
    """Real Traffy Fondue rows mapped to hub complaints (skipping rows the mapping refuses)."""
    try:
        from adapters.traffy_fondue import SAMPLE_CSV
        from adapters.traffy_fondue.mapping import row_to_complaint
    except ImportError:  # before the adapter package existed
        from tests.support.traffy_simple import row_to_complaint

        SAMPLE_CSV = ROOT / "tests" / "fixtures" / "traffy" / "bangkok_sample.csv"
    with Path(SAMPLE_CSV).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        try:
            out.append(row_to_complaint(row))
        except Exception:  # an unmapped label: not this benchmark's business
            continue
        if len(out) >= limit:
            break
    if not out:
        raise SystemExit("no Traffy sample row maps to a complaint; cannot build bodies")
    return out


def complaint_body(template: dict[str, Any], issuer: str, ref: str) -> dict[str, Any]:
    """A new complaint each time: its own origin ref and national id, sent by ``issuer``."""
    body = copy.deepcopy(template)
    body["origin"]["ref"] = ref
    body["origin"]["agency"] = issuer
    body["id"] = f"traffy:{ref}"
    return body


@dataclass
class Signed:
    """Envelopes pre-signed for one run: per agency, in sending order."""

    per_agency: list[list[str]]
    seconds: float  # time spent signing (sender's cost, never timed against the hub)

    @property
    def count(self) -> int:
        return sum(len(x) for x in self.per_agency)


def presign(
    signers: Sequence[HubClient], templates: Sequence[dict[str, Any]], total: int, tag: str
) -> Signed:
    per_agency: list[list[str]] = [[] for _ in signers]
    start = time.perf_counter()
    for i in range(total):
        a = i % len(signers)
        signer = signers[a]
        ref = f"BENCH-{tag}-{signer.agency}-{i:07d}"
        body = complaint_body(templates[i % len(templates)], signer.agency, ref)
        per_agency[a].append(signer.envelope("complaint.submit", body, id=f"{signer.agency}-{ref}"))
    return Signed(per_agency, time.perf_counter() - start)


# --------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    mode: str
    sent: int
    accepted: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[str, str]] = field(default_factory=list)  # (receipt, sent jws)
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0


def _run_threads(
    server: HubServer, mode: str, work: Sequence[Callable[[httpx.Client, RunResult], None]]
) -> RunResult:
    """Run one callable per thread, each with its own keep-alive client, behind a barrier."""
    result = RunResult(mode, 0, 0, 0.0)
    lock = threading.Lock()
    barrier = threading.Barrier(len(work) + 1)
    errors: list[BaseException] = []

    def thread_main(fn: Callable[[httpx.Client, RunResult], None]) -> None:
        local = RunResult(mode, 0, 0, 0.0)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT, limits=limits) as c:
            c.get("/health")  # open the keep-alive connection before the clock starts
            barrier.wait()
            try:
                fn(c, local)
            except BaseException as exc:
                errors.append(exc)
        with lock:
            result.sent += local.sent
            result.accepted += local.accepted
            result.latencies += local.latencies
            result.failures += local.failures
            result.samples += local.samples

    threads = [threading.Thread(target=thread_main, args=(fn,), daemon=True) for fn in work]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    cpu0, server0, t0 = process_cpu_seconds(), server.cpu_seconds(), time.perf_counter()
    for t in threads:
        t.join(timeout=1800)
    result.seconds = time.perf_counter() - t0
    result.client_cpu = process_cpu_seconds() - cpu0
    result.server_cpu = server.cpu_seconds() - server0
    if errors:
        raise RuntimeError(f"a sender thread failed: {errors[0]!r}") from errors[0]
    if any(t.is_alive() for t in threads):
        raise RuntimeError("a sender thread did not finish within 30 minutes")
    return result


def _sample_every(n: int) -> int:
    return max(1, n // RECEIPT_SAMPLE)


def run_single(server: HubServer, signed: Signed) -> RunResult:
    every = _sample_every(signed.count)

    def sender(envelopes: list[str]) -> Callable[[httpx.Client, RunResult], None]:
        bodies = [e.encode("ascii") for e in envelopes]

        def go(client: httpx.Client, out: RunResult) -> None:
            for i, body in enumerate(bodies):
                t = time.perf_counter()
                r = client.post("/v1/envelopes", content=body, headers=JOSE)
                out.latencies.append(time.perf_counter() - t)
                out.sent += 1
                if r.status_code == 201:
                    out.accepted += 1
                    if i % every == 0:
                        out.samples.append((r.json()["receipt"], envelopes[i]))
                else:
                    out.failures[_failure(r)] += 1

        return go

    return _run_threads(server, "single", [sender(e) for e in signed.per_agency])


def run_batch(server: HubServer, signed: Signed, batch_size: int) -> RunResult:
    def sender(envelopes: list[str]) -> Callable[[httpx.Client, RunResult], None]:
        batches = [envelopes[i : i + batch_size] for i in range(0, len(envelopes), batch_size)]
        bodies = [json.dumps(b).encode("ascii") for b in batches]  # the client's cost, not timed

        def go(client: httpx.Client, out: RunResult) -> None:
            for batch, body in zip(batches, bodies, strict=True):
                t = time.perf_counter()
                r = client.post("/v1/envelopes:batch", content=body, headers=JSON_CT)
                out.latencies.append(time.perf_counter() - t)
                out.sent += len(batch)
                if r.status_code != 200:
                    out.failures[_failure(r)] += len(batch)
                    continue
                answer = r.json()
                statuses = [x["status"] for x in answer["results"]]
                if answer["accepted"] != len(batch) or any(s != 201 for s in statuses):
                    for x in answer["results"]:
                        if x["status"] != 201:
                            out.failures[f"item {x['status']} {_slug(x.get('problem'))}"] += 1
                    continue  # a batch counts only when every item was accepted
                out.accepted += len(batch)
                x = answer["results"][len(batch) // 2]
                out.samples.append((x["receipt"]["receipt"], batch[x["index"]]))

        return go

    return _run_threads(server, "batch", [sender(e) for e in signed.per_agency])


def _failure(r: httpx.Response) -> str:
    try:
        problem = r.json()
    except ValueError:
        problem = None
    return f"HTTP {r.status_code} {_slug(problem)}"


def _slug(problem: Any) -> str:
    if isinstance(problem, dict):
        return str(problem.get("type", "")) + " " + str(problem.get("detail", ""))[:80]
    return ""


def verify_receipts(checker: HubClient, result: RunResult) -> int:
    """Verify the sampled receipts with the SDK; raises if any does not verify."""
    for receipt, sent in result.samples:
        checker.verify_receipt(receipt, sent=sent)
    return len(result.samples)


# --------------------------------------------------------------------------- in-process


def in_process_runs(
    url: str, key_dir: Path, signed_runs: Sequence[Signed], batch_size: int
) -> list[float]:
    """``intake.submit_batch`` called directly: the hub's core cost without HTTP."""
    from hub.exchange import intake
    from hub.services import build_hub

    hub = build_hub(Settings.from_env(hub_env(url, key_dir)), create_key=False)
    rates = []
    try:
        for signed in signed_runs:
            batches = [
                envs[i : i + batch_size]
                for envs in signed.per_agency
                for i in range(0, len(envs), batch_size)
            ]
            accepted, t0, cpu0 = 0, time.perf_counter(), process_cpu_seconds()
            for batch in batches:
                results = intake.submit_batch(hub, batch)
                accepted += sum(1 for r in results if r.accepted is not None and r.accepted.created)
            seconds, cpu = time.perf_counter() - t0, process_cpu_seconds() - cpu0
            rates.append(accepted / seconds)
            print(
                f"  run {len(rates)}: {accepted} in {seconds:.2f} s = {accepted / seconds:,.0f}/s; "
                f"hub process CPU {cpu / max(1, accepted) * 1e3:.2f} ms/item, "
                f"wall {seconds / max(1, accepted) * 1e3:.2f} ms/item"
            )
            if accepted != signed.count:
                print(f"  ! in-process: {signed.count - accepted} envelope(s) refused")
    finally:
        hub.engine.dispose()
    return rates


def profile_batch(
    url: str, key_dir: Path, signed: Signed, top: int = 30, *, single: bool = False
) -> None:
    """cProfile one in-process batch (or, ``single``, the same envelopes one transaction
    each, as ``POST /v1/envelopes`` stores them) and count its SQL statements per item."""
    from sqlalchemy import event

    from hub.exchange import intake
    from hub.services import build_hub

    hub = build_hub(Settings.from_env(hub_env(url, key_dir)), create_key=False)
    statements: Counter[str] = Counter()
    db_seconds: Counter[str] = Counter()
    started: list[float] = []

    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        words = statement.split()
        head = (" ".join(words[:4]) if words else "?")[:70]
        statements[head] += 1
        db_seconds[head] += time.perf_counter() - started.pop()

    event.listen(hub.engine, "before_cursor_execute", before)
    event.listen(hub.engine, "after_cursor_execute", after)
    items = [e for envs in signed.per_agency for e in envs]
    intake.submit_batch(hub, items[:5])  # warm caches (schema compile, key parse) first
    statements.clear()
    db_seconds.clear()
    items = items[5:]
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    if single:
        results = [
            intake.ItemResult(i, accepted=intake.submit(hub, e.encode()))
            for i, e in enumerate(items)
        ]
    else:
        results = intake.submit_batch(hub, items)
    profiler.disable()
    seconds = time.perf_counter() - t0
    hub.engine.dispose()
    ok = sum(1 for r in results if r.accepted is not None)
    n = len(items)
    print(
        f"\nprofile: in-process {'submit, one by one,' if single else 'submit_batch'} "
        f"of {n} envelopes, {ok} accepted, "
        f"{seconds:.2f} s under cProfile ({seconds / n * 1e3:.2f} ms/item)"
    )
    print(
        f"SQL: {sum(statements.values()) / n:.2f} statements per item, "
        f"{sum(db_seconds.values()) / n * 1e3:.2f} ms/item waiting on the database"
    )
    for head, secs in db_seconds.most_common(20):
        c = statements[head]
        print(f"  {c / n:5.2f}/item {secs / n * 1e3:6.2f} ms/item  {head}")
    print("\nhub functions by cumulative time per item (cProfile inflates Python-heavy code):")
    raw_stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    ours = [
        (ct, nc, f"{Path(file).name}:{line}({fn})")
        for (file, line, fn), (_cc, nc, _tt, ct, _callers) in raw_stats.items()
        if str(ROOT / "hub") in file
    ]
    for ct, nc, name in sorted(ours, reverse=True)[:25]:
        print(f"  {ct / n * 1e3:7.2f} ms/item {nc / n:6.2f} calls/item  {name}")
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats(key).print_stats(top)
        print(f"\n--- top {top} by {key} ---")
        print(_trim_pstats(buf.getvalue()))


def _trim_pstats(text: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            return "\n".join(lines[i:]).replace(str(ROOT) + "/", "")
    return text


# --------------------------------------------------------------------------- main


@dataclass
class ConfigResult:
    workers: int
    single: list[RunResult] = field(default_factory=list)
    batch: list[RunResult] = field(default_factory=list)
    receipts_checked: int = 0
    error: str = ""


def measure_config(
    env: dict[str, str],
    workers: int,
    signers: Sequence[HubClient],
    templates: Sequence[dict[str, Any]],
    args: argparse.Namespace,
    signing: list[tuple[int, float]],
) -> ConfigResult:
    out = ConfigResult(workers)
    with hub_server(env, workers=workers) as server:
        print(f"\n[{workers} worker process(es)] hub at {server.base_url}, pids {server.pids}")
        checker = HubClient(server.base_url, agency="bench-checker", key=signers[0].key, kid="-")
        try:
            # warm-up, not counted: connections, schema compilation, key cache in every worker
            warm = presign(signers, templates, max(8, 4 * len(signers) * workers), f"w{workers}-wu")
            run_single(server, warm)
            run_batch(server, presign(signers, templates, args.batch_size, f"w{workers}-wb"), 50)
            for mode in ("single", "batch"):
                for run in range(args.runs):
                    signed = presign(signers, templates, args.messages, f"w{workers}-{mode}{run}")
                    signing.append((signed.count, signed.seconds))
                    if mode == "single":
                        result = run_single(server, signed)
                        out.single.append(result)
                    else:
                        result = run_batch(server, signed, args.batch_size)
                        out.batch.append(result)
                    out.receipts_checked += verify_receipts(checker, result)
                    _print_run(result, run)
        finally:
            checker.http.close()
    return out


def _print_run(r: RunResult, run: int) -> None:
    fail = ""
    if r.failures:
        fail = "  REFUSED: " + "; ".join(f"{n}× {k}" for k, n in r.failures.most_common(3))
    print(
        f"  {r.mode:<6} run {run + 1}: {r.accepted}/{r.sent} accepted in {r.seconds:.2f} s "
        f"= {r.rate:,.0f}/s  (client CPU {r.client_cpu / r.seconds:.0%} of a core, "
        f"server {r.server_cpu / r.seconds:.0%}){fail}"
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, help="envelopes per run and mode (default 1000)")
    p.add_argument("--batch-size", type=int, default=200, help="envelopes per batch request")
    p.add_argument("--agencies", type=int, default=4, help="concurrent signing agencies")
    p.add_argument("--runs", type=int, help="runs per figure; the median is reported (3)")
    p.add_argument(
        "--workers",
        default=None,
        help="server configurations to try, comma-separated uvicorn worker counts (1,2)",
    )
    p.add_argument("--verify-seconds", type=float, help="length of one raw verify run (2.0)")
    p.add_argument("--quick", action="store_true", help="small and fast: a smoke run")
    p.add_argument("--profile", action="store_true", help="cProfile an in-process batch too")
    p.add_argument("--profile-items", type=int, default=1000)
    p.add_argument("--profile-only", action="store_true", help="only the profile, no HTTP")
    p.add_argument(
        "--profile-single", action="store_true", help="profile one transaction per envelope"
    )
    p.add_argument("--no-in-process", action="store_true", help="skip the in-process figure")
    args = p.parse_args(argv)
    quick = args.quick
    args.messages = args.messages or (300 if quick else 1000)
    args.runs = args.runs or (1 if quick else 3)
    args.workers = [int(w) for w in (args.workers or ("1" if quick else "1,2")).split(",")]
    args.verify_seconds = args.verify_seconds or (0.5 if quick else 2.0)
    args.profile = args.profile or args.profile_only
    if min(args.messages, args.batch_size, args.agencies, args.runs, *args.workers) < 1:
        p.error("counts must be positive")
    if args.batch_size > 1000:
        p.error("the hub takes at most 1000 envelopes per batch (HUB_BATCH_MAX)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    url, temporary = database_url_from_env()
    warn_unless_postgres(url, temporary)
    key_dir = Path(tempfile.mkdtemp(prefix="hub-bench-keys-"))
    env = hub_env(url, key_dir)
    print(f"database {_safe(url)}: emptied and migrated (bench database)")
    reset_database(url)
    from hub.services import build_hub

    build_hub(Settings.from_env(env)).engine.dispose()  # hub keys made once, before any worker
    agencies: list[BenchAgency] = enrol_agencies(url, args.agencies)
    shared_http = httpx.Client(base_url="http://127.0.0.1:9")  # signers never send
    signers = [
        HubClient("http://127.0.0.1:9", agency=a.code, key=a.key, kid=a.kid, http=shared_http)
        for a in agencies
    ]
    templates = complaint_templates()
    sample = presign(signers[:1], templates, 1, "sample").per_agency[0][0]
    signing_input = parse_compact(sample).signing_input
    print(
        f"enrolled {len(agencies)} agencies ({agencies[0].alg}); {len(templates)} Traffy bodies; "
        f"envelope {len(sample)} B, signing input {len(signing_input)} B"
    )
    if args.profile_only:
        signed = presign(signers, templates, args.profile_items + 5, "prof")
        profile_batch(url, key_dir, signed, single=args.profile_single)
        shared_http.close()
        return 0
    print(f"raw Ed25519 verify: {args.runs} × {args.verify_seconds:g} s, one thread ...")
    raw = raw_ed25519_verify_rate(signing_input, seconds=args.verify_seconds, runs=args.runs)
    print("  " + ", ".join(f"{r:,.0f}/s" for r in raw))

    signing: list[tuple[int, float]] = []
    configs: list[ConfigResult] = []
    for workers in args.workers:
        try:
            configs.append(measure_config(env, workers, signers, templates, args, signing))
        except RuntimeError as exc:
            if workers == 1:
                raise
            print(f"  ! {workers} workers: {exc}")
            configs.append(ConfigResult(workers, error=str(exc).splitlines()[0]))

    in_process: list[float] = []
    try:  # secondary figures: a failure here must not cost the HTTP figures above
        if not args.no_in_process:
            print("\n[in-process] intake.submit_batch called directly, no HTTP")
            runs = [presign(signers, templates, args.messages, f"ip{r}") for r in range(args.runs)]
            in_process = in_process_runs(url, key_dir, runs, args.batch_size)
        if args.profile:
            signed = presign(signers, templates, args.profile_items + 5, "prof")
            profile_batch(url, key_dir, signed)
    except Exception as exc:
        print(f"  ! in-process measurement failed: {exc!r}")
    shared_http.close()

    report(args, url, raw, signing, configs, in_process)
    return 0


def report(
    args: argparse.Namespace,
    url: str,
    raw: list[float],
    signing: list[tuple[int, float]],
    configs: list[ConfigResult],
    in_process: list[float],
) -> None:
    raw_rate = median(raw)
    sign_rate = sum(n for n, _ in signing) / max(1e-9, sum(s for _, s in signing))
    print("\n" + "=" * 78)
    print(
        f"intake benchmark: {_safe(url)}; {cpu_count()} CPU core(s) (os.cpu_count) shared by "
        "client, hub and database"
    )
    print(
        f"{args.messages} envelopes per run, median of {args.runs} run(s); "
        f"{args.agencies} concurrent agencies; batch size {args.batch_size}"
    )
    print(f"{'figure':<44}{'per second':>14}{'× raw verify':>14}")
    rows: list[tuple[str, float]] = [("raw Ed25519 verify, 1 thread (cryptography)", raw_rate)]
    for c in configs:
        label = f"{c.workers} worker{'s' if c.workers > 1 else ''}"
        if c.error:
            print(f"{label}: not measured ({c.error})")
            continue
        rows.append((f"HTTP single, {label}", median([r.rate for r in c.single])))
        rows.append(
            (f"HTTP batch of {args.batch_size}, {label}", median([r.rate for r in c.batch]))
        )
    if in_process:
        rows.append((f"in-process submit_batch of {args.batch_size} (no HTTP)", median(in_process)))
    rows.append(("sender signing, 1 thread (not the hub's cost)", sign_rate))
    for label, rate in rows:
        print(f"{label:<44}{rate:>14,.0f}{rate / raw_rate:>14.3f}")
    for c in configs:
        if c.error:
            continue
        lat = [x for r in c.single for x in r.latencies]
        blat = [x for r in c.batch for x in r.latencies]
        cpu_c = sum(r.client_cpu for r in c.single + c.batch)
        cpu_s = sum(r.server_cpu for r in c.single + c.batch)
        wall = sum(r.seconds for r in c.single + c.batch)
        print(
            f"{c.workers} worker(s): single latency p50 {percentile(lat, 50) * 1e3:.1f} ms, "
            f"p95 {percentile(lat, 95) * 1e3:.1f} ms; batch request p50 "
            f"{percentile(blat, 50) * 1e3:.0f} ms, p95 {percentile(blat, 95) * 1e3:.0f} ms; "
            f"CPU: client {cpu_c / wall:.0%}, hub {cpu_s / wall:.0%} of a core; "
            f"{c.receipts_checked} receipts verified"
        )
        refused = sum(sum(r.failures.values()) for r in c.single + c.batch)
        if refused:
            print(f"  ! {refused} envelope(s) not accepted: see the per-run lines above")
    headline = next((c for c in configs if c.workers == 1 and not c.error), None)
    headline = headline or next(c for c in configs if not c.error)
    batch_rate = median([r.rate for r in headline.batch])
    ratio = batch_rate / raw_rate
    print(
        f"target: batch ≥ 0.5 × raw verify ({headline.workers} worker); "
        + ("met" if ratio >= 0.5 else "NOT met")
    )
    print(f"intake ratio {ratio:.2f} (batch {batch_rate:.0f}/s vs raw verify {raw_rate:.0f}/s)")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())

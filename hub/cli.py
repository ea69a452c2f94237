"""The ``hub`` command. Every subcommand reads the same ``HUB_*`` settings (see README.md).

hub db upgrade                      bring the database schema up to date (Alembic)
hub serve [--host H --port P]       run the API server (uvicorn)
hub worker                          run an rq worker (needs HUB_REDIS_URL)
hub keys init                       make the hub's signing key
hub keys generate CODE --out DIR    make an agency key pair (private file 0600)
hub certs init | issue CODE         a development CA and agency certificates
hub agencies list | add CODE ...    the trust registry
hub demo [--once]                   a hub on SQLite with reference agencies and sample traffic
hub adapters check | run NAME ...   an adapter's conformance kit; an adapter as a service
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from hub.config import Settings
from hub.exchange.registry import KeyMaterial


def main(argv: Sequence[str] | None = None) -> int:
    # connexion imports starlette's TestClient, which nags about httpx2 on every start
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = {
        ("import", "traffy"): _import_traffy,
        ("import", "damrongdhama"): _import_damrongdhama,
        ("adapters", "check"): _adapters_check,
        ("adapters", "run"): _adapters_run,
    }
    head = (argv[0], argv[1]) if len(argv) >= 2 else ("", "")
    if head in passthrough:  # these own their arguments (and their --help)
        return passthrough[head](Settings.from_env(), argparse.Namespace(rest=argv[2:]))
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from hub.errors import HubError

    settings = Settings.from_env()
    try:
        result: int = args.func(settings, args)
    except HubError as exc:  # a refusal is an answer, not a crash: say why, exit 1
        print(f"refused ({exc.slug}): {exc.detail}", file=sys.stderr)
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    db = sub.add_parser("db", help="database schema (Alembic migrations)").add_subparsers(
        metavar="ACTION"
    )
    up = db.add_parser(
        "upgrade", help="upgrade the database named by HUB_DATABASE_URL to the newest schema"
    )
    up.add_argument("--revision", default="head")
    up.set_defaults(func=_db_upgrade)

    serve = sub.add_parser("serve", help="run the API server (uvicorn); upgrades the schema first")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.set_defaults(func=_serve)

    worker = sub.add_parser("worker", help="run an rq worker for deliveries (needs HUB_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=_worker)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(metavar="ACTION")
    k_init = keys.add_parser(
        "init", help="make a new hub signing key in HUB_KEY_DIR (rotation: the newest signs)"
    )
    k_init.add_argument("--alg", choices=["EdDSA", "ES256"], default="EdDSA")
    k_init.set_defaults(func=_keys_init)
    k_gen = keys.add_parser("generate", help="make an agency key pair as JWK files")
    k_gen.add_argument("code")
    k_gen.add_argument("--out", type=Path, required=True)
    k_gen.add_argument("--alg", choices=["EdDSA", "ES256"], default="EdDSA")
    k_gen.set_defaults(func=_keys_generate)

    certs = sub.add_parser("certs", help="development CA and agency certificates").add_subparsers(
        metavar="ACTION"
    )
    c_init = certs.add_parser("init", help="make a development CA in --dir (default certs/dev)")
    c_init.add_argument("--dir", type=Path, default=Path("certs/dev"))
    c_init.set_defaults(func=_certs_init)
    c_issue = certs.add_parser("issue", help="issue a certificate for an agency key")
    c_issue.add_argument("code")
    c_issue.add_argument("--dir", type=Path, default=Path("certs/dev"))
    c_issue.add_argument(
        "--key", type=Path, help="the agency's public or private JWK (default: make a new key)"
    )
    c_issue.add_argument("--days", type=int, default=365)
    c_issue.set_defaults(func=_certs_issue)

    ag = sub.add_parser("agencies", help="the trust registry").add_subparsers(metavar="ACTION")
    ag_list = ag.add_parser("list", help="list enrolled agencies and their keys")
    ag_list.set_defaults(func=_agencies_list)
    ag_add = ag.add_parser("add", help="enrol an agency with its public key")
    ag_add.add_argument("code")
    ag_add.add_argument("--kind", required=True)
    ag_add.add_argument("--name", required=True, help="Thai name")
    ag_add.add_argument("--name-en", default="")
    ag_add.add_argument(
        "--key", type=Path, required=True, help="public JWK, PEM public key or PEM certificate"
    )
    ag_add.add_argument("--endpoint")
    ag_add.add_argument("--mode", choices=["push", "pull"], default="pull")
    ag_add.add_argument("--areas", default="", help="comma-separated DOPA codes, e.g. 10,1001")
    ag_add.add_argument("--categories", default="", help="comma-separated hub category codes")
    ag_add.add_argument("--roles", default="submit,receive", help="submit,receive,oversight,admin")
    ag_add.set_defaults(func=_agencies_add)

    rt = sub.add_parser("routing", help="routing rules: who acts on which area and category")
    rts = rt.add_subparsers(metavar="ACTION")
    rt_list = rts.add_parser("list", help="list rules")
    rt_list.add_argument("--area")
    rt_list.add_argument("--agency")
    rt_list.set_defaults(func=_routing_list)
    rt_add = rts.add_parser("add", help="route an area (DOPA code or TH) and category to an agency")
    rt_add.add_argument("area")
    rt_add.add_argument("agency")
    rt_add.add_argument("--category", help="hub category code; omit for every category")
    rt_add.add_argument("--note")
    rt_add.set_defaults(func=_routing_add)
    rt_rm = rts.add_parser("remove", help="remove a rule by id")
    rt_rm.add_argument("id", type=int)
    rt_rm.set_defaults(func=_routing_remove)
    rt_ex = rts.add_parser("explain", help="which agency gets a complaint, and why")
    rt_ex.add_argument("area")
    rt_ex.add_argument("category")
    rt_ex.set_defaults(func=_routing_explain)

    dl = sub.add_parser("deliveries", help="the outbox").add_subparsers(metavar="ACTION")
    dl_list = dl.add_parser("list", help="deliveries, newest last, and counts per destination")
    dl_list.add_argument("--state", choices=["pending", "in_flight", "delivered", "failed", "dead"])
    dl_list.add_argument("--destination")
    dl_list.add_argument("--limit", type=int, default=50)
    dl_list.set_defaults(func=_deliveries_list)
    dl_replay = dl.add_parser("replay", help="send a dead or failed delivery again (same bytes)")
    dl_replay.add_argument("id", type=int, nargs="+")
    dl_replay.set_defaults(func=_deliveries_replay)

    lg = sub.add_parser("log", help="the transparency log").add_subparsers(metavar="ACTION")
    lg_verify = lg.add_parser(
        "verify",
        help="check a hub's signed tree head, that its log only grew, and that receipts are in it",
    )
    lg_verify.add_argument("--hub", required=True, help="the hub's base URL")
    lg_verify.add_argument(
        "--state",
        type=Path,
        default=Path("hub-log-state.json"),
        help="where the last verified tree head is kept between runs",
    )
    lg_verify.add_argument(
        "--receipt", type=Path, action="append", default=[], help="a receipt file (repeatable)"
    )
    lg_verify.add_argument(
        "--full", action="store_true", help="download every entry and recompute the root"
    )
    lg_verify.set_defaults(func=_log_verify)

    o311 = sub.add_parser("open311", help="the Open311 GeoReport v2 facade").add_subparsers(
        metavar="ACTION"
    )
    o311_add = o311.add_parser(
        "add-client", help="issue an api_key (printed once, as the last word)"
    )
    o311_add.add_argument("name")
    o311_add.set_defaults(func=_open311_add_client)

    imp = sub.add_parser("import", help="bulk import of a system's exports").add_subparsers(
        metavar="SYSTEM"
    )
    imp_traffy = imp.add_parser(
        "traffy",
        help="Traffy Fondue CSV export: FILE --key AGENCY.private.jwk [--hub-url URL]",
        add_help=False,
    )
    imp_traffy.add_argument("rest", nargs=argparse.REMAINDER)
    imp_traffy.set_defaults(func=_import_traffy)
    imp_dc = imp.add_parser(
        "damrongdhama",
        help="Damrongdhama centre CSV export (reference or mapped format)",
        add_help=False,
    )
    imp_dc.add_argument("rest", nargs=argparse.REMAINDER)
    imp_dc.set_defaults(func=_import_damrongdhama)

    ad = sub.add_parser("adapters", help="adapters to other systems").add_subparsers(
        metavar="ACTION"
    )
    ad_check = ad.add_parser(
        "check",
        help="the conformance kit: NAME [--hub-url URL --key JWK] [--examples N]",
        add_help=False,
    )
    ad_check.add_argument("rest", nargs=argparse.REMAINDER)
    ad_check.set_defaults(func=_adapters_check)
    ad_run = ad.add_parser(
        "run",
        help="an adapter as a service: NAME --key JWK [--hub-url URL] [--once] [--interval S] "
        "[--state FILE] [--listen HOST:PORT | --pull]",
        add_help=False,
    )
    ad_run.add_argument("rest", nargs=argparse.REMAINDER)
    ad_run.set_defaults(func=_adapters_run)

    demo = sub.add_parser(
        "demo", help="run a hub on the embedded default with reference agencies and sample traffic"
    )
    demo.add_argument("--once", action="store_true", help="run the scripted part and exit")
    demo.add_argument("--port", type=int)
    demo.set_defaults(func=_demo)
    return p


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from hub.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at {_safe_url(settings.database_url)} is at revision {args.revision}")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    """The API server. This process also publishes tree heads and sweeps the outbox; with
    several uvicorn workers, each worker enqueues its own deliveries when Redis is set."""
    import uvicorn

    from hub.app import create_app
    from hub.background import start_head_publisher, start_index_folder, start_sla_checker
    from hub.exchange.dispatch import start_dispatcher
    from hub.migrate import upgrade
    from hub.services import build_hub

    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    tune_gil(settings)
    upgrade(settings.database_url)
    hub = build_hub(settings)
    start_head_publisher(hub)
    start_sla_checker(hub)
    start_index_folder(hub)
    start_dispatcher(hub)
    print(f"hub API on http://{settings.host}:{settings.port}  (docs: /v1/ui/)", flush=True)
    if args.workers > 1:
        uvicorn.run(
            "hub.app:serve_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=args.workers,
            log_level="warning",
        )
    else:
        uvicorn.run(
            create_app(settings, hub=hub),
            host=settings.host,
            port=settings.port,
            log_level="warning",
        )
    return 0


def tune_gil(settings: Settings) -> None:
    """Hand the GIL over sooner than CPython's 5 ms (``HUB_GIL_SWITCH_MS``) in the
    long-running processes. A thread back from a database round trip waits for the GIL
    until the switch interval makes a computing thread let go, and the thread that holds
    the transparency log's lock (which every intake and ack round queues on) does three
    round trips before it commits; ``bench/gil.py`` measures a round trip beside three busy
    threads at p50 18 ms with 5 ms and 4 ms with 0.5 ms, busy threads' work unchanged."""
    if settings.gil_switch_ms > 0:
        sys.setswitchinterval(settings.gil_switch_ms / 1000.0)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    """An rq worker (no fork per job: the hub and its connections are built once) plus a
    sweeper thread, so every worker also re-enqueues whatever the queue lost."""
    if not settings.redis_url:
        print(
            "hub worker needs HUB_REDIS_URL (without Redis the API process delivers itself)",
            file=sys.stderr,
        )
        return 2
    from hub.background import start_index_folder
    from hub.exchange import jobs
    from hub.exchange.dispatch import RqDispatcher
    from hub.services import build_hub

    tune_gil(settings)
    hub = build_hub(settings, create_key=False)
    sweeper = RqDispatcher(hub)
    folder = start_index_folder(hub)
    try:
        jobs.work(settings.redis_url, burst=args.burst)
    finally:
        folder.set()
        sweeper.stop()
    return 0


def _keys_init(settings: Settings, args: argparse.Namespace) -> int:
    from hub.exchange.hubkey import init_key

    path = init_key(settings.key_dir, alg=args.alg)
    print(f"hub signing key written to {path} (mode 0600); it signs from now on")
    return 0


def _keys_generate(settings: Settings, args: argparse.Namespace) -> int:
    from hub.exchange.keys import (
        generate_private_key,
        jwk_thumbprint,
        private_jwk,
        public_jwk,
        write_private_jwk,
    )

    key = generate_private_key(args.alg)
    key_id = jwk_thumbprint(public_jwk(key))[:16]
    kid = f"{args.code}/{key_id}"
    args.out.mkdir(parents=True, exist_ok=True)
    private_path = args.out / f"{args.code}.private.jwk"
    public_path = args.out / f"{args.code}.public.jwk"
    write_private_jwk(private_path, private_jwk(key, kid=kid))
    public_path.write_text(json.dumps(public_jwk(key, kid=kid), indent=2) + "\n")
    print(f"kid {kid}")
    print(f"private {private_path} (0600, keep it secret)")
    print(f"public  {public_path} (enrol this one)")
    return 0


def _certs_init(settings: Settings, args: argparse.Namespace) -> int:
    from hub import devca

    print(devca.init(args.dir))
    return 0


def _certs_issue(settings: Settings, args: argparse.Namespace) -> int:
    from hub import devca

    print(devca.issue(args.dir, args.code, key_file=args.key, days=args.days))
    return 0


def _agencies_list(settings: Settings, args: argparse.Namespace) -> int:
    from hub.exchange import registry
    from hub.services import build_hub

    hub = build_hub(settings)
    with hub.transaction() as s:
        for a in registry.list_agencies(s):
            keys = (
                ", ".join(f"{k.kid} ({k.status})" for k in registry.agency_keys(s, a.code))
                or "no keys"
            )
            roles = ",".join(a.roles)
            print(f"{a.code:<16} {a.kind:<20} {a.name_th} / {a.name_en}  [{roles}]  {keys}")
    return 0


def _agencies_add(settings: Settings, args: argparse.Namespace) -> int:
    from hub.exchange import registry
    from hub.services import build_hub

    hub = build_hub(settings)
    material = key_material_from_file(args.key)
    with hub.transaction() as s:
        registry.enrol(
            s,
            code=args.code,
            kind=args.kind,
            name_th=args.name,
            name_en=args.name_en,
            key=material,
            endpoint=args.endpoint,
            mode=args.mode,
            areas=_csv(args.areas),
            categories=_csv(args.categories),
            roles=_csv(args.roles),
            trusted_roots=hub.trusted_roots(),
            now=hub.now(),
        )
    print(f"enrolled {args.code}")
    return 0


def key_material_from_file(path: Path) -> KeyMaterial:
    """A JWK file, a PEM public key or a PEM certificate chain, told apart by content."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        jwk = json.loads(text)
        public = {k: v for k, v in jwk.items() if k != "d"}
        key_id = jwk.get("kid", "").split("/", 1)[-1] or None
        return KeyMaterial(jwk=public, key_id=key_id)
    if "BEGIN CERTIFICATE" in text:
        return KeyMaterial(certificate=text)
    return KeyMaterial(pem=text)


def _routing_list(settings: Settings, args: argparse.Namespace) -> int:
    from hub import routing
    from hub.services import build_hub

    hub = build_hub(settings, create_key=False)
    with hub.transaction() as s:
        for r in routing.list_rules(s, area=args.area, agency=args.agency):
            note = f"  # {r.note}" if r.note else ""
            print(f"{r.id:>6} {r.area:<6} {r.category or '*':<20} -> {r.agency}{note}")
    return 0


def _routing_add(settings: Settings, args: argparse.Namespace) -> int:
    from hub import routing
    from hub.services import build_hub

    hub = build_hub(settings, create_key=False)
    with hub.transaction() as s:
        rule = routing.add_rule(
            s,
            area=args.area,
            category=args.category,
            agency=args.agency,
            note=args.note,
            now=hub.now(),
        )
        print(f"rule {rule.id}: {rule.area} {rule.category or '*'} -> {rule.agency}")
    return 0


def _routing_remove(settings: Settings, args: argparse.Namespace) -> int:
    from hub import routing
    from hub.services import build_hub

    hub = build_hub(settings, create_key=False)
    with hub.transaction() as s:
        rule = routing.remove_rule(s, args.id)
        print(f"removed rule {rule.id}: {rule.area} {rule.category or '*'} -> {rule.agency}")
    return 0


def _routing_explain(settings: Settings, args: argparse.Namespace) -> int:
    from hub import routing
    from hub.services import build_hub

    hub = build_hub(settings, create_key=False)
    with hub.transaction() as s:
        d = routing.explain(s, area=args.area, category=args.category)
    print(f"-> {d.agency or 'nobody'}: {d.why}")
    for c in d.candidates:
        rule = f" rule {c.rule_id}" if c.rule_id else ""
        level, what = routing.LEVEL_NAMES[c.level], c.category or "*"
        print(f"   {c.agency:<20} {level:<9} {c.area:<6} {what:<18} {c.source}{rule}")
    return 0


def _deliveries_list(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from hub.exchange import outbox
    from hub.models import Delivery
    from hub.services import build_hub

    hub = build_hub(settings, create_key=False)
    with hub.transaction() as s:
        newest = s.scalar(select(func.max(Delivery.id))) or 0
        rows = outbox.list_deliveries(
            s,
            state=args.state,
            destination=args.destination,
            case_id=None,
            after_id=max(0, newest - args.limit * 20) if not args.state else 0,
            limit=args.limit,
        )
        for d in rows:
            err = f"  {d.last_error}" if d.last_error else ""
            head = f"{d.id:>8} {d.state:<10} {d.destination:<16} attempts={d.attempts}"
            print(f"{head} {d.forward_id}{err}")
        for r in outbox.stats(s, now=hub.now()):
            counts = " ".join(f"{k}={r[k]}" for k in outbox.STATES)
            print(f"{r['destination']:<16} {counts} oldest_open={r['oldest_open_seconds']:.0f}s")
    return 0


def _deliveries_replay(settings: Settings, args: argparse.Namespace) -> int:
    from hub.errors import HubError
    from hub.exchange import outbox
    from hub.services import build_hub

    hub = build_hub(settings, create_key=False)
    failures = 0
    for delivery_id in args.id:
        try:
            with hub.transaction() as s:
                d = outbox.replay(s, delivery_id, now=hub.now())
                print(f"{delivery_id} queued again for {d.destination}")
        except HubError as exc:
            failures += 1
            print(f"{delivery_id}: {exc.detail}", file=sys.stderr)
    return 1 if failures else 0


def _log_verify(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from hub.exchange.logverify import Verifier

    with httpx.Client(base_url=args.hub, timeout=30) as http:
        verdict = Verifier(http).run(state=args.state, receipts=args.receipt, full=args.full)
    print("\n".join(verdict.lines))
    print(
        "VERDICT: the log is consistent" if verdict.ok else "VERDICT: INCONSISTENT (evidence above)"
    )
    return 0 if verdict.ok else 1


def _open311_add_client(settings: Settings, args: argparse.Namespace) -> int:
    from hub.open311 import add_client_cli

    return add_client_cli(settings, args.name)


def _import_traffy(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.traffy_fondue.importer import main as import_main

    return int(import_main(args.rest))


def _import_damrongdhama(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.damrongdhama.importer import main as import_main

    return int(import_main(args.rest))


def _adapters_check(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.conformance import main as check_main

    return int(check_main(args.rest))


def _adapters_run(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.service.cli import main as run_main

    return int(run_main(args.rest))


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from hub.demo import run

    return run(settings, once=args.once, port=args.port)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())

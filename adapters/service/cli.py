"""``hub adapters run NAME``: one adapter instance as a long-running service.

    hub adapters run traffy_fondue --hub-url https://hub.example --key bma.private.jwk \\
        --native-url https://partner.traffy.in.th/api --listen 0.0.0.0:8081

Native credentials come from the environment (see each ``adapters/<name>/service.py``).
Exit status: 0 after SIGTERM / SIGINT or a clean ``--once``; 1 when ``--once`` could not
reach the hub or the native system; 2 for a bad command line or an unusable state file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from adapters.service.runner import Service
from adapters.service.source import Source
from adapters.service.state import ADVICE, StateError, StateStore
from hub.exchange.client import HubClient
from hub.exchange.keys import read_jwk

SERVICES = ("traffy_fondue", "ops1111", "damrongdhama", "ministry")
log = logging.getLogger("adapters.service")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hub adapters run",
        description="Run an adapter as a service: poll the native system into the hub and "
        "write the hub's case events back.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="traffy_fondue, ops1111, damrongdhama or ministry:<code>")
    p.add_argument("--key", type=Path, help="private JWK of the agency this adapter signs as")
    p.add_argument("--hub-url", default="http://127.0.0.1:8000", help="the hub's base URL")
    p.add_argument("--native-url", help="the native system's base URL (else from its env var)")
    p.add_argument(
        "--state", type=Path, help="state file (default var/adapters/NAME-AGENCY.sqlite)"
    )
    p.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    p.add_argument("--once", action="store_true", help="one poll/send (and pull) cycle, then exit")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--listen", metavar="HOST:PORT", help="take hub pushes and webhooks here")
    where.add_argument("--pull", action="store_true", help="take hub forwards from the inbox")
    p.add_argument("--batch", type=int, default=50, help="messages per batch to the hub")
    p.add_argument("--webhook-secret", help="required X-Webhook-Secret on webhook calls")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="adapter setting, e.g. duration=3days (Traffy), page_size=100 (1111)",
    )
    p.add_argument("--report", action="store_true", help="print the state file's report and exit")
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    package, _, variant = args.name.partition(":")
    if package not in SERVICES or (package == "ministry") != bool(variant):
        return _fail(
            f"no service for adapter {args.name!r}; one of traffy_fondue, ops1111, "
            "damrongdhama, ministry:<code>"
        )
    if args.key is None:
        return _fail("--key (the agency's private JWK) is required")
    try:
        agency = str(read_jwk(args.key)["kid"]).split("/", 1)[0]
    except (OSError, ValueError, KeyError) as exc:
        return _fail(f"cannot read the key {args.key}: {exc}")
    state = args.state or Path("var/adapters") / f"{args.name.replace(':', '-')}-{agency}.sqlite"
    try:
        store = StateStore.open(
            state, adapter=args.name, agency=agency, native=args.native_url or ""
        )
    except StateError as exc:
        return _fail(str(exc))
    if args.report:
        print(json.dumps(store.report(), ensure_ascii=False, indent=2))
        store.close()
        return 0
    return _serve(args, package, variant, agency, store)


def _serve(
    args: argparse.Namespace, package: str, variant: str, agency: str, store: StateStore
) -> int:
    options = dict(o.split("=", 1) for o in args.option if "=" in o)
    if variant:
        options["ministry"] = variant
    try:
        module = importlib.import_module(f"adapters.{package}.service")
        source: Source = module.build(agency=agency, native_url=args.native_url, options=options)
    except (KeyError, ValueError) as exc:
        store.close()
        return _fail(f"cannot set up {args.name}: missing or bad setting {exc}")
    try:
        source.check_cursor(store.cursor())
    except ValueError as exc:
        store.close()
        return _fail(
            f"state file {store.path} holds a cursor {args.name} cannot read ({exc}); {ADVICE}"
        )
    hub = HubClient.from_jwk_file(args.hub_url, args.key)
    service = Service(source, hub, store, interval=args.interval, batch=args.batch)
    _on_signals(service)
    server = _listen(service, args) if args.listen else None
    try:
        rc = service.run(once=args.once, pull=args.pull)
    finally:
        if server is not None:
            server.stop()
        _quietly(source.close)
        store.close()
        log.info("stopped; %s", service.summary())
    return rc


def _listen(service: Service, args: argparse.Namespace) -> Any:
    from adapters.service.web import Server, create_app

    host, _, port = str(args.listen).rpartition(":")
    server = Server(
        create_app(service, webhook_secret=args.webhook_secret), host or "127.0.0.1", int(port)
    ).start()
    log.info(
        "hub pushes to %s/hub/messages; webhooks to %s/webhooks/%s",
        server.url,
        server.url,
        args.name.split(":")[0],
    )
    return server


def _on_signals(service: Service) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current step, then stopping", signum)
        service.stop.set()
        service.wake.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception as exc:  # closing a native session must not hide the exit status
        log.warning("on close: %s", exc)


def _fail(message: str) -> int:
    print(f"hub adapters run: {message}", file=sys.stderr)
    return 2

"""``hub demo``: a hub on the embedded default (SQLite, no Redis) with real traffic.

It migrates the database, enrols the reference agencies with freshly made keys, starts the
API server, then plays real Traffy Fondue rows through signed exchange over HTTP — exactly
what an agency's system does — verifying every receipt. Then it prints where to look and
keeps serving (``--once``: exit after the scripted part, 0 on success).

Until handoffs, adapters and the dashboard land (issues 4–7), the scripted part stops at
intake: complaints accepted, cases opened and routed, the transparency log grown.
"""

from __future__ import annotations

import csv
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select

from adapters.traffy_fondue import SAMPLE_CSV
from adapters.traffy_fondue.mapping import row_to_complaint
from hub.app import create_app
from hub.background import start_head_publisher, start_sla_checker
from hub.config import Settings
from hub.exchange import registry
from hub.exchange.client import HubClient, HubClientError
from hub.exchange.dispatch import start_dispatcher
from hub.exchange.keys import (
    generate_private_key,
    jwk_thumbprint,
    load_private_jwk,
    private_jwk,
    public_jwk,
    read_jwk,
    write_private_jwk,
)
from hub.migrate import upgrade
from hub.models import Agency, Case, LogState
from hub.seed import REFERENCE_AGENCIES
from hub.services import Hub, build_hub

DEMO_ROWS = 60


def run(settings: Settings, *, once: bool, port: int | None) -> int:
    settings = settings.with_(port=port or (_free_port(settings.host) if once else settings.port))
    upgrade(settings.database_url)
    hub = build_hub(settings)
    keys_dir = settings.key_dir.parent / "demo-agencies"
    _enrol_reference_agencies(hub, keys_dir)
    server = _start(settings, hub)
    start_head_publisher(hub)
    start_sla_checker(hub)
    start_dispatcher(hub)
    base = f"http://{settings.host}:{settings.port}"
    try:
        ok = _play(hub, base, keys_dir)
        _summary(hub, base)
    finally:
        if once:
            server.should_exit = True
    if once:
        return 0 if ok else 1
    print("\nserving; Ctrl-C to stop", flush=True)
    try:
        while not server.should_exit:
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
    return 0


def _enrol_reference_agencies(hub: Hub, keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    with hub.transaction() as s:
        for ref in REFERENCE_AGENCIES:
            if s.get(Agency, ref.code) is not None:
                continue
            path = keys_dir / f"{ref.code}.private.jwk"
            if path.exists():
                key = load_private_jwk(read_jwk(path))
            else:
                key = generate_private_key()
                kid = f"{ref.code}/{jwk_thumbprint(public_jwk(key))[:16]}"
                write_private_jwk(path, private_jwk(key, kid=kid))
            registry.enrol(
                s,
                code=ref.code,
                kind=ref.kind,
                name_th=ref.name_th,
                name_en=ref.name_en,
                areas=ref.areas,
                categories=ref.categories,
                roles=ref.roles,
                now=hub.now(),
                key=registry.KeyMaterial(
                    jwk=public_jwk(key), key_id=read_jwk(path)["kid"].split("/")[1]
                ),
            )
    print(f"reference agencies enrolled; their private keys are in {keys_dir} (0600)")


def _start(settings: Settings, hub: Hub) -> uvicorn.Server:
    app = create_app(settings, hub=hub)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="hub-api", daemon=True).start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"http://{settings.host}:{settings.port}/health", timeout=1).status_code
                == 200
            ):
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the hub did not start within 20 s")


def _play(hub: Hub, base: str, keys_dir: Path) -> bool:
    """BMA's Traffy deployment sends real rows, signed with its own key, as one batch."""
    bma = HubClient.from_jwk_file(base, keys_dir / "bma.private.jwk")
    stamp = int(time.time())  # a re-run sends new messages; the complaints join their cases
    with SAMPLE_CSV.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:DEMO_ROWS]
    envelopes = [
        bma.envelope("complaint.submit", row_to_complaint(r), id=f"traffy-{r['ticket_id']}-{stamp}")
        for r in rows
    ]
    try:
        results = bma.send_batch(envelopes)
    except HubClientError as exc:
        print(f"demo failed: {exc}")
        return False
    refused = [r for r in results if isinstance(r, HubClientError)]
    print(
        f"Traffy Fondue (bma): {len(results) - len(refused)} of {len(rows)} complaints accepted, "
        f"every receipt verified against {base}/.well-known/jwks.json"
    )
    for err in refused[:5]:
        print(f"  refused: {err}")
    return not refused and _pull_and_ack(base, keys_dir)


def _pull_and_ack(base: str, keys_dir: Path) -> bool:
    """Agencies in pull mode fetch the cases routed to them and sign acknowledgements."""
    ok = True
    for ref in REFERENCE_AGENCIES:
        agency = HubClient.from_jwk_file(base, keys_dir / f"{ref.code}.private.jwk")
        waiting = agency.pull() if "receive" in ref.roles else []
        if not waiting:
            continue
        results = agency.ack(waiting)
        acked = sum(1 for r in results if r["status"] == 200)
        ok = ok and acked == len(waiting)
        who = f"{ref.code} ({ref.name_en})"
        print(f"{who}: pulled {len(waiting)} forwarded messages, acknowledged {acked}")
    return ok


def _summary(hub: Hub, base: str) -> None:
    with hub.transaction() as s:
        by_status = Counter(
            dict(s.execute(select(Case.status, func.count()).group_by(Case.status)).all())
        )
        by_owner = Counter(
            dict(s.execute(select(Case.owner, func.count()).group_by(Case.owner)).all())
        )
        log_size = s.scalar(select(LogState.size))
    print(f"cases by status: {dict(by_status)}")
    print(f"cases by owner:  {dict(by_owner)}")
    print(f"transparency log: {log_size} leaves")
    print(f"\nAPI docs (Swagger UI): {base}/v1/ui/")
    print(f"OpenAPI spec:          {base}/v1/openapi.json")
    print(f"health:                {base}/health")
    print(f"hub public keys:       {base}/.well-known/jwks.json")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])

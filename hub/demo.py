"""``hub demo``: a hub on the embedded default (SQLite, no Redis) with real traffic.

It migrates the database, enrols the reference agencies (``hub.seed``) with freshly made
keys, starts the API server and the simulated agencies (push receivers on loopback for the
channels citizens used, pull inboxes for the rest), then plays real Traffy Fondue, 1111 and
Damrongdhama records through signed exchange and has the agencies accept, decline, forward,
merge and resolve (``hub.demo_script``). It prints a live summary and where to look, and
keeps serving (``--once``: exit after the scripted part, 0 on success).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from hub import demo_agencies, demo_script
from hub.app import create_app
from hub.background import start_head_publisher, start_sla_checker
from hub.config import Settings
from hub.exchange.dispatch import start_dispatcher
from hub.migrate import upgrade
from hub.services import Hub, build_hub

DEMO_ROWS = demo_script.DEMO_ROWS


def run(settings: Settings, *, once: bool, port: int | None) -> int:
    settings = settings.with_(port=port or (_free_port(settings.host) if once else settings.port))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the agencies' request log
    upgrade(settings.database_url)
    hub = build_hub(settings)
    keys_dir = settings.key_dir.parent / "demo-agencies"
    demo_agencies.enrol(hub, keys_dir)
    print(f"reference agencies enrolled; their private keys are in {keys_dir} (0600)", flush=True)
    server = _start(settings, hub)
    base = f"http://{settings.host}:{settings.port}"
    agencies = demo_agencies.start(hub, base, keys_dir)
    pushing = ", ".join(a.code for a in agencies.values() if a.url)
    print(f"simulated agencies: {len(agencies)}; push receivers on loopback: {pushing}", flush=True)
    start_head_publisher(hub)
    start_sla_checker(hub)
    start_dispatcher(hub)
    try:
        outcome = demo_script.play(hub, agencies, say=_say)
        demo_script.summary(hub, agencies, outcome, say=_say)
        _urls(base, keys_dir)
    finally:
        if once:
            server.should_exit = True
            for a in agencies.values():
                a.stop()
    if once:
        return 0 if outcome.ok else 1
    print("\nserving (the simulated agencies too); Ctrl-C to stop", flush=True)
    try:
        while not server.should_exit:
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
    return 0 if outcome.ok else 1


def _say(line: str) -> None:
    print(line, flush=True)


def _urls(base: str, keys_dir: Path) -> None:
    print(f"\nAPI docs (Swagger UI): {base}/v1/ui/")
    print(f"OpenAPI spec:          {base}/v1/openapi.json")
    print(f"health:                {base}/health")
    print(f"hub public keys:       {base}/.well-known/jwks.json")
    print(f"transparency log:      {base}/v1/log/tree-head")
    print(f"dashboard:             {base}/dashboard")
    print(f"  sign in with the ombudsman's key: {keys_dir / 'ombudsman.private.jwk'}", flush=True)


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


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])

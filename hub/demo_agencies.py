"""The demo's simulated agencies: each with its own key, acting only on what it was told.

A push agency runs the SDK's receiver blueprint behind a loopback werkzeug server (as a
real agency's system would behind its firewall) and the hub pushes to it; a pull agency
fetches its inbox and signs acknowledgements. Either way the agency keeps the case ids it
has heard of — it only acts on a case once the hub's signed forward about it has arrived.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from hub.exchange import registry
from hub.exchange.client import HubClient
from hub.exchange.keys import (
    generate_private_key,
    jwk_thumbprint,
    load_private_jwk,
    private_jwk,
    public_jwk,
    read_jwk,
    write_private_jwk,
)
from hub.exchange.receiver import Forwarded, open_forward, receiver_blueprint
from hub.models import Agency
from hub.seed import REFERENCE_AGENCIES, Reference
from hub.services import Hub


@dataclass
class SimulatedAgency:
    ref: Reference
    client: HubClient
    cases: set[str] = field(default_factory=set)
    received: Counter[str] = field(default_factory=Counter)  # origin message type -> count
    resolutions: list[Forwarded] = field(default_factory=list)
    server: BaseWSGIServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def code(self) -> str:
        return self.ref.code

    @property
    def url(self) -> str | None:
        if self.server is None:
            return None
        return f"http://127.0.0.1:{self.server.server_port}/hub/messages"

    def serve(self) -> None:
        """Start the push receiver on a free loopback port."""
        app = Flask(f"agency-{self.code}")
        app.register_blueprint(receiver_blueprint(self.client, self._on_message))
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(
            target=self.server.serve_forever, name=f"agency-{self.code}", daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _on_message(self, message: Forwarded) -> None:
        with self.lock:
            self._note(message.case_id, str(message.origin.get("type", "")))
            if message.origin.get("type") == "case.resolve":
                self.resolutions.append(message)

    def _note(self, case_id: str | None, kind: str) -> None:
        self.received[kind] += 1
        if case_id:
            self.cases.add(case_id)

    def collect(self) -> int:
        """Pull mode: fetch waiting forwards, remember their cases, sign acknowledgements."""
        if self.server is not None or "receive" not in self.ref.roles:
            return 0
        total = 0
        while waiting := self.client.pull():
            for f in waiting:
                forwarded, _ = open_forward(self.client, f["jws"].encode("ascii"))
                with self.lock:  # both signatures checked, as the push receiver does
                    self._note(forwarded.case_id, str(forwarded.origin.get("type", "")))
            results = self.client.ack(waiting)
            bad = [r for r in results if r["status"] != 200]
            if bad:
                raise RuntimeError(f"{self.code}: {len(bad)} acknowledgements refused: {bad[:2]}")
            total += len(waiting)
        return total

    def knows(self, case_id: str) -> bool:
        with self.lock:
            return case_id in self.cases


def enrol(hub: Hub, keys_dir: Path) -> None:
    """Enrol every reference agency not yet known, with a key kept in ``keys_dir`` (0600)."""
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


def start(hub: Hub, base: str, keys_dir: Path) -> dict[str, SimulatedAgency]:
    """A simulated agency per reference agency; push ones serving, their endpoints registered."""
    out: dict[str, SimulatedAgency] = {}
    for ref in REFERENCE_AGENCIES:
        client = HubClient.from_jwk_file(base, keys_dir / f"{ref.code}.private.jwk")
        agency = SimulatedAgency(ref, client)
        if ref.push:
            agency.serve()
        out[ref.code] = agency
    with hub.transaction() as s:
        for agency in out.values():
            row = registry.get_agency(s, agency.code)
            row.endpoint, row.mode = (agency.url, "push") if agency.url else (None, "pull")
    return out

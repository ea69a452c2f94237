"""The dashboard's test world: a real ``hub serve`` process, agencies enrolled with real keys
(the analysts' made and enrolled with the ``hub`` CLI, as an operator would), a few dozen
signed complaints in two provinces and two categories, agencies acting on them, and the SLA
check run "a day later" so that some cases are breached.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.pool import NullPool

from hub import escalation
from hub.config import Settings
from hub.db import make_engine, make_sessionmaker, transaction
from hub.exchange import registry
from hub.exchange.client import HubClient
from hub.exchange.keys import PrivateKey, generate_private_key, jwk_thumbprint, public_jwk
from hub.services import build_hub
from tests.support import procs
from tests.support.envelopes import traffy_complaint

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS") or ROOT / "tests" / "dashboard" / "artifacts")

# A phone number, an e-mail address and a national id planted in one complaint's text: the
# page must never show them (the index scrubs free text before oversight sees it).
PLANTED = ("081-234-5678", "0812345678", "somchai.k@example.com", "1-1037-00123-45-6")
PLANTED_TEXT = "ติดต่อกลับ 081-234-5678 หรือ somchai.k@example.com บัตร 1-1037-00123-45-6"
PLANTED_AT = 5  # the sixth complaint (Bangkok, road)

CHIANG_MAI = {"province_code": "50", "amphoe_code": "5001", "tambon_code": "500101"}
ANALYSTS = (("opdc", "EdDSA", "สำนักงาน ก.พ.ร."), ("ombudsman", "ES256", "ผู้ตรวจการแผ่นดิน"))


def chromium_paths() -> tuple[str | None, str | None]:
    """Debian's chromium and chromedriver (or HUB_TEST_CHROMIUM / HUB_TEST_CHROMEDRIVER);
    None for one that is not an executable file here."""

    def found(env: str, *names: str) -> str | None:
        for candidate in (os.environ.get(env), *(shutil.which(n) for n in names)):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
        return None

    return (
        found("HUB_TEST_CHROMIUM", "chromium", "chromium-browser"),
        found("HUB_TEST_CHROMEDRIVER", "chromedriver", "/usr/bin/chromedriver"),
    )


@dataclass
class DashServer:
    """A running ``hub serve`` and the analysts' key files."""

    base_url: str
    database_url: str
    key_dir: Path
    analyst_key: Path  # the OPDC's private JWK (EdDSA), as `hub keys generate` wrote it
    analyst_es256_key: Path  # the ombudsman's (ES256)
    stranger_key: Path  # a well-formed key the hub has never heard of
    analyst: HubClient  # the OPDC's key in Python's SDK, to ask the API what is true
    proc: procs.Proc

    @property
    def backend(self) -> str:
        return "postgres" if self.database_url.startswith("postgresql") else "sqlite"


@dataclass
class DashWorld:
    server: DashServer
    clients: dict[str, HubClient]
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # case id -> what we did
    planted_case: str = ""

    def api(self, path: str, **params: Any) -> Any:
        """What the index API says, asked with the analyst's key signed by Python."""
        return self.server.analyst.get(path, params=params)


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"hub {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def running_hub(database_url: str, workdir: Path, log_to: Path) -> Iterator[DashServer]:
    """``hub serve`` on a free port, with two oversight agencies enrolled by the CLI."""
    key_dir = workdir / "hub-keys"
    port = procs.free_port()
    env = procs.hub_env(database_url=database_url, redis_url=None, key_dir=key_dir, port=port)
    keys = workdir / "analysts"
    for code, alg, name in ANALYSTS:
        cli(env, "keys", "generate", code, "--out", str(keys), "--alg", alg)
        cli(
            env,
            *("agencies", "add", code, "--kind", "oversight", "--name", name),
            *("--key", str(keys / f"{code}.public.jwk"), "--roles", "oversight"),
        )
    cli(env, "keys", "generate", "nobody", "--out", str(workdir / "stranger"))
    runner = procs.Procs(log_dir=workdir)
    try:
        proc = procs.start_serve(runner, env)
        base_url = f"http://{procs.LOOPBACK}:{port}"
        server = DashServer(
            base_url=base_url,
            database_url=database_url,
            key_dir=key_dir,
            analyst_key=keys / "opdc.private.jwk",
            analyst_es256_key=keys / "ombudsman.private.jwk",
            stranger_key=workdir / "stranger" / "nobody.private.jwk",
            analyst=HubClient.from_jwk_file(base_url, keys / "opdc.private.jwk"),
            proc=proc,
        )
        try:
            yield server
        finally:
            server.analyst.http.close()
    finally:
        runner.kill_all()
        for p in runner.started:
            shutil.copy(p.log_path, log_to)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


# --------------------------------------------------------------------------- the cases


def _enrol(session: Any, code: str, *, kind: str, areas: list[str], **extra: Any) -> HubKey:
    key = generate_private_key()
    key_id = jwk_thumbprint(public_jwk(key))[:16]
    registry.enrol(
        session,
        code=code,
        kind=kind,
        name_th=f"หน่วยงานทดสอบ {code}",
        areas=areas,
        key=registry.KeyMaterial(jwk=public_jwk(key), key_id=key_id),
        now=datetime.now(UTC),
        **extra,
    )
    return key, f"{code}/{key_id}"


HubKey = tuple[PrivateKey, str]


def enrol_agencies(database_url: str) -> dict[str, HubKey]:
    """Two origins (submit only), three owners by area and category, Bangkok's centre."""
    engine = make_engine(database_url, poolclass=NullPool)
    lg = "local_government"
    try:
        with transaction(make_sessionmaker(engine)) as s:
            return {
                "bma": _enrol(s, "bma", kind=lg, areas=[], roles=["submit"]),
                "cmcity": _enrol(s, "cmcity", kind=lg, areas=[], roles=["submit"]),
                "bkk-roads": _enrol(s, "bkk-roads", kind=lg, areas=["10"], categories=["road"]),
                "bkk-drains": _enrol(
                    s, "bkk-drains", kind=lg, areas=["10"], categories=["drainage"]
                ),
                "cm-pao": _enrol(s, "cm-pao", kind=lg, areas=["50"]),
                "dc-10": _enrol(s, "dc-10", kind="damrongdhama_centre", areas=["10"]),
            }
    finally:
        engine.dispose()


def complaint(n: int, *, origin: str, category: str, chiang_mai: bool) -> dict[str, Any]:
    """Traffy Fondue row ``n`` (real Thai text), as a new record; Chiang Mai ones are moved
    there, 1-2 km apart, so none is matched as a duplicate of another."""
    body = traffy_complaint(n)
    ref = f"dash-{origin}-{n:03d}"
    body["id"] = f"traffy:{ref}"
    body["origin"] = {"agency": origin, "system": "traffy_fondue", "ref": ref}
    body["category"] = category
    if chiang_mai:
        body["location"] = {
            "lat": round(18.70 + 0.013 * n, 5),
            "lon": round(98.90 + 0.011 * n, 5),
            "address": f"ตำบลศรีภูมิ อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่ แปลงที่ {n}",
            **CHIANG_MAI,
        }
    if n == PLANTED_AT:
        body["description"] = f"{body['description']} {PLANTED_TEXT}"
    return body


def populate(server: DashServer) -> DashWorld:
    """36 complaints: Bangkok 24 (12 road, 12 drainage), Chiang Mai 12 (6 and 6).

    bkk-roads accepts its 12 and resolves 6; bkk-drains accepts 8 of 12; cm-pao accepts 10
    of 12 and resolves 5. Then the SLA check runs as if 25 hours had passed: the 6 offers
    nobody accepted breach their 24-hour deadline (Bangkok's escalate to dc-10).
    """
    keys = enrol_agencies(server.database_url)
    clients = {
        code: HubClient(server.base_url, agency=code, key=key, kid=kid)
        for code, (key, kid) in keys.items()
    }
    world = DashWorld(server, clients)
    plan = [  # (origin, category, in Chiang Mai, how many)
        ("bma", "road", False, 12),
        ("bma", "drainage", False, 12),
        ("cmcity", "road", True, 6),
        ("cmcity", "drainage", True, 6),
    ]
    n = 0
    by_owner: dict[str, list[str]] = {"bkk-roads": [], "bkk-drains": [], "cm-pao": []}
    for origin, category, chiang_mai, count in plan:
        for _ in range(count):
            body = complaint(n, origin=origin, category=category, chiang_mai=chiang_mai)
            case_id = clients[origin].send("complaint.submit", body).case_id
            assert case_id is not None
            owner = "cm-pao" if chiang_mai else f"bkk-{'roads' if category == 'road' else 'drains'}"
            by_owner[owner].append(case_id)
            world.cases[case_id] = {"province": "50" if chiang_mai else "10", "category": category}
            if n == PLANTED_AT:
                world.planted_case = case_id
            n += 1
    assert len(world.cases) == n == 36, "every complaint opened a case of its own"
    for owner, accepted, resolved in (
        ("bkk-roads", 12, 6),
        ("bkk-drains", 8, 0),
        ("cm-pao", 10, 5),
    ):
        for i, case_id in enumerate(by_owner[owner]):
            if i < accepted:
                clients[owner].send("case.accept", {"case_id": case_id})
                world.cases[case_id]["accepted"] = True
            if i < resolved:
                clients[owner].send(
                    "case.resolve",
                    {"case_id": case_id, "outcome": "fixed", "summary": "ซ่อมเรียบร้อยแล้ว"},
                )
                world.cases[case_id]["resolved"] = True
    _a_day_later(world)
    return world


def _a_day_later(world: DashWorld) -> None:
    """The SLA check ``hub serve`` runs, at a clock 25 hours ahead (accept SLA: 24 h)."""
    later = datetime.now(UTC) + timedelta(hours=25)
    hub = build_hub(
        Settings(database_url=world.server.database_url, key_dir=world.server.key_dir),
        clock=lambda: later,
        create_key=False,
    )
    try:
        with hub.transaction() as s:
            acted = escalation.check(s, now=hub.now(), signer=hub.signer)
    finally:
        hub.engine.dispose()
    late = {cid for cid, c in world.cases.items() if not c.get("accepted")}
    assert set(acted) == late, "exactly the offers nobody accepted breached"
    for case_id in late:
        world.cases[case_id]["breached"] = True

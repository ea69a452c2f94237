"""``hub adapters run`` as deployed: a real ``hub serve`` process, the adapter service as a
real process (its receiver on loopback, the hub pushing to it), the native simulators served
over HTTP from this process, and an agency on the hub acting on the cases.

What is proven: records filed in the native system reach the hub as cases (by poll, and by
Traffy's webhooks); a resolution in the hub reaches back to the native record once; a
native officer's change reaches the hub; SIGTERM stops the service cleanly; SIGKILL in the
middle of a first poll, more records and a resolution while it is down, then a restart:
every record in the hub exactly once and the resolution delivered once; an unusable state
file is refused with a clear message before anything is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool
from werkzeug.serving import make_server

from adapters.ops1111.adapter import raw_cases
from adapters.ops1111.client import Ops1111Client
from adapters.ops1111.simulator import create_simulator as hotline_simulator
from adapters.traffy_fondue.adapter import api_fixtures
from adapters.traffy_fondue.client import TraffyClient
from adapters.traffy_fondue.simulator import create_simulator as traffy_simulator
from hub.db import make_engine, make_sessionmaker, transaction
from hub.exchange import registry
from hub.exchange.client import HubClient
from hub.exchange.keys import (
    generate_private_key,
    jwk_thumbprint,
    private_jwk,
    public_jwk,
    write_private_jwk,
)
from hub.migrate import upgrade
from hub.models import Case, Complaint, Envelope
from tests.adapters.service_support import (
    case_of,
    complaints,
    hotline_case,
    offered,
    resolve,
    traffy_ticket,
)
from tests.conftest import truncate
from tests.support import procs

pytestmark = pytest.mark.slow

DEADLINE = 60.0
TUNING = {
    "HUB_DISPATCH_INTERVAL": "0.2",
    "HUB_DELIVERY_BACKOFF_BASE": "0.2",
    "HUB_DELIVERY_BACKOFF_CAP": "1",
    "HUB_DELIVERY_BREAKER": "1000",
    "HUB_DELIVERY_CONNECT_TIMEOUT": "1",
    "HUB_DELIVERY_READ_TIMEOUT": "10",
    "HUB_DELIVERY_MAX_ATTEMPTS": "500",
}


# --------------------------------------------------------------------------- the world


class Simulator:
    """A native simulator served over loopback HTTP, optionally slowed per request."""

    def __init__(self, app: Flask, delay: float = 0.0) -> None:
        self.app, self.delay = app, delay
        inner = app.wsgi_app

        def slowed(environ: Any, start_response: Any) -> Any:
            if self.delay:
                time.sleep(self.delay)
            return inner(environ, start_response)

        app.wsgi_app = slowed  # type: ignore[method-assign]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self.server = make_server(procs.LOOPBACK, 0, app, threaded=True)
        self.url = f"http://{procs.LOOPBACK}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class World:
    procs: procs.Procs
    db_url: str
    base_url: str
    keys: Path
    engine: Any
    clients: dict[str, HubClient] = field(default_factory=dict)
    service: procs.Proc | None = None
    service_port: int = 0

    def enrol(
        self,
        code: str,
        *,
        kind: str = "local_government",
        areas: list[str],
        categories: tuple[str, ...] = (),
        push: bool = False,
    ) -> HubClient:
        key = generate_private_key()
        key_id = jwk_thumbprint(public_jwk(key))[:16]
        kid = f"{code}/{key_id}"
        write_private_jwk(self.keys / f"{code}.private.jwk", private_jwk(key, kid=kid))
        endpoint = f"http://{procs.LOOPBACK}:{self.service_port}/hub/messages" if push else None
        with self.session() as s:
            registry.enrol(
                s,
                code=code,
                kind=kind,
                name_th="หน่วยงานทดสอบ",
                areas=areas,
                categories=list(categories),
                key=registry.KeyMaterial(jwk=public_jwk(key), key_id=key_id),
                endpoint=endpoint,
                mode="push" if push else "pull",
                now=datetime.now(UTC),
            )
        client = HubClient(self.base_url, agency=code, key=key, kid=kid)
        self.clients[code] = client
        return client

    def session(self) -> Any:
        return transaction(make_sessionmaker(self.engine))

    def refs(self, system: str) -> list[str]:
        with self.session() as s:
            return complaints(s, system)

    def status(self, system: str, ref: str) -> str | None:
        with self.session() as s:
            case = case_of(s, system, ref)
            return None if case is None else case.status

    def submitted(self, issuer: str) -> int:
        with self.session() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(Envelope)
                    .where(Envelope.issuer == issuer, Envelope.type == "complaint.submit")
                )
                or 0
            )

    def run_service(
        self, name: str, agency: str, native_url: str, state: Path, *options: str, **env: str
    ) -> procs.Proc:
        cmd = [
            sys.executable,
            "-m",
            "hub.cli",
            "adapters",
            "run",
            name,
            "--key",
            str(self.keys / f"{agency}.private.jwk"),
            "--hub-url",
            self.base_url,
            "--native-url",
            native_url,
            "--state",
            str(state),
            "--interval",
            "0.3",
            "--listen",
            f"{procs.LOOPBACK}:{self.service_port}",
            *options,
        ]
        self.service = self.procs.spawn(name, cmd, {**os.environ, **env, "PYTHONUNBUFFERED": "1"})
        procs.wait_for(self._listening, timeout=30, what=f"{name} service listening")
        return self.service

    def _listening(self) -> bool:
        assert self.service is not None and self.service.alive(), self.procs.tails()
        try:
            return (
                httpx.get(
                    f"http://{procs.LOOPBACK}:{self.service_port}/health", timeout=1
                ).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    def wait(self, check: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
        try:
            procs.wait_for(check, timeout=timeout, interval=0.1, what=what)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.procs.tails(60)}") from None


@contextlib.contextmanager
def hub_world(tmp_path: Path, db_url: str, redis_url: str | None = None) -> Iterator[World]:
    """``hub serve`` (and ``hub worker`` with Redis) on ``db_url``; all killed at the end."""
    upgrade(db_url)
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "agencykeys").mkdir()
    running = procs.Procs(tmp_path / "logs")
    port = procs.free_port()
    env = procs.hub_env(
        database_url=db_url, redis_url=redis_url, key_dir=tmp_path / "hubkeys", port=port, **TUNING
    )
    engine = make_engine(db_url, poolclass=NullPool)
    world = World(
        running,
        db_url,
        f"http://{procs.LOOPBACK}:{port}",
        tmp_path / "agencykeys",
        engine,
        service_port=procs.free_port(),
    )
    try:
        procs.start_serve(running, env)
        if redis_url:
            procs.start_worker(running, env)
        yield world
    finally:
        running.kill_all()
        for client in world.clients.values():
            client.http.close()
        engine.dispose()


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[World]:
    with hub_world(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}") as world:
        yield world


TRAFFY_ENV = {"TRAFFY_USER": "hub", "TRAFFY_PASS": "pw"}
HOTLINE_ENV = {"OPS1111_USER": "hub", "OPS1111_PASS": "pw"}


def traffy_sim(world: World, issues: list[dict[str, Any]], delay: float = 0.0) -> Simulator:
    hook = f"http://{procs.LOOPBACK}:{world.service_port}/webhooks/traffy_fondue"
    return Simulator(traffy_simulator(issues, users={"hub": "pw"}, webhook_url=hook), delay)


def traffy_client(sim: Simulator) -> TraffyClient:
    return TraffyClient(httpx.Client(base_url=sim.url, timeout=10), user="hub", password="pw")


# --------------------------------------------------------------------------- Traffy


def journey(world: World, tmp_path: Path) -> None:
    bma = world.enrol("bma", areas=["10"], categories=["road"], push=True)
    district = world.enrol("bkk-district", areas=["TH"])
    sim = traffy_sim(world, api_fixtures())
    try:
        world.run_service(
            "traffy_fondue",
            "bma",
            sim.url,
            tmp_path / "traffy.sqlite",
            "--option",
            "duration=all",
            **TRAFFY_ENV,
        )
        tickets = sorted(i["ticket_id"] for i in api_fixtures())
        world.wait(lambda: world.refs("traffy_fondue") == tickets, "fixture tickets in the hub")

        store = sim.app.extensions["traffy_store"]
        store.report(traffy_ticket("2026-CITIZEN1"))  # the webhook tells the service
        world.wait(lambda: "2026-CITIZEN1" in world.refs("traffy_fondue"), "a new ticket")

        cases = offered(district)
        with world.session() as s:
            found = case_of(s, "traffy_fondue", "2023-6ZUY4U")
        assert found is not None and found.id in cases
        case = found.id
        resolve(district, case, "ลอกท่อระบายน้ำเรียบร้อย")
        world.wait(
            lambda: store.issues["2023-6ZUY4U"]["state"] == "เสร็จสิ้น",
            "the resolution back in Traffy",
        )

        traffy_client(sim).update_issue(
            {"ticket_id": "JGKLY8", "state_name": "เสร็จสิ้น", "note": "ปะผิวถนนแล้ว"}
        )
        world.wait(
            lambda: world.status("traffy_fondue", "JGKLY8") == "resolved",
            "a Traffy officer's resolution in the hub",
        )

        notes = [t["note"] for t in store.issues["2023-6ZUY4U"]["timeline"]]
        assert notes.count("ลอกท่อระบายน้ำเรียบร้อย") == 1
        assert world.refs("traffy_fondue") == sorted([*tickets, "2026-CITIZEN1"])
        assert bma.agency == "bma"
        service = world.service
        assert service is not None
        os.killpg(service.pid, signal.SIGTERM)
        assert service.process.wait(timeout=20) == 0
        assert "stopped; traffy_fondue as bma" in service.log_tail(5)

        state = tmp_path / "traffy.sqlite"
        before = service_report(world, "traffy_fondue", "bma", state)["outbox"]
        once = cli(
            [
                *hub_cli("traffy_fondue", world.keys / "bma.private.jwk", state),
                "--once",
                "--hub-url",
                world.base_url,
                "--native-url",
                sim.url,
                "--option",
                "duration=all",
            ],
            TRAFFY_ENV,
        )
        assert once.returncode == 0, once.stderr  # a cron-style run: nothing new to send
        assert service_report(world, "traffy_fondue", "bma", state)["outbox"] == before
    finally:
        sim.close()


def test_traffy_service_end_to_end(sqlite_hub: World, tmp_path: Path) -> None:
    journey(sqlite_hub, tmp_path)


@pytest.mark.postgres
@pytest.mark.redis
def test_traffy_service_end_to_end_on_postgres_and_redis(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    truncate(postgres_url)
    try:
        with hub_world(tmp_path, postgres_url, redis_url) as world:
            journey(world, tmp_path)
    finally:
        truncate(postgres_url)


def test_traffy_service_killed_mid_poll_resumes_without_loss_or_repeat(
    sqlite_hub: World, tmp_path: Path
) -> None:
    world = sqlite_hub
    world.enrol("bma", areas=["10"], categories=["road"], push=True)
    district = world.enrol("bkk-district", areas=["TH"])
    first = [traffy_ticket(f"2026-K{i:03d}", i) for i in range(40)]
    sim = traffy_sim(world, first, delay=0.03)  # a first poll of a few seconds
    state = tmp_path / "traffy.sqlite"
    try:
        run = lambda: world.run_service(  # noqa: E731
            "traffy_fondue",
            "bma",
            sim.url,
            state,
            "--batch",
            "4",
            "--option",
            "duration=all",
            **TRAFFY_ENV,
        )
        killed = run()
        world.wait(lambda: len(world.refs("traffy_fondue")) >= 8, "the first tickets sent")
        killed.kill9()  # SIGKILL, mid-poll
        in_hub = world.refs("traffy_fondue")
        assert 8 <= len(in_hub) < 40, "not killed mid-stream"

        case = offered(district)[0]
        resolve(district, case, "แก้ไขระหว่างที่ตัวเชื่อมหยุด")  # pushed while it is dead
        store = sim.app.extensions["traffy_store"]
        later = [traffy_ticket(f"2026-L{i:03d}", 40 + i) for i in range(5)]
        for ticket in later:
            store.report(ticket)  # webhooks to nobody: only the poll can find these

        sim.delay = 0.0
        run()
        everything = sorted(t["ticket_id"] for t in first + later)
        world.wait(lambda: world.refs("traffy_fondue") == everything, "every ticket, once")
        with world.session() as s:
            resolved_ref = s.scalars(
                select(Complaint.origin_ref).where(Complaint.case_id == case)
            ).one()
        world.wait(
            lambda: store.issues[resolved_ref]["state"] == "เสร็จสิ้น",
            "the resolution made while the service was down",
        )
        notes = [t["note"] for t in store.issues[resolved_ref]["timeline"]]
        assert notes.count("แก้ไขระหว่างที่ตัวเชื่อมหยุด") == 1
        assert world.submitted("bma") == len(everything)  # no message sent twice

        report = service_report(world, "traffy_fondue", "bma", state)
        assert report["records"]["native"] == len(everything)
        assert report["outbox"] == {
            "pending": 0,
            "sent": len(everything),
            "refused": 0,
            "conflict": 0,
        }
        assert report["inbound"].get("done") >= 1 and report["bad_records"] == []
    finally:
        sim.close()


def cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A ``hub`` command to its end; on a hang, what it had printed so far."""
    try:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{args[4:6]} hung:\n{exc.stdout!r}\n{exc.stderr!r}") from None


def hub_cli(name: str, key: Path, state: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hub.cli",
        "adapters",
        "run",
        name,
        "--key",
        str(key),
        "--state",
        str(state),
    ]


def service_report(world: World, name: str, agency: str, state: Path) -> dict[str, Any]:
    """``--report`` of the state file, once the service has stopped (SIGTERM)."""
    if world.service is not None:
        world.service.stop()
    out = cli([*hub_cli(name, world.keys / f"{agency}.private.jwk", state), "--report"])
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


# --------------------------------------------------------------------------- 1111


def test_1111_service_killed_mid_poll_resumes_and_resolutions_come_back(
    sqlite_hub: World, tmp_path: Path
) -> None:
    world = sqlite_hub
    world.enrol("opm1111", kind="hotline", areas=[], push=True)
    mwa = world.enrol("mwa", kind="state_enterprise", areas=["TH"])
    same_second = "2026-11-21 10:00:00"
    seeded = [c for _, c in raw_cases()]
    seeded += [
        hotline_case(700000 + i, f"6711-7{i:05d}") | {"updated_date": same_second}
        for i in range(30)
    ]
    sim = Simulator(hotline_simulator(seeded, users={"hub": "pw"}), delay=0.03)
    state = tmp_path / "ops1111.sqlite"
    try:
        run = lambda: world.run_service(  # noqa: E731
            "ops1111",
            "opm1111",
            sim.url,
            state,
            "--batch",
            "4",
            "--option",
            "page_size=3",
            **HOTLINE_ENV,
        )
        killed = run()
        world.wait(lambda: len(world.refs("ops1111")) >= 8, "the first cases sent")
        killed.kill9()
        assert len(world.refs("ops1111")) < len(seeded), "not killed mid-stream"

        client = Ops1111Client(
            httpx.Client(base_url=sim.url, timeout=10), username="hub", password="pw"
        )
        fields = ("case_code", "type_id", "channel_id", "organization_id", "detail", "province_id")
        for i in range(6):  # new calls while the service is down
            client.add_case(
                {k: v for k, v in hotline_case(0, f"6711-8{i:05d}").items() if k in fields}
            )
        sim.delay = 0.0
        run()
        everything = sorted([c["case_code"] for c in seeded] + [f"6711-8{i:05d}" for i in range(6)])
        world.wait(lambda: world.refs("ops1111") == everything, "every case, once")

        case = offered(mwa)[0]
        resolve(mwa, case, "ซ่อมเสร็จแล้ว")
        cases = sim.app.extensions["ops1111_store"].cases
        with world.session() as s:
            code = s.scalars(select(Complaint.origin_ref).where(Complaint.case_id == case)).first()
        stored = next(c for c in cases.values() if c["case_code"] == code)
        world.wait(lambda: stored["status_id"] == 8, "SetOrgSummaryResult in 1111")
        assert stored["summary"]["result"] == "ซ่อมเสร็จแล้ว"
        assert world.submitted("opm1111") == len(everything)
        with world.session() as s:
            assert s.get(Case, case).status == "resolved"
        report = service_report(world, "ops1111", "opm1111", state)
        # three fixture cases say more than "new" (in progress, resolved): mwa holds them
        assert report["outbox"] == {
            "pending": 0,
            "sent": len(everything),
            "refused": 0,
            "conflict": 3,
        }
    finally:
        sim.close()


# --------------------------------------------------------------------------- the state file


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    key = generate_private_key()
    path = tmp_path / "bma.private.jwk"
    write_private_jwk(path, private_jwk(key, kid=f"bma/{jwk_thumbprint(public_jwk(key))[:16]}"))
    return path


def run_once(
    key: Path, state: Path, name: str = "traffy_fondue"
) -> subprocess.CompletedProcess[str]:
    nowhere = "http://127.0.0.1:9"  # the state is refused before either is asked anything
    cmd = [*hub_cli(name, key, state), "--once", "--hub-url", nowhere, "--native-url", nowhere]
    return cli(cmd, {**TRAFFY_ENV, **HOTLINE_ENV})


def make_state(key: Path, state: Path, name: str = "traffy_fondue") -> None:
    out = cli([*hub_cli(name, key, state), "--report"])
    assert out.returncode == 0, out.stderr


def test_a_state_file_that_is_not_one_is_refused_with_what_to_do(key_file, tmp_path) -> None:
    state = tmp_path / "traffy.sqlite"
    state.write_bytes(b'{"last_row": 12}\n' * 20)
    out = run_once(key_file, state)
    assert out.returncode == 2, out.stderr
    assert f"state file {state} is unreadable" in out.stderr
    assert "move it aside to start over" in out.stderr
    assert state.read_bytes() == b'{"last_row": 12}\n' * 20  # left as it was


def test_a_damaged_watermark_is_refused_not_reset(key_file, tmp_path) -> None:
    state = tmp_path / "traffy.sqlite"
    make_state(key_file, state)
    with sqlite3.connect(state) as conn:
        conn.execute("UPDATE cursor SET value = '{\"last_full\": 2026-11' WHERE id = 1")
    out = run_once(key_file, state)
    assert out.returncode == 2
    assert "holds a corrupt cursor" in out.stderr and "restore it from a backup" in out.stderr


def test_a_truncated_state_file_is_refused(key_file, tmp_path) -> None:
    state = tmp_path / "traffy.sqlite"
    make_state(key_file, state)
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    out = run_once(key_file, state)
    assert out.returncode == 2
    assert "state file" in out.stderr and ("damaged" in out.stderr or "unreadable" in out.stderr)


def test_another_instances_state_file_is_refused(key_file, tmp_path) -> None:
    state = tmp_path / "traffy.sqlite"
    make_state(key_file, state)
    out = run_once(key_file, state, name="ops1111")
    assert out.returncode == 2
    assert "belongs to adapter 'traffy_fondue' for agency 'bma'" in out.stderr


def test_a_1111_watermark_that_is_not_a_time_is_refused(key_file, tmp_path) -> None:
    state = tmp_path / "ops1111.sqlite"
    make_state(key_file, state, "ops1111")
    with sqlite3.connect(state) as conn:
        conn.execute("""UPDATE cursor SET value = '{"watermark": "yesterday", "seen": []}'""")
    out = run_once(key_file, state, name="ops1111")
    assert out.returncode == 2
    assert "holds a cursor ops1111 cannot read" in out.stderr and "yesterday" in out.stderr

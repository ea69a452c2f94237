"""Delivery under faults, with real processes, real PostgreSQL and a real (private) Redis.

Each test runs the deployed shape — ``hub serve`` (uvicorn) plus two ``hub worker`` (rq)
subprocesses, a fresh PostgreSQL database and a redis-server of its own — sends at least
500 signed complaints through ``POST /v1/envelopes:batch`` to three simulated agencies
(the SDK's receiver on loopback), breaks something on purpose, and then checks every
message: delivered, to the agency routing chose, handed to that agency's callback exactly
once. The faults: a worker SIGKILLed mid-delivery; Redis flushed, then killed and restarted
while deliveries are queued; destinations answering 500, timing out, resetting the
connection or signing their acks with a wrong key for a while; the API process SIGKILLed
mid-batch and restarted. Counts are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.pool import NullPool

from hub.db import make_engine, make_sessionmaker, transaction
from hub.exchange import registry
from hub.exchange.client import HubClient
from hub.exchange.keys import generate_private_key, jwk_thumbprint, public_jwk
from hub.migrate import upgrade
from hub.models import Delivery, Destination, Envelope
from tests.support import procs
from tests.support.destination import SimulatedAgency
from tests.support.envelopes import traffy_complaint

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

MESSAGES = 500
BATCH = 25  # a batch holds the log lock until it commits: small ones let acks through
DELIVERY_DEADLINE = 90.0
ORIGIN = "bma"  # the Traffy rows name Bangkok as their origin agency
AGENCIES = {  # destination code -> the one category it takes (area: Bangkok, "10")
    "fault-roads": "road",
    "fault-walks": "footpath",
    "fault-drains": "drainage",
}
HOST = socket.gethostname()

TUNING = {
    "HUB_DISPATCH_INTERVAL": "0.2",
    "HUB_DELIVERY_BACKOFF_BASE": "0.2",
    "HUB_DELIVERY_BACKOFF_CAP": "2",
    "HUB_DELIVERY_LEASE_SECONDS": "3",
    "HUB_DELIVERY_BREAKER": "5",
    "HUB_DELIVERY_CONNECT_TIMEOUT": "1",
    "HUB_DELIVERY_READ_TIMEOUT": "5",
    # faults last seconds here, not days: the tests are about loss and duplicates, not
    # about when a delivery is given up, so attempts must not run out while they last
    "HUB_DELIVERY_MAX_ATTEMPTS": "60",
}


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Message:
    index: int
    message_id: str
    destination: str
    jws: str


class Sender(threading.Thread):
    """The origin agency streaming batches to ``POST /v1/envelopes:batch`` over real HTTP.

    With ``retry`` a batch the hub did not answer (refused connection, dropped connection,
    5xx) is sent again, the same bytes, until it is answered: what an agency does when the
    hub restarts. Without it the first failure ends the thread and fails the test.
    """

    def __init__(self, world: World, messages: list[Message], *, retry: bool) -> None:
        super().__init__(name=f"sender-{world.name}", daemon=True)
        self.world, self.messages, self.retry = world, messages, retry
        self.batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
        self.batch = -1  # the batch being sent
        self.in_request = threading.Event()
        self.answers: dict[int, list[dict[str, Any]]] = {}
        self.failures: Counter[str] = Counter()
        self.sends: Counter[int] = Counter()  # batch -> how often it was posted
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def sent(self) -> int:
        with self._lock:
            return sum(len(a) for a in self.answers.values())

    def run(self) -> None:
        deadline = time.monotonic() + 120
        try:
            with httpx.Client(base_url=self.world.base_url, timeout=30) as http:
                for n, items in enumerate(self.batches):
                    self.batch = n
                    while True:
                        assert time.monotonic() < deadline, "sender ran out of time"
                        self.sends[n] += 1
                        self.in_request.set()
                        results = self.post(http, items)
                        self.in_request.clear()
                        if results is not None:
                            with self._lock:
                                self.answers[n] = results
                            break
                        assert self.retry, f"batch {n} failed: {dict(self.failures)}"
                        time.sleep(0.2)  # the hub is down or restarting: same bytes again
        except BaseException as exc:  # re-raised by finish()
            self.error = exc
        self.world.mark(f"sent {self.sent()}")

    def post(self, http: httpx.Client, items: list[Message]) -> list[dict[str, Any]] | None:
        try:
            r = http.post("/v1/envelopes:batch", json=[m.jws for m in items])
        except httpx.HTTPError as exc:
            self.failures[type(exc).__name__] += 1
            return None
        if r.status_code >= 500:
            self.failures[f"HTTP {r.status_code}"] += 1
            return None
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    def finish(self, timeout: float = 120) -> dict[str, str]:
        """Wait for the last batch; check every answer and receipt; message id -> receipt."""
        self.join(timeout)
        assert not self.is_alive(), "sender did not finish"
        if self.error is not None:
            raise self.error
        receipts: dict[str, str] = {}
        for n, results in self.answers.items():
            for item in results:
                m = self.batches[n][item["index"]]
                assert item["status"] in (200, 201), f"{m.message_id} refused: {item}"
                self.world.sender.verify_receipt(item["receipt"]["receipt"], sent=m.jws)
                receipts[m.message_id] = item["receipt"]["receipt"]
        assert len(receipts) == len(self.messages), "a message was never answered"
        return receipts

    def statuses(self) -> Counter[int]:
        return Counter(i["status"] for results in self.answers.values() for i in results)


class CountingApp:
    """WSGI middleware: every push that reaches an agency, by the fault mode it met."""

    def __init__(self, sim: SimulatedAgency) -> None:
        self.sim, self.inner = sim, sim.app.wsgi_app
        self.by_mode: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._lock:
            self.by_mode[self.sim.mode] += 1
        return self.inner(environ, start_response)

    def total(self) -> int:
        return sum(self.by_mode.values())


@dataclass
class World:
    """One hub deployment under test: processes, database, Redis, agencies, a sender."""

    name: str
    procs: procs.Procs
    redis: procs.RedisServer
    db_url: str
    env: dict[str, str]
    base_url: str
    engine: Engine
    sims: dict[str, SimulatedAgency]
    pushes: dict[str, CountingApp]
    sender: HubClient
    serve: procs.Proc | None = None
    workers: list[procs.Proc] = field(default_factory=list)
    killed: list[procs.Proc] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    timeline: dict[str, float] = field(default_factory=dict)

    def mark(self, label: str) -> None:
        """Note when a step ended (seconds since the world was built), for the printout."""
        self.timeline[label] = round(time.monotonic() - self.started_at, 1)

    # -- processes ---------------------------------------------------------------------

    def start_serve(self) -> procs.Proc:
        self.serve = procs.start_serve(self.procs, self.env)
        self.mark(f"{self.serve.name} up")
        return self.serve

    def start_worker(self) -> procs.Proc:
        worker = procs.start_worker(self.procs, self.env)
        self.workers.append(worker)
        return worker

    def kill9(self, proc: procs.Proc) -> None:
        proc.kill9()
        self.mark(f"killed {proc.name}")
        self.killed.append(proc)
        if proc in self.workers:
            self.workers.remove(proc)

    def owner(self, proc: procs.Proc) -> str:
        return f"{HOST}:{proc.pid}"  # hub.exchange.dispatch.OWNER of that process

    # -- messages ----------------------------------------------------------------------

    def messages(self, n: int = MESSAGES) -> list[Message]:
        """``n`` complaints from real Traffy rows, each a new origin record, spread over
        the agencies by category (message ``i`` goes to agency ``i % 3``)."""
        codes = list(AGENCIES)
        out = []
        for i in range(n):
            code = codes[i % len(codes)]
            ref = f"{self.name}-{i:04d}"
            body = traffy_complaint(i % 200)
            body["id"] = f"traffy:{ref}"
            body["origin"] = {**body["origin"], "ref": ref}
            body["category"] = AGENCIES[code]
            message_id = f"{ORIGIN}-{ref}"
            jws = self.sender.envelope("complaint.submit", body, id=message_id)
            out.append(Message(i, message_id, code, jws))
        return out

    def sending(self, messages: list[Message], *, retry: bool = False) -> Sender:
        """Start sending ``messages`` in batches from a background thread."""
        sender = Sender(self, messages, retry=retry)
        sender.start()
        return sender

    # -- the outbox --------------------------------------------------------------------

    def states(self) -> Counter[str]:
        with self.session() as s:
            rows = s.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
            return Counter({state: n for state, n in rows.all()})

    def session(self):  # type: ignore[no-untyped-def]
        return transaction(make_sessionmaker(self.engine))

    def wait_delivered(self, n: int, timeout: float = DELIVERY_DEADLINE) -> float:
        """Until the outbox says all ``n`` are delivered; seconds it took."""
        start = time.monotonic()
        states: Counter[str] = Counter()
        while time.monotonic() - start < timeout:
            states = self.states()
            assert not states["dead"], f"dead deliveries: {dict(states)}"
            if states["delivered"] == n and states.total() == n:
                self.mark("all delivered")
                return time.monotonic() - start
            time.sleep(0.25)
        raise AssertionError(
            f"not all delivered after {timeout:.0f} s: {dict(states)}\n{self.procs.tails()}"
        )

    def check(self, messages: list[Message], **extra: object) -> dict[str, Any]:
        """Every message delivered once to its agency; print the counts; return them."""
        with self.session() as s:
            rows = s.execute(
                select(
                    Envelope.message_id,
                    Delivery.destination,
                    Delivery.forward_id,
                    Delivery.state,
                    Delivery.attempts,
                ).join(Envelope, Envelope.id == Delivery.envelope_id)
            ).all()
        assert len(rows) == len(messages), "one delivery per accepted complaint, no more"
        by_message = {r.message_id: r for r in rows}
        assert len(by_message) == len(messages)
        for m in messages:
            row = by_message[m.message_id]
            assert row.destination == m.destination, f"{m.message_id} routed to {row.destination}"
            assert row.state == "delivered", f"{m.message_id} is {row.state}"
        delivered: dict[str, int] = {}
        for code, sim in self.sims.items():
            forwards = {r.forward_id for r in rows if r.destination == code}
            origins = {m.message_id for m in messages if m.destination == code}
            assert set(sim.calls) == forwards, f"{code}: callback saw other forwards than sent"
            assert {f.origin["id"] for f in sim.received} == origins
            assert sim.duplicates() == 0, f"{code}: {sim.duplicates()} handed twice"
            assert sim.total_calls() == len(forwards)
            delivered[code] = sim.total_calls()
        attempts = sum(r.attempts for r in rows)
        counts: dict[str, Any] = {
            "sent": len(messages),
            "delivered": sum(delivered.values()),
            "per_agency": delivered,
            "attempts": attempts,
            "retries": attempts - len(messages),
            "pushes_seen_by_agencies": sum(p.total() for p in self.pushes.values()),
            "duplicates_to_callbacks": sum(sim.duplicates() for sim in self.sims.values()),
            "dead": 0,
            **extra,
            "timeline_s": self.timeline,
            "elapsed_s": round(time.monotonic() - self.started_at, 1),
        }
        print(f"\n[{self.name}] " + " ".join(f"{k}={v}" for k, v in counts.items()))
        survivors = [w for w in self.workers if not w.alive()]
        assert not survivors, "a worker nobody killed has died:\n" + self.procs.tails()
        return counts


def _enrol(db_url: str, base_url: str) -> tuple[HubClient, dict[str, HubClient]]:
    """The origin agency (submits) and the destinations (push mode, endpoints later)."""
    now = datetime.now(UTC)
    clients: dict[str, HubClient] = {}
    engine = make_engine(db_url, poolclass=NullPool)
    try:
        with transaction(make_sessionmaker(engine)) as s:
            for code in (ORIGIN, *AGENCIES):
                key = generate_private_key()
                key_id = jwk_thumbprint(public_jwk(key))[:16]
                registry.enrol(
                    s,
                    code=code,
                    kind="local_government" if code == ORIGIN else "state_enterprise",
                    name_th="หน่วยงานทดสอบความทนทาน",
                    areas=["10"],
                    categories=[AGENCIES[code]] if code in AGENCIES else [],
                    roles=["submit"] if code == ORIGIN else ["submit", "receive"],
                    key=registry.KeyMaterial(jwk=public_jwk(key), key_id=key_id),
                    now=now,
                )
                http = httpx.Client(base_url=base_url, timeout=30)
                clients[code] = HubClient(
                    base_url, agency=code, key=key, kid=f"{code}/{key_id}", http=http
                )
    finally:
        engine.dispose()
    return clients[ORIGIN], {c: clients[c] for c in AGENCIES}


def _set_endpoints(db_url: str, sims: dict[str, SimulatedAgency]) -> None:
    engine = make_engine(db_url, poolclass=NullPool)
    try:
        with transaction(make_sessionmaker(engine)) as s:
            for code, sim in sims.items():
                agency = registry.get_agency(s, code)
                agency.endpoint, agency.mode = sim.url, "push"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> str:
    """The PostgreSQL of HUB_TEST_DATABASE_URL (required or skipped as conftest says)."""
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        procs.ensure_postgres_database(url)  # the conftest fixture migrates it
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def make_world(pg_server: str, redis_url: str, tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Builds a world: fresh database, private Redis, enrolled agencies running on loopback.
    Processes are started by the test; all of them are SIGKILLed at the end, pass or fail."""
    del redis_url  # only its REQUIRE semantics: each test runs its own redis-server
    with contextlib.ExitStack() as stack:

        def build(name: str, **env: str) -> World:
            started = time.monotonic()
            db_url = stack.enter_context(procs.fresh_postgres_database(pg_server, "hub_faults"))
            upgrade(db_url)
            (tmp_path / "logs").mkdir()
            running = procs.Procs(tmp_path / "logs")
            stack.callback(running.kill_all)
            redis = procs.RedisServer(running).start()
            port = procs.free_port()
            base_url = f"http://{procs.LOOPBACK}:{port}"
            sender, receivers = _enrol(db_url, base_url)
            for client in (sender, *receivers.values()):
                stack.callback(client.http.close)
            sims = {code: SimulatedAgency(client) for code, client in receivers.items()}
            pushes = {}
            for code, sim in sims.items():
                pushes[code] = CountingApp(sim)
                sim.app.wsgi_app = pushes[code]  # type: ignore[method-assign]
                stack.enter_context(sim)
            _set_endpoints(db_url, sims)
            engine = make_engine(db_url, pool_size=2, max_overflow=2)
            stack.callback(engine.dispose)
            hub_env = procs.hub_env(
                database_url=db_url,
                redis_url=redis.url,
                key_dir=tmp_path / "keys",
                port=port,
                **(TUNING | env),
            )
            world = World(
                name, running, redis, db_url, hub_env, base_url, engine, sims, pushes, sender
            )
            world.started_at = started
            world.mark("built")
            return world

        yield build


def _warm_keys(world: World) -> None:
    """Fetch the hub's JWKS and the origin's keys once, as a running agency would have:
    the receivers then verify pushes even while the API process is down."""
    world.sender.hub_keys()
    for sim in world.sims.values():
        sim.client.hub_keys()
        sim.client.agency_keys(ORIGIN)


# --------------------------------------------------------------------------- scenarios


def test_a_worker_killed_mid_delivery_loses_nothing_and_duplicates_nothing(make_world):  # type: ignore[no-untyped-def]
    world = make_world("kill_worker")
    for sim in world.sims.values():
        sim.mode, sim.delay = "slow", 0.02  # answers take a while: deliveries are in flight
    world.start_serve()
    _warm_keys(world)
    victim = world.start_worker()
    world.start_worker()
    messages = world.messages()
    sender = world.sending(messages)

    def victim_is_pushing() -> bool:
        with world.session() as s:
            held = s.scalars(
                select(Destination.agency).where(Destination.lease_owner == world.owner(victim))
            ).all()
            return bool(held) and bool(
                s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.destination.in_(held), Delivery.state == "in_flight")
                )
            )

    procs.wait_for(
        lambda: world.states()["delivered"] >= 20, timeout=60, what="deliveries under way"
    )
    procs.wait_for(victim_is_pushing, timeout=30, interval=0.01, what="victim mid-delivery")
    world.kill9(victim)
    with world.session() as s:
        in_flight = s.scalars(select(Delivery.id).where(Delivery.state == "in_flight")).all()
        stranded = s.scalar(
            select(func.count())
            .select_from(Destination)
            .where(Destination.lease_owner == world.owner(victim))
        )
    delivered_before = world.states()["delivered"]
    sent_before = sender.sent()
    world.start_worker()  # the replacement; the survivor carries on meanwhile
    sender.finish()
    took = world.wait_delivered(len(messages))
    with world.session() as s:
        reattempted = s.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.id.in_(in_flight), Delivery.attempts > 1)
        )
    world.check(
        messages,
        sent_before_kill=sent_before,
        delivered_before_kill=delivered_before,
        in_flight_at_kill=len(in_flight),
        in_flight_reattempted=reattempted,
        leases_stranded=stranded,
        drain_s=round(took, 1),
    )
    assert in_flight, "the worker was killed with nothing in flight"


def test_redis_flushed_then_killed_and_restarted_while_deliveries_are_queued(make_world):  # type: ignore[no-untyped-def]
    world = make_world("redis_restart")
    for sim in world.sims.values():
        sim.mode, sim.delay = "slow", 0.02
    world.start_serve()
    _warm_keys(world)
    messages = world.messages()
    sender = world.sending(messages)  # no worker yet: the jobs wait in Redis
    redis = world.redis.client()
    try:
        procs.wait_for(
            lambda: redis.llen("rq:queue:hub-deliveries") >= len(AGENCIES),
            timeout=30,
            what="a job per destination queued",
        )
        queued_before_flush = redis.llen("rq:queue:hub-deliveries")
        redis.flushall()
        world.mark("redis flushed")
        queued_after_flush = redis.llen("rq:queue:hub-deliveries")
    finally:
        redis.close()
    world.start_worker()
    world.start_worker()
    procs.wait_for(
        lambda: world.states()["delivered"] >= 20, timeout=60, what="deliveries under way"
    )
    world.redis.kill9()  # no persistence: it comes back empty
    world.mark("redis killed")
    sent_at_kill, delivered_at_kill = sender.sent(), world.states()["delivered"]
    time.sleep(3.0)  # intake goes on without Redis; the outbox remembers
    sent_while_down = sender.sent() - sent_at_kill
    world.redis.start()
    world.mark("redis restarted")
    sender.finish()
    took = world.wait_delivered(len(messages))
    world.check(
        messages,
        queued_jobs_flushed=queued_before_flush - queued_after_flush,
        delivered_when_redis_killed=delivered_at_kill,
        sent_while_redis_down=sent_while_down,
        drain_s=round(took, 1),
    )
    assert sent_while_down > 0 or sender.sent() == sent_at_kill == len(messages)


FAULT_PLAN = {  # destination -> the faults it goes through, one phase each, then "ok"
    "fault-roads": ["error", "slow", "reset", "bad_ack"],
    "fault-walks": ["bad_ack", "reset", "slow", "error"],
}
PHASE_MIN_SECONDS, PHASE_MIN_PUSHES, PHASE_MAX_SECONDS = 2.0, 3, 20.0


def test_destinations_failing_in_every_way_then_recovering_get_everything_once(make_world):  # type: ignore[no-untyped-def]
    world = make_world("dest_faults", HUB_DELIVERY_READ_TIMEOUT="0.5")
    for code in FAULT_PLAN:
        world.sims[code].delay = 1.0  # "slow" answers after the hub stopped waiting
    world.start_serve()
    _warm_keys(world)
    world.start_worker()
    world.start_worker()
    messages = world.messages()
    sender = world.sending(messages)
    procs.wait_for(lambda: sender.sent() >= 50, timeout=60, what="first batches sent")
    for phase in range(len(next(iter(FAULT_PLAN.values())))):
        for code, plan in FAULT_PLAN.items():
            world.sims[code].mode = plan[phase]
        began = time.monotonic()

        def phase_done(phase: int = phase, began: float = began) -> bool:
            # "for a while": some seconds, and long enough for several pushes to meet it
            return time.monotonic() - began >= PHASE_MIN_SECONDS and all(
                world.pushes[code].by_mode[plan[phase]] >= PHASE_MIN_PUSHES
                for code, plan in FAULT_PLAN.items()
            )

        with contextlib.suppress(TimeoutError):  # checked below: at least one push each
            procs.wait_for(phase_done, timeout=PHASE_MAX_SECONDS, interval=0.1)
        world.mark(f"phase {phase + 1} {'/'.join(p[phase] for p in FAULT_PLAN.values())}")
    for code in FAULT_PLAN:
        world.sims[code].mode = "ok"
    world.mark("recovered")
    sender.finish()
    took = world.wait_delivered(len(messages))
    met = {code: dict(world.pushes[code].by_mode) for code in FAULT_PLAN}
    world.check(messages, pushes_by_mode=met, drain_s=round(took, 1))
    for code, plan in FAULT_PLAN.items():
        missed = [mode for mode in plan if not world.pushes[code].by_mode[mode]]
        assert not missed, f"{code} was never pushed to while in {missed}"


def test_the_api_process_killed_mid_batch_and_restarted_loses_and_doubles_nothing(make_world):  # type: ignore[no-untyped-def]
    world = make_world("api_restart")
    for sim in world.sims.values():
        sim.mode, sim.delay = "slow", 0.01
    world.start_serve()
    _warm_keys(world)
    world.start_worker()
    world.start_worker()
    messages = world.messages()
    sender = world.sending(messages, retry=True)
    interrupted: list[dict[str, Any]] = []

    def committed(n: int) -> int:
        ids = [m.message_id for m in sender.batches[n]]
        with world.session() as s:
            return int(
                s.scalar(
                    select(func.count()).select_from(Envelope).where(Envelope.message_id.in_(ids))
                )
                or 0
            )

    def inside(n: int) -> bool:
        return sender.batch == n and sender.in_request.is_set()

    def kill_and_restart(n: int, aim: str) -> None:
        assert world.serve is not None
        world.kill9(world.serve)
        stored = committed(n)
        assert stored in (0, len(sender.batches[n])), f"batch {n} half stored ({stored})"
        interrupted.append({"batch": n, "aim": aim, "committed_before_kill": stored})
        time.sleep(0.5)
        world.start_serve()

    # kill 1: in the middle of a batch request (usually before its transaction commits)
    first_kill = len(sender.batches) // 5
    procs.wait_for(
        lambda: sender.batch >= first_kill and sender.in_request.is_set(),
        timeout=60,
        interval=0.005,
        what=f"sender inside batch {first_kill}",
    )
    time.sleep(0.05)
    kill_and_restart(sender.batch, "mid-request")

    # kill 2: between the batch's commit and its answer reaching the sender, if we can catch
    # that window (a few ms); tried on several batches, else an ordinary mid-request kill
    second_kill = len(sender.batches) // 2
    procs.wait_for(
        lambda: sender.batch >= second_kill, timeout=60, interval=0.005, what="half sent"
    )
    for n in range(sender.batch, min(sender.batch + 6, len(sender.batches) - 1)):
        with contextlib.suppress(TimeoutError):
            procs.wait_for(lambda n=n: inside(n), timeout=20, interval=0.002)
        while inside(n) and not committed(n):
            pass
        if inside(n):
            kill_and_restart(n, "after-commit")
            break
    else:
        procs.wait_for(sender.in_request.is_set, timeout=20, interval=0.002)
        kill_and_restart(sender.batch, "mid-request")
    receipts = sender.finish()
    took = world.wait_delivered(len(messages))

    first = sender.batches[0]
    with httpx.Client(base_url=world.base_url, timeout=30) as http:
        again = sender.post(http, first)  # the same bytes once more: the same receipts
    assert again is not None
    assert [i["status"] for i in again] == [200] * len(first)
    assert [i["receipt"]["receipt"] for i in again] == [receipts[m.message_id] for m in first]
    statuses = sender.statuses()
    for kill in interrupted:
        kill["posted"] = sender.sends[kill["batch"]]
    world.check(
        messages,
        batches=len(sender.batches),
        api_kills=len(interrupted),
        interrupted=interrupted,
        failed_posts=dict(sender.failures),
        answered_created_201=statuses[201],
        answered_resend_200=statuses[200],
        resent_batch_same_receipts=len(first),
        drain_s=round(took, 1),
    )
    assert sum(sender.failures.values()) >= len(interrupted), "the kills never hit the sender"


def test_a_marker_left_by_an_interrupted_enqueue_does_not_stall_deliveries(make_world):  # type: ignore[no-untyped-def]
    world = make_world("lost_enqueue")
    world.start_serve()
    _warm_keys(world)
    world.start_worker()
    world.start_worker()
    redis = world.redis.client()
    try:  # exactly what `hub serve` leaves when SIGKILLed between the SET and the enqueue:
        # a marker with the hub's own expiry (a few sweeps; it used to be 60 s)
        redis.set("hub:queued:fault-roads", "1", nx=True, ex=5)
    finally:
        redis.close()
    messages = world.messages(90)
    sender = world.sending(messages)
    sender.finish()
    world.wait_delivered(len(messages), timeout=15)  # sweeps run every 0.2 s
    world.check(messages)

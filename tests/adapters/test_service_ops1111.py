"""The 1111 service in one process: the CoreService simulator (SOAP over WSGI), a real hub
app, the service's loops driven one cycle at a time.

``opm1111`` is the centre the service signs as; ``mwa`` (the waterworks, 1111 organisation
102) takes every case (national area) and acts on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.ops1111.adapter import raw_cases
from adapters.ops1111.client import Cursor, Ops1111Client
from adapters.ops1111.mapping import BANGKOK
from adapters.ops1111.service import Ops1111Source
from adapters.ops1111.simulator import create_simulator
from adapters.service.runner import Service
from adapters.service.state import StateStore
from tests.adapters.service_support import case_of, complaints, hotline_case, offered, resolve
from tests.support.clock import FakeClock

SYSTEM = "ops1111"
# the first poll of the five fixture cases: five complaints, and what two say answered 409
# (6711-000123 in progress: accept, status; 6710-000077 resolved) — mwa holds both cases
FIRST = {"pending": 0, "sent": 5, "refused": 0, "conflict": 3}


class World:
    def __init__(self, agencies, hub, tmp_path: Path, *, cases=None, page_size=100, clock=None):
        self.hub = hub
        self.opm = agencies.enrol(
            "opm1111", kind="hotline", areas=["50"], categories=["corruption"]
        )
        self.mwa = agencies.enrol("mwa", kind="state_enterprise", areas=["TH"])
        seeded = [c for _, c in raw_cases()] if cases is None else cases
        extra = {"clock": clock} if clock else {}
        self.app = create_simulator(seeded, users={"hub": "pw"}, **extra)
        self.cases = self.app.extensions["ops1111_store"].cases
        self.state_file, self.page_size = tmp_path / "ops1111.sqlite", page_size
        self.service = self.start()

    def client(self) -> Ops1111Client:
        http = httpx.Client(transport=httpx.WSGITransport(app=self.app), base_url="http://sim")
        return Ops1111Client(http, username="hub", password="pw", page_size=self.page_size)

    def start(self) -> Service:
        store = StateStore.open(self.state_file, adapter=SYSTEM, agency="opm1111", native="sim")
        source = Ops1111Source(self.client(), "opm1111")
        return Service(source, self.opm.client, store, interval=0, batch=10)

    def restart(self) -> Service:
        self.service.store.close()
        self.service = self.start()
        return self.service

    def cycle(self) -> None:
        self.service.cycle(pull=True)

    def case(self, code: str):
        with self.hub.transaction() as s:
            return case_of(s, SYSTEM, code)

    def refs(self) -> list[str]:
        with self.hub.transaction() as s:
            return complaints(s, SYSTEM)


@pytest.fixture
def world(agencies, hub, tmp_path) -> World:
    return World(agencies, hub, tmp_path)


def test_every_1111_case_reaches_the_hub_once(world) -> None:
    world.cycle()
    assert world.refs() == sorted(c["case_code"] for _, c in raw_cases())
    world.cycle()
    assert world.service.store.report()["outbox"] == FIRST
    assert world.service.store.cursor()["watermark"] is not None


def test_a_hub_resolution_becomes_set_org_summary_result(world) -> None:
    world.cycle()
    case = world.case("6711-000150").id
    assert case in offered(world.mwa.client)
    resolve(world.mwa.client, case, "ซ่อมท่อประปาแล้ว")
    world.cycle()
    stored = next(c for c in world.cases.values() if c["case_code"] == "6711-000150")
    assert stored["status_id"] == 8
    assert stored["summary"] == {"status_id": 8, "result": "ซ่อมท่อประปาแล้ว"}
    accepted = [o for o in stored["operatings"] if o["terminal_org_id"] == 102]
    assert len(accepted) == 1  # the acceptance: one operating by the waterworks (org 102)
    changed = world.service.counts["changed"]
    world.cycle()  # its own writes are not sent back to the hub as 1111 changes
    assert world.service.counts["changed"] == changed
    assert world.case("6711-000150").status == "resolved"


def test_a_1111_change_out_of_turn_is_a_conflict_not_retried(world) -> None:
    world.cycle()
    client = world.client()
    client.set_org_summary_result("6711-000150", {"status_id": 8, "result": "ยุติเรื่องที่ 1111"})
    world.cycle()
    report = world.service.store.report()
    assert report["outbox"] == FIRST | {"conflict": 4}  # mwa holds the case, not 1111
    assert report["problems"] == []  # an expected answer, not a fault
    world.cycle()
    assert world.service.store.report()["outbox"] == FIRST | {"conflict": 4}  # not retried
    assert world.case("6711-000150").status == "offered"


def test_a_complaint_routed_to_1111_becomes_an_add_case(world, agencies) -> None:
    from adapters.traffy_fondue.adapter import api_fixtures
    from adapters.traffy_fondue.mapping import api_to_complaint

    sender = agencies.enrol("cm-city", areas=[])
    complaint = api_to_complaint(api_fixtures()[0]) | {"category": "corruption"}
    complaint["location"] = {"lat": 18.79, "lon": 98.98, "province_code": "50"}
    complaint["id"], complaint["origin"] = (
        "cmcity:77",
        {"agency": "cm-city", "system": "cmcity", "ref": "77"},
    )
    complaint.pop("extensions", None)
    receipt = sender.client.send("complaint.submit", complaint, id="cm-city-77")
    world.cycle()
    made = [c for c in world.cases.values() if c["case_code"] == "HUB-cmcity:77"]
    assert len(made) == 1 and made[0]["province_id"] == 38  # Chiang Mai in 1111's own ids
    assert "HUB-cmcity:77" not in world.refs()
    world.client().set_org_summary_result("HUB-cmcity:77", {"status_id": 8, "result": "ยุติ"})
    world.cycle()
    with world.hub.transaction() as s:
        from hub.models import Case

        assert s.get(Case, receipt.case_id).status == "resolved"


def test_cases_in_the_same_second_across_pages_and_restarts_are_each_sent_once(
    agencies, hub, tmp_path
) -> None:
    clock = FakeClock(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))  # every case: the same second
    cases = [
        hotline_case(900000 + i, f"6711-5{i:05d}") | {"updated_date": "2026-11-21 10:00:00"}
        for i in range(7)
    ]
    world = World(agencies, hub, tmp_path, cases=cases, page_size=2, clock=clock)
    world.cycle()
    world.restart()
    client = world.client()
    for i in range(7, 12):  # AddCase: the same second again
        client.add_case(
            {
                k: v
                for k, v in hotline_case(0, f"6711-5{i:05d}").items()
                if k
                in (
                    "case_code",
                    "type_id",
                    "channel_id",
                    "organization_id",
                    "detail",
                    "province_id",
                )
            }
        )
    world.cycle()
    world.restart()
    world.cycle()
    assert world.refs() == sorted(f"6711-5{i:05d}" for i in range(12))
    assert world.service.store.report()["outbox"]["sent"] == 12  # one complaint each
    assert world.service.store.report()["outbox"]["pending"] == 0


# --------------------------------------------------------------------------- the cursor

Op = tuple[str, int]
SHIFT_PAST_THE_OVERLAP = [("wait", 0), ("touch", 7), ("touch", 12)]  # 2 cases move mid-poll


@example(size=6, page=2, ops=SHIFT_PAST_THE_OVERLAP)
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    size=st.integers(1, 12),
    page=st.integers(1, 4),
    ops=st.lists(
        st.tuples(st.sampled_from(["touch", "add", "wait"]), st.integers(0, 30)), max_size=30
    ),
)
def test_the_cursor_never_loses_or_repeats_a_change(size: int, page: int, ops: list[Op]) -> None:
    """Cases added and updated between and *during* the pages of a poll, many in the same
    second: every version of every case is handed out at most once, and the last version
    of every case is handed out. ``ops`` is a stream of changes; each ``wait`` lets one
    GetCases request through, so the changes before it land between two pages."""
    clock = FakeClock(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    cases = [
        hotline_case(1000 + i, f"C{i}") | {"updated_date": "2026-11-21 10:00:00"}
        for i in range(size)
    ]
    app = create_simulator(cases, users={"hub": "pw"}, clock=clock)
    store = app.extensions["ops1111_store"]
    pending = list(ops)

    def apply(kind: str, n: int) -> None:
        clock.advance(seconds=n % 2)  # half the changes land in the same second
        now = clock().astimezone(BANGKOK).strftime("%Y-%m-%d %H:%M:%S")
        if kind == "touch":
            store.cases[sorted(store.cases)[n % len(store.cases)]]["updated_date"] = now
        else:
            new_id = max(store.cases) + 1
            store.cases[new_id] = hotline_case(new_id, f"C{new_id}") | {"updated_date": now}

    def meddle(request: httpx.Request) -> httpx.Response:
        while b"GetCases" in request.content and pending:
            kind, n = pending.pop(0)
            if kind == "wait":
                break
            apply(kind, n)
        return wsgi.handle_request(request)

    wsgi = httpx.WSGITransport(app=app)
    http = httpx.Client(transport=httpx.MockTransport(meddle), base_url="http://sim")
    client = Ops1111Client(http, username="hub", password="pw", page_size=page)
    seen: list[tuple[int, str]] = []
    for _ in range(len(ops) + 2):  # every poll starts from the cursor as the service kept it
        client.cursor = Cursor.from_json(client.cursor.as_json())
        seen += [(int(s["case_id"]), str(s["updated_date"])) for s in client.cases_since()]
    assert not pending
    seen += [(int(s["case_id"]), str(s["updated_date"])) for s in client.cases_since()]
    assert len(seen) == len(set(seen)), "a version was handed out twice"
    final = {(i, c["updated_date"]) for i, c in store.cases.items()}
    assert final <= set(seen), f"never handed out: {final - set(seen)}"

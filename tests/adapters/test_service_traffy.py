"""The Traffy Fondue service in one process: the partner-API simulator (WSGI), a real hub app
(every message signed and receipted), the service's loops driven one cycle at a time.

Agencies: ``bma`` is the Traffy deployment the service signs as (it holds Bangkok road
cases itself); ``bkk-district`` takes everything else (national area ``TH``), pulls its
inbox and acts like an agency does.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from adapters.service.runner import Service, Transient
from adapters.service.state import StateStore
from adapters.traffy_fondue.adapter import api_fixtures
from adapters.traffy_fondue.client import TraffyClient
from adapters.traffy_fondue.service import TraffySource
from adapters.traffy_fondue.simulator import create_simulator
from hub.exchange.client import HubClient
from hub.models import Envelope
from tests.adapters.service_support import (
    case_of,
    complaints,
    offered,
    pull_cases,
    resolve,
    traffy_ticket,
)

SYSTEM = "traffy_fondue"
# after the first poll of the four fixture tickets: four complaints, and what two of them say
# (2023-KDC92T in progress: accept, status; 2023-4DU3BQ finished: resolve) answered 409 —
# bkk-district holds both cases
FIRST = {"pending": 0, "sent": 4, "refused": 0, "conflict": 3}


class World:
    def __init__(self, agencies, hub, tmp_path: Path, clock) -> None:
        self.hub = hub
        self.bma = agencies.enrol("bma", areas=["10"], categories=["road"])
        self.district = agencies.enrol("bkk-district", areas=["TH"])
        self.app = create_simulator(api_fixtures(), users={"hub": "pw"})
        self.issues = self.app.extensions["traffy_store"].issues
        self.state_file = tmp_path / "traffy.sqlite"
        self.clock = clock
        self.service = self.start()

    def start(self) -> Service:
        http = httpx.Client(transport=httpx.WSGITransport(app=self.app), base_url="http://sim")
        source = TraffySource(
            TraffyClient(http, user="hub", password="pw"),
            "bma",
            duration="all",  # the fixture tickets are from 2023: "3days" would not list them
            clock=self.clock,
            agency_orgs={"mwa": 2002},
        )
        store = StateStore.open(self.state_file, adapter=SYSTEM, agency="bma", native="sim")
        return Service(source, self.bma.client, store, interval=0, batch=10)

    def restart(self) -> Service:
        self.service.store.close()
        self.service = self.start()
        return self.service

    def cycle(self) -> None:
        self.service.cycle(pull=True)

    def case(self, ticket: str):
        with self.hub.transaction() as s:
            return case_of(s, SYSTEM, ticket)

    def refs(self) -> list[str]:
        with self.hub.transaction() as s:
            return complaints(s, SYSTEM)


@pytest.fixture
def world(agencies, hub, tmp_path, clock) -> World:
    return World(agencies, hub, tmp_path, clock)


def test_every_traffy_ticket_becomes_one_case_and_a_second_poll_sends_nothing(world) -> None:
    world.cycle()
    assert world.refs() == sorted(i["ticket_id"] for i in api_fixtures())
    report = world.service.store.report()
    assert report["outbox"] == FIRST
    world.cycle()
    assert world.service.store.report()["outbox"] == FIRST
    assert world.case("JGKLY8").owner == "bma"  # a Bangkok road: the deployment's own case
    assert world.case("2023-6ZUY4U").owner == "bkk-district"


def test_a_resolution_in_the_hub_reaches_the_traffy_ticket_once(world) -> None:
    world.cycle()
    case = world.case("2023-6ZUY4U").id
    assert case in offered(world.district.client)
    after = [{"url": "https://example.org/after.jpg", "phase": "after"}]
    resolve(world.district.client, case, "ล้างท่อระบายน้ำแล้ว", media=after)
    world.cycle()
    issue = world.issues["2023-6ZUY4U"]
    assert (issue["state"], issue["state_type"]) == ("เสร็จสิ้น", "finish")
    notes = [t["note"] for t in issue["timeline"]]
    assert notes.count("ล้างท่อระบายน้ำแล้ว") == 1
    assert "https://example.org/after.jpg" in issue["photo_after"]
    changed = world.service.counts["changed"]
    world.cycle()  # the service's own update is not taken for a change in Traffy
    assert world.case("2023-6ZUY4U").status == "resolved"
    assert world.service.store.report()["outbox"] == FIRST
    assert world.service.counts["changed"] == changed


def test_traffy_staff_finishing_a_ticket_resolves_the_hub_case(world) -> None:
    world.cycle()
    client = world.service.source.client
    client.update_issue({"ticket_id": "JGKLY8", "state_name": "กำลังดำเนินการ", "note": "รับแจ้งแล้ว"})
    world.cycle()
    assert world.case("JGKLY8").status == "in_progress"
    client.update_issue({"ticket_id": "JGKLY8", "state_name": "เสร็จสิ้น", "note": "ซ่อมถนนแล้ว"})
    world.cycle()
    case = world.case("JGKLY8")
    assert case.status == "resolved"
    sent = world.service.store.report()["sent_by_type"]
    assert sent == {"complaint.submit": 4, "case.accept": 1, "case.status": 1, "case.resolve": 1}


def test_a_citizen_reopening_reopens_the_hub_case(world) -> None:
    world.cycle()
    client = world.service.source.client
    client.update_issue({"ticket_id": "JGKLY8", "state_name": "เสร็จสิ้น", "note": "ซ่อมแล้ว"})
    world.cycle()
    assert world.case("JGKLY8").status == "resolved"
    issue = world.issues["JGKLY8"]
    issue["count_reopen"], issue["state"], issue["state_type"] = 1, "รอรับเรื่อง", "waiting"
    world.cycle()
    assert world.case("JGKLY8").status in ("reopened", "offered")
    assert world.service.store.report()["sent_by_type"]["case.reopen"] == 1


def test_a_complaint_routed_to_bma_from_elsewhere_becomes_a_traffy_ticket(world, agencies) -> None:
    other = agencies.enrol("opm-test", areas=[])
    body = traffy_ticket("ignored")  # shaped by the template, sent as another system's record
    from adapters.traffy_fondue.mapping import api_to_complaint

    complaint = api_to_complaint(body) | {"id": "opmtest:1", "category": "road"}
    complaint["origin"] = {"agency": "opm-test", "system": "opmtest", "ref": "1"}
    receipt = other.client.send("complaint.submit", complaint, id="opm-test-1")
    world.cycle()
    made = [i for i in world.issues.values() if i.get("client_ticket_id") == "hub/opmtest:1"]
    assert len(made) == 1
    ticket = made[0]["ticket_id"]
    assert ticket not in world.refs()  # never polled back as a Traffy complaint
    world.service.source.client.update_issue(
        {"ticket_id": ticket, "state_name": "เสร็จสิ้น", "note": "ซ่อมแล้วโดยเขต"}
    )
    world.cycle()
    with world.hub.transaction() as s:
        from hub.models import Case

        assert s.get(Case, receipt.case_id).status == "resolved"
    kinds = [kind for _, kind in pull_cases(other.client)]
    assert "case.resolve" in kinds


def test_a_message_that_came_from_traffy_is_never_written_back(world, agencies) -> None:
    # another Traffy deployment's ticket, routed to bma: it is in Traffy already, so the
    # service must not make a second ticket of it (Traffy's no-loop rule)
    world.cycle()
    other = agencies.enrol("nonthaburi", areas=["12"])
    from adapters.traffy_fondue.mapping import api_to_complaint

    ticket = traffy_ticket("2026-NBI001", type=["ถนน"])
    complaint = api_to_complaint(ticket, agency="nonthaburi")
    receipt = other.client.send("complaint.submit", complaint, id="traffy-issue-2026-NBI001")
    with world.hub.transaction() as s:
        from hub.models import Case

        assert s.get(Case, receipt.case_id).owner == "bma"
    before = len(world.issues)
    world.cycle()
    assert len(world.issues) == before
    assert world.service.store.report()["inbound"] == {"loop": 1}
    assert world.service.counts["loops"] == 1


def test_a_bad_record_is_counted_kept_and_does_not_stop_the_poll(world) -> None:
    world.app.extensions["traffy_store"].report(
        traffy_ticket("2026-BADONE", subdistrict="ไม่มีตำบลนี้", district="ไม่มีเขตนี้")
    )
    world.app.extensions["traffy_store"].report(traffy_ticket("2026-GOODONE"))
    world.cycle()
    assert "2026-GOODONE" in world.refs() and "2026-BADONE" not in world.refs()
    report = world.service.store.report()
    assert [b["ref"] for b in report["bad_records"]] == ["2026-BADONE"]
    assert "ไม่มีตำบลนี้" in report["bad_records"][0]["error"]
    world.cycle()  # unchanged: not read again
    assert world.service.counts["bad"] == 1
    world.issues["2026-BADONE"] |= {"subdistrict": "สะพานสูง", "district": "สะพานสูง"}
    world.cycle()  # fixed in Traffy: now it goes
    assert "2026-BADONE" in world.refs()
    assert world.service.store.report()["bad_records"] == []


def test_a_webhook_names_the_ticket_to_read_at_once(world) -> None:
    world.service.source.duration = "today"
    world.cycle()  # the first poll sweeps everything; the next ones list "today" only
    old = traffy_ticket("2026-HOOK", timestamp="2026-10-01 08:00:00")
    world.app.extensions["traffy_store"].report(old)
    world.cycle()
    assert "2026-HOOK" not in world.refs()  # filed weeks ago: not in today's listing...
    assert world.service.webhook({"event": "new_issue", "data": {"ticket_id": "2026-HOOK"}}) == 1
    world.cycle()
    assert "2026-HOOK" in world.refs()  # ...but the webhook named it


def test_a_restart_resumes_from_the_state_file(world) -> None:
    world.cycle()
    world.restart()
    world.app.extensions["traffy_store"].report(traffy_ticket("2026-AFTER"))
    world.cycle()
    assert world.refs().count("2026-AFTER") == 1
    assert world.service.store.report()["outbox"] == FIRST | {"sent": 5}


# --------------------------------------------------------------------------- interruptions


def test_messages_queued_while_the_hub_was_unreachable_go_once_it_is_back(world) -> None:
    down = HubClient(
        "http://127.0.0.1:9",
        agency="bma",
        key=world.bma.key,
        kid=world.bma.kid,
        http=httpx.Client(base_url="http://127.0.0.1:9"),
        clock=world.clock,
    )
    world.service.hub = down
    with pytest.raises(Transient):
        world.cycle()
    assert world.refs() == []
    assert world.service.store.report()["outbox"]["pending"] == 7
    world.restart()
    world.cycle()
    assert world.refs() == sorted(i["ticket_id"] for i in api_fixtures())
    assert world.service.store.report()["outbox"] == FIRST


def test_a_crash_after_the_hub_stored_a_batch_resends_the_same_bytes(world, monkeypatch) -> None:
    real, crashed = world.bma.client.send_batch, []

    def stored_then_crash(items):
        answer = real(items)
        if not crashed:
            crashed.append(len(items))
            raise KeyboardInterrupt("killed after the hub answered, before the state file")
        return answer

    monkeypatch.setattr(world.bma.client, "send_batch", stored_then_crash)
    with pytest.raises(KeyboardInterrupt):
        world.cycle()
    world.restart()
    world.cycle()
    with world.hub.transaction() as s:
        sent = s.scalars(select(Envelope.message_id).where(Envelope.issuer == "bma")).all()
    assert sorted(sent) == sorted(f"traffy-issue-{i['ticket_id']}" for i in api_fixtures())
    assert world.service.counts["resent"] == crashed[0]  # same JWS, the hub's first receipt
    assert world.service.store.report()["outbox"] == FIRST


def test_a_crash_between_the_traffy_update_and_the_journal_does_not_update_twice(
    world, monkeypatch
) -> None:
    world.cycle()
    case = world.case("2023-6ZUY4U").id
    offered(world.district.client)
    resolve(world.district.client, case, "ลอกท่อแล้ว")
    store, real, crashed = world.service.store, world.service.store.set_inbound, []

    def crash_before_done(message_id, state, **kw):
        if state == "done" and not crashed:
            crashed.append(message_id)
            raise KeyboardInterrupt("killed after update-issue, before the journal")
        return real(message_id, state, **kw)

    monkeypatch.setattr(store, "set_inbound", crash_before_done)
    with pytest.raises(KeyboardInterrupt):
        world.cycle()
    assert world.issues["2023-6ZUY4U"]["state"] == "รับเรื่อง"  # the accept landed, unjournaled
    world.restart()
    world.cycle()  # the hub delivers the accept again (never acked), then the resolution
    notes = [t["note"] for t in world.issues["2023-6ZUY4U"]["timeline"]]
    assert notes.count("รับเรื่องผ่านศูนย์กลางรับเรื่องร้องเรียน") == 1
    assert notes.count("ลอกท่อแล้ว") == 1
    assert world.issues["2023-6ZUY4U"]["state"] == "เสร็จสิ้น"


def test_a_hub_made_ticket_changed_before_the_hub_named_its_case_waits_then_goes(
    world, agencies
) -> None:
    from adapters.traffy_fondue.mapping import api_to_complaint
    from adapters.traffy_fondue.updates import new_issue

    world.cycle()
    other = agencies.enrol("opm-test", areas=[])
    complaint = api_to_complaint(traffy_ticket("ignored")) | {"id": "opmtest:2"}
    complaint |= {
        "category": "road",
        "origin": {"agency": "opm-test", "system": "opmtest", "ref": "2"},
    }
    receipt = other.client.send("complaint.submit", complaint, id="opm-test-2")
    # the ticket exists in Traffy before the service has heard of the case (a receiver that
    # died after new-issue), and a district officer finishes it at once
    client = world.service.source.client
    ticket = client.new_issue(new_issue(complaint))
    client.update_issue({"ticket_id": ticket, "state_name": "เสร็จสิ้น", "note": "เสร็จแล้ว"})
    world.service.cycle(pull=False)
    assert world.service.store.report()["outbox"]["pending"] == 1  # waits for its case
    world.cycle()  # the forward arrives: the same ticket (client_ticket_id), now with a case
    world.cycle()
    with world.hub.transaction() as s:
        from hub.models import Case

        assert s.get(Case, receipt.case_id).status == "resolved"
    made = [i for i in world.issues.values() if i.get("client_ticket_id") == "hub/opmtest:2"]
    assert len(made) == 1

"""Delivery end to end: intake → outbox → push over real HTTP → signed ack → delivered.

A simulated agency (the SDK's receiver on a loopback server) plays the destination, with
faults switched on and off; time is the hub's fake clock, moved by hand past retries.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from hub import schema
from hub.exchange import outbox, translog
from hub.exchange.dispatch import Delivery as Tuning
from hub.exchange.dispatch import deliver_due
from hub.exchange.jws import parse_compact
from hub.exchange.outbox import RetryPolicy
from hub.exchange.push import Timeouts
from hub.models import Delivery, Destination, Envelope
from tests.support.destination import SimulatedAgency
from tests.support.envelopes import traffy_complaint

FAST = Tuning(
    retry=RetryPolicy(base_seconds=1, cap_seconds=60, max_attempts=6), timeouts=Timeouts(1, 1)
)


def water(i: int) -> dict:
    body = traffy_complaint(i)
    body["category"] = "water_supply"
    return body


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


@pytest.fixture
def mwa(agencies) -> Iterator[SimulatedAgency]:
    agency = agencies.enrol(
        "mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"]
    )
    with SimulatedAgency(agency.client) as sim:
        agencies.set_endpoint("mwa", sim.url)
        yield sim


@pytest.fixture
def bma(agencies):
    return agencies.enrol("bma", areas=["10"])


def states(hub) -> dict[str, int]:
    with hub.transaction() as s:
        return dict(s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())


def test_forwards_reach_the_destination_once_with_both_signatures(hub, bma, mwa, http):
    receipts = [bma.client.send("complaint.submit", water(i)) for i in range(20)]
    assert states(hub) == {"pending": 20}
    assert deliver_due(hub, "mwa", http=http, tuning=FAST) == 20
    assert states(hub) == {"delivered": 20}
    assert mwa.total_calls() == 20 and mwa.duplicates() == 0
    got = {m.case_id: m for m in mwa.received}
    assert set(got) == {r.case_id for r in receipts}
    first = mwa.received[0]
    assert first.origin["issuer"] == "bma" and first.origin["type"] == "complaint.submit"
    with hub.transaction() as s:
        acks = s.scalar(
            select(func.count()).select_from(Envelope).where(Envelope.type == "delivery.ack")
        )
        assert acks == 20
        assert translog.size(s) == 60  # 20 submissions, 20 forwards, 20 acks


def test_a_failing_destination_is_retried_paused_and_recovers_without_duplicates(
    hub, bma, mwa, http, clock
):
    for i in range(12):
        bma.client.send("complaint.submit", water(i))
    mwa.mode = "error"
    assert deliver_due(hub, "mwa", http=http, tuning=FAST) == 0
    assert states(hub) == {"failed": 5, "pending": 7}  # the circuit opened after 5 in a row
    assert mwa.most_in_flight == 1  # probed one at a time, never hammered in parallel
    with hub.transaction() as s:  # the untried were not attempts
        assert set(s.scalars(select(Delivery.attempts).where(Delivery.state == "pending"))) == {0}
    with hub.transaction() as s:
        dest = s.get(Destination, "mwa")
        assert dest.paused_until is not None and dest.consecutive_failures == 5
        assert outbox.destinations_due(s, now=clock()) == []  # paused: not even swept
    mwa.mode = "ok"
    clock.advance(seconds=120)
    assert deliver_due(hub, "mwa", http=http, tuning=FAST) == 12
    assert states(hub) == {"delivered": 12}
    assert mwa.duplicates() == 0


def test_a_busy_destination_costs_one_transaction_per_round(hub, bma, mwa, http):
    """The transaction that records a round claims the next one (and the last lets the
    lease go): 9 messages in rounds of 3 are the first claim, three records, and one look
    after the release, where separate lease, claim, release and recheck transactions took 9."""
    from sqlalchemy import event

    for i in range(9):
        bma.client.send("complaint.submit", water(i))
    commits: list[object] = []
    me = threading.get_ident()  # not the hub answering the agency's key lookups

    def committed(conn: object) -> None:
        if threading.get_ident() == me:
            commits.append(conn)

    event.listen(hub.engine, "commit", committed)
    try:
        small = Tuning(retry=FAST.retry, timeouts=FAST.timeouts, batch=3)
        assert deliver_due(hub, "mwa", http=http, tuning=small) == 9
    finally:
        event.remove(hub.engine, "commit", committed)
    assert len(commits) == 5
    assert states(hub) == {"delivered": 9}
    assert mwa.total_calls() == 9 and mwa.duplicates() == 0
    with hub.transaction() as s:
        dest = s.get(Destination, "mwa")
        assert dest is not None and dest.lease_owner is None  # let go at the end


def test_rounds_stop_at_the_limit_and_let_the_lease_go(hub, bma, mwa, http):
    """At most ``rounds`` rounds per call, so one busy destination cannot keep a worker
    from the others; what is left stays pending for the next job, the lease released."""
    for i in range(8):
        bma.client.send("complaint.submit", water(i))
    small = Tuning(retry=FAST.retry, timeouts=FAST.timeouts, batch=3)
    assert deliver_due(hub, "mwa", http=http, tuning=small, rounds=2) == 6
    assert states(hub) == {"delivered": 6, "pending": 2}
    with hub.transaction() as s:
        dest = s.get(Destination, "mwa")
        assert dest is not None and dest.lease_owner is None
    assert deliver_due(hub, "mwa", http=http, tuning=small, rounds=2) == 2
    assert states(hub) == {"delivered": 8} and mwa.duplicates() == 0


def test_different_cases_are_pushed_side_by_side_each_once(hub, bma, mwa, http):
    for i in range(16):
        bma.client.send("complaint.submit", water(i))
    mwa.mode, mwa.delay = "slow", 0.2  # well inside the read timeout: slow, not failing
    assert deliver_due(hub, "mwa", http=http, tuning=FAST) == 16
    assert states(hub) == {"delivered": 16}
    assert mwa.most_in_flight > 1  # 16 cases, 8 at a time after the first answer
    assert mwa.total_calls() == 16 and mwa.duplicates() == 0
    with hub.transaction() as s:
        assert set(s.scalars(select(Delivery.attempts))) == {1}


def test_one_at_a_time_when_concurrency_is_one(hub, bma, mwa, http):
    for i in range(6):
        bma.client.send("complaint.submit", water(i))
    mwa.mode, mwa.delay = "slow", 0.05
    serial = Tuning(retry=FAST.retry, timeouts=FAST.timeouts, concurrency=1)
    assert deliver_due(hub, "mwa", http=http, tuning=serial) == 6
    assert mwa.most_in_flight == 1


@pytest.mark.parametrize("fault", ["bad_ack", "wrong_ack", "reset", "slow"])
def test_a_bad_answer_is_a_failure_not_a_delivery(hub, bma, mwa, http, clock, fault):
    for i in range(3):
        bma.client.send("complaint.submit", water(i))
    mwa.mode, mwa.delay = fault, 1.5
    deliver_due(hub, "mwa", http=http, tuning=FAST)
    assert states(hub) == {"failed": 3}
    mwa.mode = "ok"
    clock.advance(seconds=120)
    assert deliver_due(hub, "mwa", http=http, tuning=FAST) == 3
    assert states(hub) == {"delivered": 3}
    assert mwa.duplicates() == 0  # re-sent forwards keep their id; the receiver drops repeats


def test_retry_after_is_honoured(hub, bma, mwa, http, clock):
    bma.client.send("complaint.submit", water(0))
    mwa.mode = "error"  # answers Retry-After: 1; our base delay is bigger, so base wins
    slow = Tuning(retry=RetryPolicy(base_seconds=0.01, cap_seconds=60), timeouts=Timeouts(1, 1))
    deliver_due(hub, "mwa", http=http, tuning=slow)
    with hub.transaction() as s:
        d = s.scalars(select(Delivery)).one()
        assert (d.next_attempt_at - clock()).total_seconds() >= 1.0


def test_deliveries_die_after_max_attempts_and_an_admin_replays_them(
    hub, agencies, bma, mwa, http, clock, client
):
    admin = agencies.enrol("hub-admin", kind="hub", roles=["admin"])
    bma.client.send("complaint.submit", water(0))
    mwa.mode = "error"
    brittle = Tuning(
        retry=RetryPolicy(base_seconds=1, max_attempts=2, breaker_threshold=99),
        timeouts=Timeouts(1, 1),
    )
    for _ in range(2):
        deliver_due(hub, "mwa", http=http, tuning=brittle)
        clock.advance(seconds=60)
    assert states(hub) == {"dead": 1}
    dead = admin.client.get("/v1/deliveries", {"state": "dead"})
    assert [d["destination"] for d in dead["deliveries"]] == ["mwa"]
    assert dead["destinations"][0]["dead"] == 1
    mwa.mode = "ok"
    replayed = admin.client.post(f"/v1/deliveries/{dead['deliveries'][0]['id']}:replay", {})
    assert replayed["state"] == "pending"
    assert deliver_due(hub, "mwa", http=http, tuning=brittle) == 1
    assert states(hub) == {"delivered": 1}
    metrics = client.get("/metrics").text
    assert 'hub_deliveries{destination="mwa",state="delivered"} 1' in metrics


def test_pull_mode_agencies_fetch_their_inbox_and_ack(hub, agencies, bma, clock):
    mwa = agencies.enrol(
        "mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"], mode="pull"
    )
    for i in range(4):
        bma.client.send("complaint.submit", water(i))
    waiting = mwa.client.pull()
    assert len(waiting) == 4
    results = mwa.client.ack(waiting[:3])
    assert [r["status"] for r in results] == [200, 200, 200]
    assert [m["message_id"] for m in mwa.client.pull()] == [waiting[3]["message_id"]]
    assert mwa.client.ack(waiting[:1])[0]["status"] == 200  # a repeated ack is harmless
    assert states(hub) == {"delivered": 3, "pending": 1}


def test_an_agency_cannot_ack_another_agencys_delivery(hub, agencies, bma):
    mwa = agencies.enrol("mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"])
    other = agencies.enrol("mea", kind="state_enterprise")
    bma.client.send("complaint.submit", water(0))
    waiting = mwa.client.pull()
    forged = other.client.ack(waiting)
    assert forged[0]["status"] == 404  # not yours: as if it did not exist
    assert states(hub) == {"pending": 1}


def test_an_agency_offered_a_case_by_a_forward_gets_the_signed_complaints_with_it(
    hub, agencies, bma, mwa, http
):
    """The forward to a new owner carries what it must act on: each complaint of the case,
    the exact JWS the origin signed, verified by the receiver like the forward itself."""
    rid = agencies.enrol("rid", kind="ministry", areas=["50"], categories=["irrigation"])
    with SimulatedAgency(rid.client) as rid_sim:
        agencies.set_endpoint("rid", rid_sim.url)
        submitted = bma.client.envelope("complaint.submit", water(0))
        case_id = bma.client.send_jws(submitted).case_id
        assert deliver_due(hub, "mwa", http=http, tuning=FAST) == 1
        assert mwa.received[0].complaints == ()  # the complaint itself: nothing to attach
        mwa.client.send("case.accept", {"case_id": case_id})
        mwa.client.send("case.forward", {"case_id": case_id, "to": "rid", "reason": "คลองส่งน้ำ"})
        assert deliver_due(hub, "rid", http=http, tuning=FAST) == 1
        got = rid_sim.received[0]
        assert got.origin["type"] == "case.forward" and got.case_id == case_id
        assert [c["id"] for c in got.complaints] == [
            json.loads(parse_compact(submitted).payload)["id"]
        ]
        assert got.forward["body"]["complaints"] == [submitted]  # the exact bytes
        assert schema.validate("hub.forward", got.forward["body"]) == []


def test_one_request_of_mixed_acks_answers_each_and_records_only_the_good(hub, agencies, bma):
    """The acks of one round are checked one by one before anything is written: a forged,
    garbled or wrong-bytes ack is refused with its own problem and changes nothing, a
    repeat in the same round is harmless, and every good ack is logged once."""
    mwa = agencies.enrol(
        "mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"], mode="pull"
    )
    other = agencies.enrol("mea", kind="state_enterprise")
    for i in range(3):
        bma.client.send("complaint.submit", water(i))
    waiting = mwa.client.pull()
    good = [
        mwa.client.envelope("delivery.ack", _ack_body(f), id=f"ack:{i}")
        for i, f in enumerate(waiting)
    ]
    wrong_bytes = mwa.client.envelope(
        "delivery.ack", {"message_id": waiting[2]["message_id"], "payload_sha256": "0" * 64}
    )
    forged = other.client.envelope("delivery.ack", _ack_body(waiting[2]))
    head, body, _ = good[2].split(".")
    tampered = ".".join([head, body, good[1].split(".")[2]])  # another ack's signature
    with hub.transaction() as s:
        leaves_before = translog.size(s)
    answer = mwa.client.post(
        "/v1/inbox/acks",
        [good[0], wrong_bytes, tampered, good[1], good[0], forged],
    )
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == [200, 409, 401, 200, 200, 403]
    assert answer["results"][2]["problem"]["type"].endswith("/bad-signature")
    assert [r["index"] for r in answer["results"]] == list(range(6))
    assert states(hub) == {"delivered": 2, "pending": 1}
    with hub.transaction() as s:
        acks = s.scalars(select(Envelope).where(Envelope.type == "delivery.ack")).all()
        assert sorted(a.message_id for a in acks) == ["ack:0", "ack:1"]  # logged once each
        assert all(a.log_index is not None for a in acks)
        assert translog.size(s) == leaves_before + 2
        third = s.scalars(
            select(Delivery).where(Delivery.forward_id == waiting[2]["message_id"])
        ).one()
        assert third.state == "pending" and third.ack_envelope_id is None


def _ack_body(forward: dict[str, str]) -> dict[str, str]:
    payload = parse_compact(forward["jws"]).payload
    return {
        "message_id": forward["message_id"],
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }

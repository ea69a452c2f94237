"""hub.caseflow on a real database: the rows a case leaves behind at each step.

Cases are opened and moved by calling ``caseflow`` directly inside ``hub.transaction()``
with hand-made envelope rows (the caller of caseflow owns the transaction); duplicates are
submitted through the real API, since joining a case is intake's decision.
"""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub import caseflow, sla
from hub.exchange.handlers import Context, _complaint
from hub.models import Case, CaseEvent, CaseParty, Complaint, Delivery, Envelope, Handoff
from tests.support.envelopes import traffy_complaint

PAIRS = Path(__file__).parents[1] / "fixtures" / "duplicates" / "pairs.jsonl"
_ids = count(1)


@pytest.fixture
def world(agencies) -> dict[str, Any]:
    return {
        "traffy": agencies.enrol("traffy", areas=[]),
        "krathum": agencies.enrol("krathum", areas=["100301"]),
        "nongchok": agencies.enrol("nongchok", areas=["1003"]),
        "bma": agencies.enrol("bma", areas=["10"]),
        "mea": agencies.enrol("mea", kind="state_enterprise", areas=[]),
        "opm1111": agencies.enrol(
            "opm1111", kind="hotline", areas=[], roles=["submit", "receive", "oversight"]
        ),
    }


def ctx(hub) -> caseflow.Ctx:
    return caseflow.Ctx(hub.now(), hub.signer)


def envelope(s, issuer: str, type: str, now) -> Envelope:
    n = next(_ids)
    env = Envelope(
        issuer=issuer,
        message_id=f"{issuer}-msg-{n}",
        type=type,
        audience="hub",
        kid=f"{issuer}/k",
        jws=f"e30.e30.sig{n}".encode(),
        payload_sha256="0" * 64,
        jws_sha256=f"{n:064d}",
        issued_at=now,
        received_at=now,
    )
    s.add(env)
    s.flush()
    return env


def road(ref: str, *, origin: str = "traffy", **extra: Any) -> dict[str, Any]:
    body = traffy_complaint(0)  # กระทุ่มราย (100301), เขตหนองจอก, Bangkok
    body["category"] = "road"
    body["origin"] = {"agency": origin, "system": f"{origin}_sys", "ref": ref}
    body["id"] = f"{origin}:{ref}"
    body.update(extra)
    return body


def open_new(s, hub, ref: str, **extra: Any) -> tuple[Case, set[str]]:
    env = envelope(s, "traffy", "complaint.submit", hub.now())
    complaint = _complaint(env, road(ref, **extra), Context(hub.now(), hub.sealer, hub.signer))
    s.add(complaint)
    case, told = caseflow.open_case(
        s, complaint=complaint, origin="traffy", envelope=env, ctx=ctx(hub)
    )
    complaint.case_id = case.id
    s.flush()
    return case, told


def message(s, hub, case: Case, issuer: str, type: str, **body: Any) -> set[str]:
    env = envelope(s, issuer, type, hub.now())
    case_id, told = caseflow.handle_message(s, env, {"case_id": case.id, **body}, ctx(hub))
    assert case_id == case.id
    return told


def chain(s, case_id: str) -> list[tuple[str, str | None, str, str]]:
    rows = s.scalars(select(Handoff).where(Handoff.case_id == case_id).order_by(Handoff.id))
    return [(h.kind, h.from_agency, h.to_agency, h.state) for h in rows]


def roles(s, case_id: str) -> set[tuple[str, str]]:
    rows = s.scalars(select(CaseParty).where(CaseParty.case_id == case_id))
    return {(p.agency, p.role) for p in rows}


# --------------------------------------------------------------------------- SLA fields


def test_a_new_case_is_offered_with_an_accept_deadline(hub, world):
    with hub.transaction() as s:
        case, told = open_new(s, hub, "N-1")
        now = hub.now()
        assert (case.status, case.owner, case.origin_agency) == ("offered", "krathum", "traffy")
        assert told == {"krathum"}  # the origin sent it: it is not told of its own message
        assert case.opened_at == now
        assert case.accept_due == now + timedelta(hours=24)  # road, normal priority
        assert case.accept_due == now + sla.deadlines("road", "normal").accept
        assert case.accepted_at is None and case.resolve_due is None
        assert (case.province_code, case.amphoe_code, case.tambon_code) == ("10", "1003", "100301")
        assert chain(s, case.id) == [("offer", None, "krathum", "offered")]
        offer = s.scalars(select(Handoff).where(Handoff.case_id == case.id)).one()
        assert offer.due_at == case.accept_due
        assert "100301" in (offer.reason or "")
        assert roles(s, case.id) == {("traffy", "origin"), ("krathum", "owner")}
        events = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        ).all()
        assert [(e.type, e.actor, e.status_from, e.status_to, e.owner) for e in events] == [
            ("complaint.submit", "traffy", None, "received", None),
            ("hub.forward", "hub", "received", "offered", "krathum"),
        ]
        assert events[0].envelope_id is not None and events[1].envelope_id is None


def test_urgent_and_category_deadlines_are_shorter(hub, world):
    with hub.transaction() as s:
        urgent, _ = open_new(s, hub, "U-1", priority="urgent")
        assert urgent.accept_due == hub.now() + timedelta(hours=2)
        fire, _ = open_new(s, hub, "U-2", category="fire")
        assert fire.accept_due == hub.now() + timedelta(hours=1)


def test_accept_sets_accepted_at_and_the_resolve_deadline(hub, world, clock):
    with hub.transaction() as s:
        case, _ = open_new(s, hub, "A-1")
    clock.advance(hours=3)
    with hub.transaction() as s:
        case = caseflow.get_case(s, case.id)
        told = message(s, hub, case, "krathum", "case.accept")
        now = hub.now()
        assert told == {"traffy"}
        assert (case.status, case.accepted_at, case.accept_due) == ("accepted", now, None)
        assert case.resolve_due == now + timedelta(hours=360)
        offer = s.scalars(select(Handoff).where(Handoff.case_id == case.id)).one()
        assert (offer.state, offer.decided_at) == ("accepted", now)
        assert case.version == 2


# --------------------------------------------------------------------------- handoff states


def test_decline_records_the_reason_and_offers_the_next_candidate(hub, world, clock):
    with hub.transaction() as s:
        case, _ = open_new(s, hub, "D-1")
    clock.advance(hours=1)
    with hub.transaction() as s:
        case = caseflow.get_case(s, case.id)
        told = message(s, hub, case, "krathum", "case.decline", reason="ไม่ใช่เขตรับผิดชอบ")
        now = hub.now()
        assert told == {"traffy", "nongchok"}
        assert chain(s, case.id) == [
            ("offer", None, "krathum", "declined"),
            ("offer", None, "nongchok", "offered"),
        ]
        first, second = s.scalars(
            select(Handoff).where(Handoff.case_id == case.id).order_by(Handoff.id)
        ).all()
        assert (first.reason, first.decided_at) == ("ไม่ใช่เขตรับผิดชอบ", now)
        assert second.due_at == now + timedelta(hours=24) == case.accept_due
        assert (case.status, case.owner) == ("offered", "nongchok")
        assert roles(s, case.id) == {
            ("traffy", "origin"),
            ("krathum", "owner"),
            ("nongchok", "owner"),
        }
        state = caseflow.load_state(s, case)
        assert state.declined == {"krathum"} and state.origins == {"traffy"}
        # past owners still hear of the case: everyone on it but the sender
        assert message(s, hub, case, "nongchok", "case.accept") == {"traffy", "krathum"}


def test_forward_withdraws_nothing_accepted_and_offers_with_the_forward_deadline(hub, world):
    with hub.transaction() as s:
        case, _ = open_new(s, hub, "F-1")
        message(s, hub, case, "krathum", "case.accept")
        told = message(s, hub, case, "krathum", "case.forward", to="mea", reason="สายไฟ")
        assert told == {"traffy", "mea"}
        assert chain(s, case.id) == [
            ("offer", None, "krathum", "accepted"),
            ("forward", "krathum", "mea", "offered"),
        ]
        assert (case.status, case.owner) == ("offered", "mea")
        assert case.accept_due == hub.now() + sla.forward_accept()
        assert ("mea", "owner") in roles(s, case.id)


def test_escalating_an_offer_withdraws_it(hub, world):
    with hub.transaction() as s:
        case, _ = open_new(s, hub, "E-1")
        message(s, hub, case, "krathum", "case.escalate", to="opm1111", reason="เกินอำนาจ")
        states = chain(s, case.id)
        assert states[0] == ("offer", None, "krathum", "withdrawn")
        assert states[-1] == ("escalate", "krathum", "opm1111", "offered")
        assert (case.status, case.owner, case.escalation_level) == ("offered", "opm1111", 1)


def test_assist_task_is_offered_then_closed_by_the_resolution(hub, world):
    with hub.transaction() as s:
        case, _ = open_new(s, hub, "S-1")
        message(s, hub, case, "krathum", "case.accept")
        told = message(s, hub, case, "krathum", "case.assist", to="mea", task="ตัดกิ่งไม้")
        assert told == {"traffy", "mea"}
        assert ("assist", "krathum", "mea", "offered") in chain(s, case.id)
        assert ("mea", "assist") in roles(s, case.id)
        assert caseflow.load_state(s, case).assists == {"mea"}
        told = message(s, hub, case, "krathum", "case.resolve", outcome="fixed", summary="เสร็จ")
        assert told == {"traffy", "mea"}
        assert ("assist", "krathum", "mea", "closed") in chain(s, case.id)
        assert (case.status, case.outcome, case.summary) == ("resolved", "fixed", "เสร็จ")
        assert case.resolved_at == hub.now()
        assert caseflow.load_state(s, case).resolutions == 1


# --------------------------------------------------------------------------- fan-out


def test_fan_out_reaches_everyone_on_the_case_but_the_sender(hub, world):
    with hub.transaction() as s:
        case, _ = open_new(s, hub, "O-1")
        message(s, hub, case, "krathum", "case.accept")
        message(s, hub, case, "krathum", "case.assist", to="mea", task="ช่วยดู")
        env = envelope(s, "krathum", "case.status", hub.now())
        told = caseflow.handle_message(s, env, {"case_id": case.id, "note": "คืบหน้า"}, ctx(hub))[1]
        assert told == {"traffy", "mea"}
        sent = caseflow.fan_out(
            s, envelope=env, case_id=case.id, destinations=told | {"krathum", "hub"}, ctx=ctx(hub)
        )
        assert sent == ("mea", "traffy")  # sorted; never the sender, never the hub itself
        rows = s.scalars(select(Delivery).where(Delivery.envelope_id == env.id)).all()
        assert sorted(d.destination for d in rows) == ["mea", "traffy"]
        assert {d.case_id for d in rows} == {case.id}
        assert {d.state for d in rows} == {"pending"}


# --------------------------------------------------------------------------- duplicates


def pair(pair_id: str) -> dict[str, Any]:
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        if p["id"] == pair_id:
            return p
    raise LookupError(pair_id)


def report(side: dict[str, Any], *, origin: str, ref: str, at, channel: str) -> dict[str, Any]:
    body = road(ref, origin=origin)
    body.update(
        category=side["category"],
        channel=channel,
        subject=side["text"][:200],
        description=side["text"],
        reported_at=at.isoformat().replace("+00:00", "Z"),
    )
    body["location"] = {**body["location"], "lat": side["lat"], "lon": side["lon"]}
    return body


def test_a_duplicate_report_joins_the_open_case_and_its_origin_becomes_a_party(hub, world, clock):
    p = pair("para-01")  # a 1111 operator's summary of a real Traffy pothole report
    assert p["label"] is True
    first = world["traffy"].client.send(
        "complaint.submit",
        report(p["base"], origin="traffy", ref="B-1", at=clock(), channel="traffy_fondue"),
    )
    clock.advance(hours=6)
    second = world["opm1111"].client.send(
        "complaint.submit",
        report(p["variant"], origin="opm1111", ref="V-1", at=clock(), channel="hotline_1111"),
    )
    assert second.case_id == first.case_id
    with hub.transaction() as s:
        assert s.scalar(select(Case.id).where(Case.id != first.case_id)) is None  # one case
        case = caseflow.get_case(s, first.case_id)
        assert (case.status, case.owner) == ("offered", "krathum")  # unchanged by the join
        assert roles(s, case.id) == {
            ("traffy", "origin"),
            ("opm1111", "origin"),
            ("krathum", "owner"),
        }
        complaints = s.scalars(select(Complaint).where(Complaint.case_id == case.id)).all()
        assert {c.id for c in complaints} == {"traffy:B-1", "opm1111:V-1"}
        assert len({c.tracking_code for c in complaints}) == 2
        join = s.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.type == "complaint.join"
            )
        ).one()
        assert (join.actor, join.data) == ("opm1111", {"complaint": "opm1111:V-1"})
        assert join.status_from == join.status_to == "offered"
        told = set(
            s.scalars(
                select(Delivery.destination)
                .join(Envelope, Envelope.id == Delivery.envelope_id)
                .where(Envelope.message_id == second.message_id)
            )
        )
        assert told == {"traffy", "krathum"}
        # from now on the new origin hears of the case too
        env = envelope(s, "krathum", "case.accept", hub.now())
        assert caseflow.handle_message(s, env, {"case_id": case.id}, ctx(hub))[1] == {
            "traffy",
            "opm1111",
        }


def test_the_same_words_far_away_or_after_resolution_open_a_new_case(hub, world, clock):
    far = pair("far-00")
    assert far["label"] is False
    traffy, hotline = world["traffy"], world["opm1111"]
    base = traffy.client.send(
        "complaint.submit",
        report(far["base"], origin="traffy", ref="B-2", at=clock(), channel="traffy_fondue"),
    )
    away = hotline.client.send(
        "complaint.submit",
        report(far["variant"], origin="opm1111", ref="V-2", at=clock(), channel="hotline_1111"),
    )
    assert away.case_id != base.case_id
    # the same report again, once the first case is resolved, is a new case
    world["krathum"].client.send(
        "case.resolve", {"case_id": base.case_id, "outcome": "fixed", "summary": "ซ่อมแล้ว"}
    )
    again = hotline.client.send(
        "complaint.submit",
        report(far["base"], origin="opm1111", ref="V-3", at=clock(), channel="hotline_1111"),
    )
    assert again.case_id not in (base.case_id, away.case_id)
    with hub.transaction() as s:
        assert ("opm1111", "origin") not in roles(s, base.case_id)

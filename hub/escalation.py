"""SLA breaches: offers nobody accepted in time, cases nobody resolved in time.

Run periodically (``hub serve`` and ``hub worker`` start it; see ``hub.background``):

* an offer that came from a ``case.forward`` and was not accepted in time returns to the
  agency that forwarded it (``hub.expire``, then a ``return`` offer);
* any other offer not accepted in time, or a case not resolved in time, is a breach: it is
  marked, and the hub signs a ``case.escalate`` to the supervising agency (the provincial
  Damrongdhama centre, then 1111), which is offered the case. The escalation is an envelope
  like any other: stored, logged, and delivered to everyone on the case.

Rows are locked (``SKIP LOCKED`` on PostgreSQL), so several processes may run this at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import caseflow, cases, ids, routing, sla
from hub.cases import HUB, Event
from hub.exchange import translog
from hub.exchange.canonical import sha256_hex
from hub.exchange.hubkey import HubSigner
from hub.exchange.jws import ENVELOPE_TYP, parse_compact
from hub.models import Case, Envelope, Handoff


def check(session: Session, *, now: datetime, signer: HubSigner, limit: int = 200) -> list[str]:
    """Handle every due breach (up to ``limit``); returns the case ids acted on."""
    ctx = caseflow.Ctx(now, signer)
    acted: list[str] = []
    late_offers = session.scalars(
        select(Handoff)
        .where(Handoff.state == "offered", Handoff.kind != "assist", Handoff.due_at < now)
        .order_by(Handoff.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for offer in late_offers:
        case = caseflow.get_case(session, offer.case_id, lock=True)
        if case.status != "offered" or case.owner != offer.to_agency:
            offer.state = "superseded"
            continue
        if offer.kind == "forward" and offer.from_agency:
            _return(session, case, offer, ctx)
        else:
            case.accept_breached_at = case.accept_breached_at or now
            _escalate(session, case, "accept", ctx)
        acted.append(case.id)
    late_cases = session.scalars(
        select(Case)
        .where(
            Case.status.in_(("accepted", "in_progress")),
            Case.resolve_due < now,
            Case.resolve_breached_at.is_(None),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for case in late_cases:
        case.resolve_breached_at = now
        _escalate(session, case, "resolve", ctx)
        acted.append(case.id)
    return acted


def _return(session: Session, case: Case, offer: Handoff, ctx: caseflow.Ctx) -> None:
    state = caseflow.load_state(session, case)
    expired = cases.apply(state, Event("hub.expire", HUB))
    offer.state, offer.decided_at = "expired", ctx.now
    back = cases.apply(expired, Event("hub.forward", HUB, to=offer.from_agency))
    session.add(
        Handoff(
            case_id=case.id,
            kind="return",
            from_agency=offer.to_agency,
            to_agency=offer.from_agency or "",
            reason="forward not accepted in time",
            state="offered",
            created_at=ctx.now,
            due_at=ctx.now + sla.forward_accept(),
        )
    )
    case.status, case.owner, case.updated_at = back.status, back.owner, ctx.now
    caseflow.record_hub_event(
        session,
        case,
        "hub.expire",
        state.status,
        back.status,
        {"reason": "forward not accepted in time", "to": offer.from_agency},
        ctx.now,
    )


def _escalate(session: Session, case: Case, what: str, ctx: caseflow.Ctx) -> None:
    supervisor = routing.supervisor(
        session, case.province_code, amphoe=case.amphoe_code, owner=case.owner
    )
    if supervisor is None:
        return  # nobody above: the breach stays marked and queryable
    reason = f"{what} deadline passed ({'accept' if what == 'accept' else 'resolve'} SLA breached)"
    envelope = hub_message(
        session,
        "case.escalate",
        {"case_id": case.id, "to": supervisor, "reason": reason},
        audience=supervisor,
        ctx=ctx,
    )
    envelope.case_id = case.id
    state = caseflow.load_state(session, case)
    new = cases.apply(state, Event("case.escalate", HUB, to=supervisor))
    body = {"case_id": case.id, "to": supervisor, "reason": reason}
    caseflow.record(
        session, case, state, new, Event("case.escalate", HUB, to=supervisor), envelope, body, ctx
    )
    caseflow.settle_case(session, case, new, envelope, ctx, kind="escalate")
    caseflow.party(session, case.id, supervisor, "supervisor", ctx.now)
    told = caseflow.parties(session, case.id)
    caseflow.fan_out(session, envelope=envelope, case_id=case.id, destinations=told, ctx=ctx)


def hub_message(
    session: Session, type_: str, body: dict[str, object], *, audience: str, ctx: caseflow.Ctx
) -> Envelope:
    """An envelope the hub itself issues: signed, stored and logged like any other."""
    message_id = f"hub:{ids.ulid().lower()}"
    payload = {
        "type": type_,
        "id": message_id,
        "issued_at": _iso(ctx.now),
        "issuer": HUB,
        "audience": audience,
        "body": body,
    }
    jws = ctx.signer.sign_json(payload, typ=ENVELOPE_TYP).encode("ascii")
    envelope = Envelope(
        issuer=HUB,
        message_id=message_id,
        type=type_,
        audience=audience,
        kid=ctx.signer.current.kid,
        jws=jws,
        payload_sha256=sha256_hex(parse_compact(jws.decode()).payload),
        jws_sha256=sha256_hex(jws),
        issued_at=ctx.now,
        received_at=ctx.now,
    )
    session.add(envelope)
    session.flush()
    translog.enqueue_envelope(session, envelope)
    return envelope


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")

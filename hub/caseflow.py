"""Cases in the database: messages change them, the hub settles them, everyone hears.

Each function runs inside the message's transaction (the caller commits). The pure rules
are in ``hub.cases``; this module loads a case's state from its rows, records what changed
(status, handoffs, parties, a timeline event per step) and fans the change out through the
outbox to every agency on the case — owners past and present, assisting agencies,
supervisors and the origin of every complaint — except the one that sent it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import cases, routing, sla
from hub.cases import HUB, Event, State
from hub.errors import Conflict, FieldError, NotFound, RequestInvalid
from hub.exchange import outbox
from hub.exchange.hubkey import HubSigner
from hub.models import Case, CaseEvent, CaseParty, Complaint, Envelope, Handoff

OFFER_KIND = {"case.forward": "forward", "case.escalate": "escalate"}
"""How the hub's offer after a message is recorded in the handoff chain (else ``offer``)."""
PUBLIC_FIELDS = ("reason", "note", "outcome", "summary", "to", "task", "into", "duplicate_of")


@dataclass(frozen=True, slots=True)
class Ctx:
    now: datetime
    signer: HubSigner


def get_case(session: Session, case_id: str, *, lock: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    case = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


def load_state(session: Session, case: Case) -> State:
    parties = session.scalars(select(CaseParty).where(CaseParty.case_id == case.id)).all()
    handoffs = session.scalars(
        select(Handoff).where(Handoff.case_id == case.id).order_by(Handoff.id)
    ).all()
    moves = [h for h in handoffs if h.kind in ("forward", "escalate")]
    previous = moves[-1].from_agency if moves else None
    if case.status == "merged":  # who merged it may unmerge it
        previous = session.scalar(
            select(CaseEvent.actor)
            .where(CaseEvent.case_id == case.id, CaseEvent.type == "case.merge")
            .order_by(CaseEvent.id.desc())
            .limit(1)
        )
    return State(
        status=case.status,
        owner=case.owner,
        origins=frozenset(p.agency for p in parties if p.role == "origin"),
        declined=frozenset(h.to_agency for h in handoffs if h.state == "declined"),
        assists=frozenset(
            h.to_agency for h in handoffs if h.kind == "assist" and h.state == "offered"
        ),
        resolutions=1 if case.status in ("resolved", "closed") else 0,
        previous_owner=previous,
        escalations=case.escalation_level,
    )


# --------------------------------------------------------------------------- new cases


def open_case(
    session: Session, *, complaint: Complaint, origin: str, envelope: Envelope, ctx: Ctx
) -> tuple[Case, set[str]]:
    """A new case for a new complaint, routed and offered in the same transaction."""
    from hub import ids

    d = sla.deadlines(complaint.category, complaint.priority)
    case = Case(
        id=ids.case_id(),
        status="received",
        owner=None,
        category=complaint.category,
        province_code=complaint.province_code,
        amphoe_code=complaint.amphoe_code,
        tambon_code=complaint.tambon_code,
        lat=complaint.lat,
        lon=complaint.lon,
        priority=complaint.priority,
        origin_agency=origin,
        opened_at=ctx.now,
        updated_at=ctx.now,
    )
    session.add(case)
    session.info.setdefault("caseflow.new_cases", set()).add(case.id)
    party(session, case.id, origin, "origin", ctx.now)
    _event(
        session, case, Event("complaint.submit", origin), None, "received", envelope, {}, ctx.now
    )
    state = State(origins=frozenset({origin}))
    destinations = settle_case(session, case, state, envelope, ctx, initial=True)
    case.accept_due = ctx.now + d.accept if case.owner else None
    return case, destinations - {origin}


def join_case(
    session: Session, case: Case, *, complaint: Complaint, origin: str, envelope: Envelope, ctx: Ctx
) -> set[str]:
    """A complaint about a problem the case already holds: its origin joins the case."""
    party(session, case.id, origin, "origin", ctx.now)
    _event(
        session,
        case,
        Event("complaint.join", origin),
        case.status,
        case.status,
        envelope,
        {"complaint": complaint.id},
        ctx.now,
    )
    case.updated_at = ctx.now
    return parties(session, case.id) - {origin}


# --------------------------------------------------------------------------- messages


def handle_message(
    session: Session, envelope: Envelope, body: dict[str, Any], ctx: Ctx
) -> tuple[str, set[str]]:
    """Apply a ``case.*`` message from an agency; returns (case id, agencies to tell)."""
    case = get_case(session, body["case_id"], lock=True)
    state = load_state(session, case)
    event = Event(envelope.type, envelope.issuer, to=body.get("to"), extra=body)
    _preconditions(session, case, state, event, ctx)
    new = cases.apply(state, event)
    record(session, case, state, new, event, envelope, body, ctx)
    settle_case(session, case, new, envelope, ctx, kind=OFFER_KIND.get(event.type, "offer"))
    told = parties(session, case.id)
    if event.type == "case.merge":  # the surviving case's agencies hear of it too
        told |= parties(session, str(body["into"]))
    return case.id, told - {envelope.issuer}


def _preconditions(session: Session, case: Case, state: State, e: Event, ctx: Ctx) -> None:
    if e.type in ("case.forward", "case.assist", "case.escalate") and e.to:
        from hub.models import Agency

        agency = session.get(Agency, e.to)
        if agency is None or not agency.active or "receive" not in agency.roles:
            raise RequestInvalid(
                f"{e.to!r} cannot receive cases", errors=[FieldError("/body/to", "unknown agency")]
            )
    late = case.resolved_at is not None and ctx.now - case.resolved_at > sla.reopen_window()
    if e.type == "case.reopen" and late:
        raise Conflict(f"the reopen window of {sla.reopen_window().days} days has passed")
    if e.type == "case.merge":
        into = e.extra.get("into")
        target = session.get(Case, into) if isinstance(into, str) else None
        if target is None or into == case.id or target.status in cases.CLOSED:
            raise RequestInvalid(
                "merge needs another open case",
                errors=[FieldError("/body/into", "not an open case")],
            )


def record(
    session: Session,
    case: Case,
    old: State,
    new: State,
    e: Event,
    envelope: Envelope,
    body: dict[str, Any],
    ctx: Ctx,
) -> None:
    now, pending = ctx.now, _pending_offer(session, case.id)
    if e.type == "case.accept" and pending is not None:
        pending.state, pending.decided_at = "accepted", now
        case.accepted_at = now
        case.resolve_due = now + sla.deadlines(case.category, case.priority).resolve
        case.accept_due = None
    elif e.type in ("case.decline", "hub.expire") and pending is not None:
        pending.state, pending.decided_at = (
            ("declined" if e.type == "case.decline" else "expired"),
            now,
        )
        pending.reason = body.get("reason") or pending.reason
    elif e.type == "case.assist":
        session.add(
            Handoff(
                case_id=case.id,
                kind="assist",
                from_agency=e.actor,
                to_agency=e.to or "",
                reason=body.get("task"),
                state="offered",
                envelope_id=envelope.id,
                created_at=now,
            )
        )
        party(session, case.id, e.to or "", "assist", now)
    elif e.type == "case.resolve":
        case.outcome, case.summary, case.resolved_at = body["outcome"], body["summary"], now
        session.execute(
            update(Handoff)
            .where(Handoff.case_id == case.id, Handoff.kind == "assist", Handoff.state == "offered")
            .values(state="closed", decided_at=now)
        )
    elif e.type == "case.reopen":
        case.reopen_count += 1
        case.resolved_at = case.outcome = case.summary = None
        session.execute(
            update(Handoff)
            .where(Handoff.case_id == case.id, Handoff.state == "declined")
            .values(state="void")
        )
    elif e.type == "case.merge":
        if pending is not None:  # nobody holds a merged case: its open offer ends here
            pending.state, pending.decided_at = "withdrawn", now
        _merge(session, case, str(body["into"]), envelope, now)
    elif e.type == "case.unmerge":
        _unmerge(session, case, now)
    elif e.type in ("case.forward", "case.escalate") and pending is not None:
        pending.state, pending.decided_at = "withdrawn", now
    if e.type == "case.escalate":
        case.escalation_level += 1
    if e.type in ("case.forward", "case.escalate"):
        case.accept_due = None
    case.status, case.owner, case.updated_at = new.status, new.owner, now
    case.version += 1
    _event(session, case, e, old.status, new.status, envelope, body, now)


def settle_case(
    session: Session,
    case: Case,
    state: State,
    envelope: Envelope | None,
    ctx: Ctx,
    *,
    initial: bool = False,
    kind: str = "offer",
) -> set[str]:
    """Route an ownerless case and offer it; record the hub's own steps on the timeline."""
    before = state
    if state.status not in ("received", "routed", "reopened", "forwarded"):
        return set()
    with session.no_autoflush:
        decision = routing.route(
            session,
            category=case.category,
            province=case.province_code,
            amphoe=case.amphoe_code,
            tambon=case.tambon_code,
            exclude=set() if initial else state.declined | state.origins,
        )
    candidates = [c.agency for c in decision.candidates]
    banned = state.declined if initial else state.declined | state.origins
    boss = routing.supervisor(session, case.province_code, amphoe=case.amphoe_code, exclude=banned)
    after = cases.settle(state, candidates, boss, initial=initial)
    if after == before:
        return set()
    due = ctx.now + (
        sla.forward_accept()
        if kind in ("forward", "return")
        else sla.deadlines(case.category, case.priority).accept
    )
    reason = decision.why if kind == "offer" else None
    session.add(
        Handoff(
            case_id=case.id,
            kind=kind,
            from_agency=before.previous_owner if kind != "offer" else None,
            to_agency=after.owner or "",
            reason=reason,
            state="offered",
            due_at=due,
            envelope_id=envelope.id if envelope else None,
            created_at=ctx.now,
        )
    )
    if after.owner:
        party(session, case.id, after.owner, "owner", ctx.now)
    case.status, case.owner, case.accept_due, case.updated_at = (
        after.status,
        after.owner,
        due,
        ctx.now,
    )
    _event(
        session,
        case,
        Event("hub.forward", HUB, to=after.owner),
        before.status,
        after.status,
        None,
        {"to": after.owner, "reason": reason or kind},
        ctx.now,
    )
    return {after.owner} if after.owner else set()


def _pending_offer(session: Session, case_id: str) -> Handoff | None:
    return session.scalars(
        select(Handoff)
        .where(Handoff.case_id == case_id, Handoff.state == "offered", Handoff.kind != "assist")
        .order_by(Handoff.id.desc())
    ).first()


def _merge(session: Session, case: Case, into: str, envelope: Envelope, now: datetime) -> None:
    moved = list(session.scalars(select(Complaint.id).where(Complaint.case_id == case.id)))
    session.execute(update(Complaint).where(Complaint.case_id == case.id).values(case_id=into))
    for p in session.scalars(
        select(CaseParty).where(CaseParty.case_id == case.id, CaseParty.role == "origin")
    ):
        party(session, into, p.agency, "origin", now)
    case.merged_into = into
    target = session.get(Case, into)
    assert target is not None
    _event(
        session,
        target,
        Event("case.merge", envelope.issuer),
        target.status,
        target.status,
        envelope,
        {"from": case.id, "complaints": moved},
        now,
    )


def _unmerge(session: Session, case: Case, now: datetime) -> None:
    """Take back exactly the complaints this case brought, and its origins with them."""
    into = case.merged_into
    merges = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == into, CaseEvent.type == "case.merge")
        .order_by(CaseEvent.id.desc())
    )
    merge = next((m for m in merges if m.data.get("from") == case.id), None)
    moved = list((merge.data if merge else {}).get("complaints", []))
    if moved:
        session.execute(update(Complaint).where(Complaint.id.in_(moved)).values(case_id=case.id))
        session.flush()
        staying = set(
            session.scalars(select(Complaint.origin_agency).where(Complaint.case_id == into))
        )
        brought = set(
            session.scalars(select(Complaint.origin_agency).where(Complaint.id.in_(moved)))
        )
        own = session.get(Case, into)
        keep = staying | ({own.origin_agency} if own and own.origin_agency else set())
        for agency in brought - keep:
            row = session.get(CaseParty, (into, agency, "origin"))
            if row is not None:
                session.delete(row)
    case.merged_into = None


# --------------------------------------------------------------------------- records


def party(session: Session, case_id: str, agency: str, role: str, now: datetime) -> None:
    """Add an agency to a case once. Keys added in this transaction are remembered so a
    second add costs no query and never trips the primary key."""
    seen: set[tuple[str, str, str]] = session.info.setdefault("caseflow.parties", set())
    key = (case_id, agency, role)
    if key in seen:
        return
    seen.add(key)
    fresh = session.info.setdefault("caseflow.new_cases", set())
    if case_id in fresh or session.get(CaseParty, key) is None:
        session.add(CaseParty(case_id=case_id, agency=agency, role=role, since=now))


def forget(session: Session) -> None:
    """Drop this module's per-transaction memory after a savepoint rolled back."""
    session.info.pop("caseflow.parties", None)
    session.info.pop("caseflow.new_cases", None)


def parties(session: Session, case_id: str) -> set[str]:
    return set(session.scalars(select(CaseParty.agency).where(CaseParty.case_id == case_id))) - {
        HUB
    }


def _event(
    session: Session,
    case: Case,
    e: Event,
    status_from: str | None,
    status_to: str,
    envelope: Envelope | None,
    data: dict[str, Any],
    now: datetime,
) -> None:
    public = {
        k: v
        for k, v in data.items()
        if k in PUBLIC_FIELDS or k in ("complaint", "from", "complaints")
    }
    session.add(
        CaseEvent(
            case_id=case.id,
            type=e.type,
            actor=e.actor,
            status_from=status_from,
            status_to=status_to,
            owner=case.owner,
            data=public,
            envelope_id=envelope.id if envelope else None,
            created_at=now,
        )
    )


def fan_out(
    session: Session, *, envelope: Envelope, case_id: str, destinations: Iterable[str], ctx: Ctx
) -> tuple[str, ...]:
    """A hub-signed forward of ``envelope`` to each destination, through the outbox."""
    sent = []
    reg = routing.snapshot(session)
    offered = _offered_to(session, case_id) if envelope.type != "complaint.submit" else None
    for agency in sorted(set(destinations) - {envelope.issuer, HUB}):
        if reg.kind_of(agency) == "hub":
            continue  # hub-operated agencies (the Open311 facade's) read cases through the API
        outbox.forward(
            session,
            original=envelope,
            destination=agency,
            case_id=case_id,
            reason=envelope.type,
            signer=ctx.signer,
            now=ctx.now,
            complaints=complaint_envelopes(session, case_id) if agency == offered else (),
        )
        sent.append(agency)
    return tuple(sent)


MAX_ATTACHED = 50
"""Complaints attached to an offer at most (the oldest; the schema's ``maxItems``)."""


def _offered_to(session: Session, case_id: str) -> str | None:
    """The agency the case waits on to accept, if it is on offer."""
    case = session.get(Case, case_id)
    return case.owner if case is not None and case.status == "offered" else None


def complaint_envelopes(session: Session, case_id: str) -> list[bytes]:
    """The exact JWS of each complaint on the case, oldest first."""
    rows = session.scalars(
        select(Envelope.jws)
        .join(Complaint, Complaint.envelope_id == Envelope.id)
        .where(Complaint.case_id == case_id)
        .order_by(Complaint.created_at, Complaint.id)
        .limit(MAX_ATTACHED)
    )
    return list(rows)


def record_hub_event(
    session: Session,
    case: Case,
    type_: str,
    status_from: str,
    status_to: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """A step the hub took on its own (expiry, return), on the case's timeline."""
    _event(session, case, Event(type_, HUB), status_from, status_to, None, data, now)

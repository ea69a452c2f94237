"""Reading cases: what each kind of reader may see.

Agencies on a case see it whole; oversight bodies and hub admins see every case with free
text scrubbed of personal data; nobody else sees a case at all. Personal data (the sealed
reporter contact) never appears in any view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub import vocab
from hub.errors import Forbidden, NotFound
from hub.exchange.tokens import Principal
from hub.models import Agency, Case, CaseEvent, CaseParty, Complaint, Envelope, Handoff
from hub.privacy import scrub


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def _redacted(principal: Principal) -> bool:
    return principal.has("oversight") or principal.has("admin")


def can_read(session: Session, principal: Principal, case_id: str) -> bool:
    on_case = session.get(CaseParty, (case_id, principal.agency, "origin")) or session.scalar(
        select(CaseParty.agency).where(
            CaseParty.case_id == case_id, CaseParty.agency == principal.agency
        )
    )
    return bool(on_case) or _redacted(principal)


def case_view(session: Session, principal: Principal, case_id: str) -> dict[str, Any]:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    if not can_read(session, principal, case_id):
        raise Forbidden("only agencies on the case, oversight bodies and hub admins read it")
    on_case = bool(
        session.scalar(
            select(CaseParty.agency).where(
                CaseParty.case_id == case_id, CaseParty.agency == principal.agency
            )
        )
    )
    clean = (lambda t: t) if on_case else scrub
    complaints = session.scalars(
        select(Complaint).where(Complaint.case_id == case_id).order_by(Complaint.reported_at)
    )
    handoffs = session.scalars(
        select(Handoff).where(Handoff.case_id == case_id).order_by(Handoff.id)
    )
    parties = session.scalars(
        select(CaseParty).where(CaseParty.case_id == case_id).order_by(CaseParty.since)
    )
    return {
        "id": case.id,
        "status": case.status,
        "owner": case.owner,
        "category": case.category,
        "priority": case.priority,
        "province_code": case.province_code,
        "opened_at": _iso(case.opened_at),
        "updated_at": _iso(case.updated_at),
        "resolved_at": _iso(case.resolved_at),
        "outcome": case.outcome,
        "summary": clean(case.summary),
        "merged_into": case.merged_into,
        "complaints": [
            {
                "id": c.id,
                "origin_agency": c.origin_agency,
                "channel": c.channel,
                "subject": clean(c.subject) or "",
                "reported_at": _iso(c.reported_at),
                **({"tracking_code": c.tracking_code} if on_case else {}),
            }
            for c in complaints
        ],
        "handoffs": [
            {
                "kind": h.kind,
                "from": h.from_agency,
                "to": h.to_agency,
                "state": h.state,
                "reason": clean(h.reason),
                "at": _iso(h.created_at),
                "decided_at": _iso(h.decided_at),
                "due_at": _iso(h.due_at),
            }
            for h in handoffs
        ],
        "parties": [{"agency": p.agency, "role": p.role} for p in parties],
        "sla": {
            "accept_due": _iso(case.accept_due),
            "resolve_due": _iso(case.resolve_due),
            "accept_breached_at": _iso(case.accept_breached_at),
            "resolve_breached_at": _iso(case.resolve_breached_at),
            "escalation_level": case.escalation_level,
        },
    }


def timeline(session: Session, principal: Principal, case_id: str) -> list[dict[str, Any]]:
    if session.get(Case, case_id) is None:
        raise NotFound(f"no case {case_id!r}")
    if not can_read(session, principal, case_id):
        raise Forbidden("only agencies on the case, oversight bodies and hub admins read it")
    on_case = bool(
        session.scalar(
            select(CaseParty.agency).where(
                CaseParty.case_id == case_id, CaseParty.agency == principal.agency
            )
        )
    )
    rows = session.execute(
        select(CaseEvent, Envelope.message_id, Envelope.log_index)
        .outerjoin(Envelope, Envelope.id == CaseEvent.envelope_id)
        .where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.id)
    ).all()
    return [
        {
            "type": e.type,
            "actor": e.actor,
            "status_from": e.status_from,
            "status_to": e.status_to,
            "owner": e.owner,
            "data": e.data
            if on_case
            else {k: scrub(v) if isinstance(v, str) else v for k, v in e.data.items()},
            "message_id": mid,
            "log_index": idx,
            "at": _iso(e.created_at),
        }
        for e, mid, idx in rows
    ]


def list_cases(
    session: Session,
    principal: Principal,
    *,
    status: str | None,
    owner: str | None,
    breached: bool | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    stmt = select(Case).order_by(Case.id).limit(limit)
    if not _redacted(principal):
        stmt = stmt.where(
            Case.id.in_(select(CaseParty.case_id).where(CaseParty.agency == principal.agency))
        )
    if status:
        stmt = stmt.where(Case.status == status)
    if owner:
        stmt = stmt.where(Case.owner == owner)
    if breached is not None:
        hit = or_(Case.accept_breached_at.is_not(None), Case.resolve_breached_at.is_not(None))
        stmt = stmt.where(hit if breached else ~hit)
    if after:
        stmt = stmt.where(Case.id > after)
    return [case_view(session, principal, c.id) for c in session.scalars(stmt)]


def track(session: Session, code: str) -> dict[str, Any]:
    """What a citizen may see by tracking code: status and the public steps, no names."""
    complaint = session.scalars(select(Complaint).where(Complaint.tracking_code == code)).first()
    if complaint is None or complaint.case_id is None:
        raise NotFound("no complaint with that tracking code")
    case = session.get(Case, complaint.case_id)
    assert case is not None
    while case.merged_into:  # follow a merge to the case that carries on
        nxt = session.get(Case, case.merged_into)
        if nxt is None:
            break
        case = nxt
    owner = session.get(Agency, case.owner) if case.owner else None
    status = vocab.statuses().get(case.status)
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    )
    return {
        "tracking_code": code,
        "status": case.status,
        "status_th": status.th if status else case.status,
        "category": case.category,
        "owner": case.owner,
        "owner_name_th": owner.name_th if owner else None,
        "outcome": case.outcome,
        "updated_at": _iso(case.updated_at),
        "timeline": [
            {
                "at": _iso(e.created_at),
                "status": e.status_to,
                "event": e.type,
                "agency": e.actor if e.actor != "hub" else None,
            }
            for e in events
        ],
    }

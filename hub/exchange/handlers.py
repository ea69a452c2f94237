"""What an accepted message changes, by message type. Each returns the case id it touched.

Only ``complaint.submit`` is handled so far; case messages (accept, decline, forward, ...)
arrive with the case state machine (issue 5) and are refused until then rather than stored
without effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import ids
from hub.exchange import outbox
from hub.exchange.hubkey import HubSigner
from hub.models import Case, Complaint, Envelope, Handoff
from hub.personal import Sealer
from hub.routing import route


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use besides the session: time, the sealer, the hub's signer."""

    now: datetime
    sealer: Sealer
    signer: HubSigner


@dataclass(frozen=True, slots=True)
class Effect:
    """The case a message touched and the agencies now owed a delivery (after commit)."""

    case_id: str | None
    destinations: tuple[str, ...] = ()


Handler = Callable[[Session, Envelope, dict[str, Any], Context], Effect]


def submit_complaint(
    session: Session, envelope: Envelope, body: dict[str, Any], ctx: Context
) -> Effect:
    """Store the complaint (once per origin record) and open a case routed to an agency.

    A complaint whose origin record is already known joins the existing case: re-sending a
    record under a new message id never creates a second case.
    """
    now = ctx.now
    origin = body["origin"]
    existing = session.scalars(
        select(Complaint).where(
            Complaint.origin_system == origin["system"], Complaint.origin_ref == origin["ref"]
        )
    ).first()
    if existing is not None:
        return Effect(existing.case_id)
    location = body.get("location") or {}
    decision = route(
        session,
        category=body["category"],
        province=location.get("province_code"),
        amphoe=location.get("amphoe_code"),
        tambon=location.get("tambon_code"),
        exclude=(),
    )
    case = Case(
        id=ids.case_id(),
        status="offered" if decision.agency else "received",
        owner=decision.agency,
        category=body["category"],
        province_code=location.get("province_code"),
        opened_at=now,
        updated_at=now,
    )
    session.add(case)
    complaint_id = body.get("id") or f"{origin['system']}:{origin['ref']}"
    reporter = body.get("reporter") or {}
    record = {k: v for k, v in body.items() if k != "reporter"}
    record["reporter"] = {"anonymous": reporter.get("anonymous", True)}
    session.add(
        Complaint(
            id=complaint_id,
            origin_agency=origin["agency"],
            origin_system=origin["system"],
            origin_ref=origin["ref"],
            channel=body["channel"],
            category=body["category"],
            subject=body.get("subject", ""),
            description=body.get("description", ""),
            lat=location.get("lat"),
            lon=location.get("lon"),
            province_code=location.get("province_code"),
            amphoe_code=location.get("amphoe_code"),
            tambon_code=location.get("tambon_code"),
            reported_at=datetime.fromisoformat(body["reported_at"].replace("Z", "+00:00")),
            priority=body.get("priority", "normal"),
            language=body.get("language", "th"),
            record=record,
            personal=_seal(ctx.sealer, reporter.get("contact"), complaint_id),
            case_id=case.id,
            envelope_id=envelope.id,
            tracking_code=ids.tracking_code(),
            created_at=now,
        )
    )
    if decision.agency is None:
        return Effect(case.id)
    session.add(
        Handoff(
            case_id=case.id,
            kind="offer",
            from_agency=None,
            to_agency=decision.agency,
            reason=decision.why,
            state="offered",
            envelope_id=envelope.id,
            created_at=now,
        )
    )
    if decision.agency == envelope.issuer:
        return Effect(case.id)  # the origin holds the record already
    outbox.forward(
        session,
        original=envelope,
        destination=decision.agency,
        case_id=case.id,
        reason=f"offer: {decision.why}",
        signer=ctx.signer,
        now=now,
    )
    return Effect(case.id, (decision.agency,))


def _seal(sealer: Sealer, contact: Any, complaint_id: str) -> bytes | None:
    return sealer.seal(contact, bound_to=complaint_id) if contact else None


HANDLED: dict[str, Handler] = {"complaint.submit": submit_complaint}

"""What an accepted message changes, by message type.

Each handler runs inside the intake transaction and returns an :class:`Effect`: the case it
touched and the agencies owed a delivery (woken after commit). Case rules live in
``hub.cases`` (pure) and ``hub.caseflow`` (rows); this module only dispatches.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, tuple_
from sqlalchemy.orm import Session

from hub import caseflow, ids
from hub.exchange.envelopes import LOOKUP_CHUNK, Verified
from hub.exchange.hubkey import HubSigner
from hub.matching import (
    Candidate,
    Probe,
    candidates_many,
    case_text,
    find_duplicate,
    open_statuses,
)
from hub.models import Case, Complaint, Envelope
from hub.personal import Sealer


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use besides the session: time, the sealer, the hub's signer."""

    now: datetime
    sealer: Sealer
    signer: HubSigner

    def flow(self) -> caseflow.Ctx:
        return caseflow.Ctx(self.now, self.signer)


@dataclass(frozen=True, slots=True)
class Effect:
    """The case a message touched and the agencies now owed a delivery (after commit)."""

    case_id: str | None
    destinations: tuple[str, ...] = ()


Handler = Callable[[Session, Envelope, dict[str, Any], Context], Effect]


def submit_complaint(
    session: Session, envelope: Envelope, body: dict[str, Any], ctx: Context
) -> Effect:
    """Store the complaint once per origin record; open a case, or join a matching one.

    Re-sending a known origin record under a new message id changes nothing and answers
    with its case. A complaint about a problem an open case already holds (a duplicate
    report, perhaps from another channel) joins that case instead of opening another.
    """
    origin = body["origin"]
    origin_key = (origin["system"], origin["ref"])
    memo: BatchMemo | None = session.info.get(BATCH_MEMO)
    if memo is not None:
        if origin_key in memo.known:
            return Effect(memo.known[origin_key])
    else:
        known = session.execute(
            select(Complaint.case_id).where(
                Complaint.origin_system == origin["system"], Complaint.origin_ref == origin["ref"]
            )
        ).first()
        if known is not None:
            return Effect(known.case_id)
    complaint = _complaint(envelope, body, ctx)
    with session.no_autoflush:
        duplicate_of = (
            _duplicate(session, complaint, memo.new_cases, memo.prefetched(session, origin_key))
            if memo is not None
            else _duplicate(session, complaint)
        )
    flow = ctx.flow()
    if duplicate_of is not None:
        if memo is not None:
            session.flush()  # joining reads the case's rows, some perhaps still unwritten
        case = caseflow.get_case(session, duplicate_of, lock=True)
        complaint.case_id = case.id
        session.add(complaint)
        told = caseflow.join_case(
            session, case, complaint=complaint, origin=envelope.issuer, envelope=envelope, ctx=flow
        )
    else:
        case, told = caseflow.open_case(
            session, complaint=complaint, origin=envelope.issuer, envelope=envelope, ctx=flow
        )
        complaint.case_id = case.id
        session.add(complaint)
        if memo is not None:
            memo.opened(case, complaint)
    if memo is not None:
        memo.known[origin_key] = case.id
    sent = caseflow.fan_out(
        session, envelope=envelope, case_id=case.id, destinations=told, ctx=ctx.flow()
    )
    return Effect(case.id, sent)


BATCH_MEMO = "intake.batch"
"""``session.info`` key of the :class:`BatchMemo` a staged batch keeps while it stores."""


@dataclass
class BatchMemo:
    """What a batch knows that its unwritten rows cannot yet tell a query.

    A staged batch writes its rows only at commit, so a query cannot see the complaints and
    cases stored by the batch's earlier items. ``known`` maps every origin record of the
    batch to its case — looked up in one query beforehand, then kept current — and
    ``new_cases`` lists the cases the batch opened, so a duplicate report later in the same
    batch still finds them.
    """

    known: dict[tuple[str, str], str | None] = field(default_factory=dict)
    new_cases: list[Candidate] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    candidates: dict[Hashable, list[Candidate]] = field(default_factory=dict)
    flushes: int = -1

    @classmethod
    def prefetch(cls, session: Session, verified: Sequence[Verified]) -> BatchMemo:
        keys = sorted({(v.body["origin"]["system"], v.body["origin"]["ref"]) for v in verified})
        memo = cls()
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            rows = session.execute(
                select(Complaint.origin_system, Complaint.origin_ref, Complaint.case_id).where(
                    tuple_(Complaint.origin_system, Complaint.origin_ref).in_(chunk)
                )
            )
            for system, ref, case_id in rows:
                memo.known.setdefault((system, ref), case_id)
        memo.bodies = [v.body for v in verified]
        return memo

    def match_ahead(self, session: Session) -> None:
        """The duplicate matcher's candidates for every new complaint of the batch, in one
        query (:func:`hub.matching.candidates_many`) instead of one per complaint. Valid
        only while the session has not flushed since: a flush (a complaint joining a case,
        a savepoint) can change what the per-complaint query would see, and from then on
        each complaint asks for itself again."""
        probes = []
        for body in self.bodies:
            origin = body["origin"]
            key = (origin["system"], origin["ref"])
            if key not in self.known:
                probes.append(Probe(key, *_match_fields(body)))
        self.candidates = candidates_many(session, probes)
        self.flushes = session.info.get(FLUSHES, 0)

    def prefetched(self, session: Session, key: tuple[str, str]) -> list[Candidate] | None:
        if self.flushes != session.info.get(FLUSHES, 0):
            return None
        return self.candidates.get(key)

    def opened(self, case: Case, complaint: Complaint) -> None:
        if case.status in open_statuses() and case.merged_into is None:
            self.new_cases.append(
                Candidate(
                    case_id=case.id,
                    category=case.category,
                    lat=case.lat,
                    lon=case.lon,
                    reported_at=case.opened_at,
                    text=case_text(complaint.subject, complaint.description),
                )
            )


def case_message(
    session: Session, envelope: Envelope, body: dict[str, Any], ctx: Context
) -> Effect:
    """Any ``case.*`` message: the state machine decides, everyone on the case hears."""
    case_id, told = caseflow.handle_message(session, envelope, body, ctx.flow())
    sent = caseflow.fan_out(
        session, envelope=envelope, case_id=case_id, destinations=told, ctx=ctx.flow()
    )
    return Effect(case_id, sent)


def _complaint(envelope: Envelope, body: dict[str, Any], ctx: Context) -> Complaint:
    origin, location = body["origin"], body.get("location") or {}
    complaint_id = body.get("id") or f"{origin['system']}:{origin['ref']}"
    reporter = body.get("reporter") or {}
    record = {k: v for k, v in body.items() if k != "reporter"}
    record["reporter"] = {"anonymous": reporter.get("anonymous", True)}
    contact = reporter.get("contact")
    return Complaint(
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
        reported_at=_reported_at(body),
        priority=body.get("priority", "normal"),
        language=body.get("language", "th"),
        record=record,
        personal=ctx.sealer.seal(contact, bound_to=complaint_id) if contact else None,
        envelope_id=envelope.id,
        tracking_code=ids.tracking_code(),
        created_at=ctx.now,
    )


def _duplicate(
    session: Session,
    complaint: Complaint,
    also: Sequence[Candidate] = (),
    prefetched: Sequence[Candidate] | None = None,
) -> str | None:
    """The open case this complaint repeats, if the matcher finds one."""
    return find_duplicate(
        session,
        category=complaint.category,
        lat=complaint.lat,
        lon=complaint.lon,
        reported_at=complaint.reported_at,
        text=_match_text(complaint.subject, complaint.description),
        also=also,
        prefetched=prefetched,
    )


def _match_fields(body: dict[str, Any]) -> tuple[str, float | None, float | None, datetime, str]:
    """What :func:`_duplicate` gives the matcher, read from a body as :func:`_complaint`
    reads it: category, lat, lon, reported_at, text."""
    location = body.get("location") or {}
    return (
        body["category"],
        location.get("lat"),
        location.get("lon"),
        _reported_at(body),
        _match_text(body.get("subject", ""), body.get("description", "")),
    )


def _match_text(subject: str | None, description: str | None) -> str:
    """The text the matcher compares: one rule for a stored complaint and a batch's body."""
    return f"{subject} {description}"


def _reported_at(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(body["reported_at"].replace("Z", "+00:00"))


FLUSHES = "hub.flushes"
"""``session.info`` key: how many times the session has flushed (see BatchMemo.match_ahead)."""


@event.listens_for(Session, "after_flush")
def _count_flush(session: Session, _ctx: Any) -> None:
    session.info[FLUSHES] = session.info.get(FLUSHES, 0) + 1


CASE_TYPES = (
    "case.accept",
    "case.decline",
    "case.forward",
    "case.assist",
    "case.status",
    "case.resolve",
    "case.reopen",
    "case.merge",
    "case.unmerge",
    "case.escalate",
)
HANDLED: dict[str, Handler] = {
    "complaint.submit": submit_complaint,
    **dict.fromkeys(CASE_TYPES, case_message),
}

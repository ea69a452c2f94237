"""The outbox: what must reach whom, written in the same transaction as its cause.

A delivery carries a hub-signed ``hub.forward`` envelope whose body holds the origin's JWS
untouched, so the destination checks both signatures. The forward is signed once, when the
delivery is created; every retry re-sends the same bytes (same ``id``), which is what lets a
receiver drop duplicates. Forwards and acknowledgements are logged like any message.

States: pending → in_flight → delivered | failed (retry scheduled) → dead. A destination's
messages about one case go out in order: a later one waits while an earlier one is undelivered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from hub import ids
from hub.errors import Conflict, FieldError, Forbidden, HubError, NotFound, SchemaInvalid
from hub.exchange import envelopes, translog
from hub.exchange.canonical import sha256_hex
from hub.exchange.envelopes import Policy
from hub.exchange.hubkey import HUB_CODE, HubSigner
from hub.exchange.jws import ENVELOPE_TYP, parse_compact
from hub.models import Agency, Delivery, Destination, Envelope

OPEN_STATES = ("pending", "in_flight", "failed")
STATES = ("pending", "in_flight", "delivered", "failed", "dead")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter and a cap; dead after attempts or age."""

    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    max_attempts: int = 12
    max_age: timedelta = timedelta(hours=72)
    breaker_threshold: int = 5

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, min(retry_after or 0.0, self.cap_seconds))

    def pause(self, consecutive_failures: int) -> float:
        """How long a failing destination rests before one probe (circuit breaker)."""
        over = consecutive_failures - self.breaker_threshold
        return 0.0 if over < 0 else min(self.cap_seconds, self.base_seconds * 2 ** min(over, 20))


# --------------------------------------------------------------------------- writing


def forward(
    session: Session,
    *,
    original: Envelope,
    destination: str,
    case_id: str | None,
    reason: str,
    signer: HubSigner,
    now: datetime,
    complaints: Sequence[bytes] = (),
) -> Delivery:
    """Sign a ``hub.forward`` for ``destination``, log it, and queue its delivery.

    ``complaints``: the case's complaint envelopes, for an agency offered the case by some
    other message (it must see what it is asked to act on)."""
    forward_id = "fwd:" + ids.ulid().lower()
    body: dict[str, Any] = {
        "original": original.jws.decode("ascii"),
        "case_id": case_id,
        "reason": reason,
    }
    if complaints:
        body["complaints"] = [c.decode("ascii") for c in complaints]
    payload = {
        "type": "hub.forward",
        "id": forward_id,
        "issued_at": _iso(now),
        "issuer": HUB_CODE,
        "audience": destination,
        "body": body,
    }
    jws = signer.sign_json(payload, typ=ENVELOPE_TYP).encode("ascii")
    leaf = translog.leaf_bytes("hub.forward", forward_id, HUB_CODE, now, sha256_hex(jws))
    delivery = Delivery(
        envelope_id=original.id,
        destination=destination,
        case_id=case_id,
        forward_id=forward_id,
        forward_jws=jws,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)

    def stamp(index: int) -> None:
        delivery.log_index = index

    translog.enqueue(
        session, leaf, envelope_id=original.id, now=now, owner=delivery, on_index=stamp
    )
    return delivery


def record_ack(
    session: Session, raw: bytes, *, policy: Policy, now: datetime, expect_from: str | None = None
) -> Delivery:
    """A destination's signed ``delivery.ack``: check it, log it, mark the delivery done.

    The ack must be signed by the destination itself, name the forward's id and the SHA-256
    of the forward's payload bytes. A repeated ack is harmless (idempotent).
    """
    (result,) = record_acks(session, [raw], policy=policy, now=now, expect_from=expect_from)
    if isinstance(result, HubError):
        raise result
    return result


def record_acks(
    session: Session,
    raws: Sequence[bytes],
    *,
    policy: Policy,
    now: datetime,
    expect_from: str | None = None,
) -> list[Delivery | HubError]:
    """:func:`record_ack` for a round of acks: the same checks for each, answered in order,
    with a few queries for the whole round instead of five per ack.

    Every check happens before anything is written, so a refused ack changes nothing and
    does not stop the others."""
    checked: list[envelopes.Verified | HubError] = []
    for raw in raws:
        try:
            checked.append(_checked_ack(session, raw, policy=policy, now=now, expect=expect_from))
        except HubError as exc:
            checked.append(exc)
    verified = [v for v in checked if isinstance(v, envelopes.Verified)]
    deliveries: dict[str, Delivery] = {}
    if verified:
        stmt = (
            select(Delivery)
            .where(Delivery.forward_id.in_(sorted({v.body["message_id"] for v in verified})))
            .order_by(Delivery.id)  # rows locked in one order by every recorder
            .with_for_update()
        )
        deliveries = {d.forward_id: d for d in session.scalars(stmt)}
    known = envelopes.earlier_many(session, [(v.key.agency, v.payload["id"]) for v in verified])
    results: list[Delivery | HubError] = []
    done: list[tuple[Delivery, Envelope]] = []
    new: list[Envelope] = []
    for v in checked:
        if isinstance(v, HubError):
            results.append(v)
            continue
        delivery = deliveries.get(v.body["message_id"])
        if delivery is None or delivery.destination != v.key.agency:
            results.append(NotFound(f"no delivery {v.body['message_id']!r} for {v.key.agency!r}"))
            continue
        if v.body["payload_sha256"] != forward_payload_sha256(delivery):
            results.append(
                Conflict("ack names other bytes than the hub sent (payload_sha256 mismatch)")
            )
            continue
        results.append(delivery)
        if delivery.state == "delivered":
            continue
        key = (v.key.agency, str(v.payload["id"]))
        if key not in known:
            row = envelopes.new_row(v, issued_at=now, now=now)
            row.case_id = delivery.case_id
            session.add(row)
            known[key] = row
            new.append(row)
        delivery.state = "delivered"  # now, so a second ack for it in this round is a repeat
        done.append((delivery, known[key]))
    session.flush()  # the new ack rows get their ids
    for row in new:
        translog.enqueue_envelope(session, row)  # an ack is logged like any message
    for delivery, ack in done:
        delivery.delivered_at, delivery.updated_at = now, now
        delivery.ack_envelope_id, delivery.last_error = ack.id, None
    return results


def _checked_ack(
    session: Session, raw: bytes, *, policy: Policy, now: datetime, expect: str | None
) -> envelopes.Verified:
    v = envelopes.verify_envelope(session, raw, policy=policy, now=now)
    if v.type != "delivery.ack":
        raise SchemaInvalid(
            "not an acknowledgement", errors=[FieldError("/type", "must be 'delivery.ack'")]
        )
    envelopes.check_body(v)
    if expect is not None and v.key.agency != expect:
        raise Forbidden(f"ack signed by {v.key.agency!r}, expected {expect!r}")
    return v


def forward_payload_sha256(delivery: Delivery) -> str:
    return sha256_hex(parse_compact(delivery.forward_jws.decode("ascii")).payload)


# --------------------------------------------------------------------------- delivering


def agency_mode(session: Session, code: str) -> tuple[str, str | None]:
    agency = session.get(Agency, code)
    if agency is None:
        raise NotFound(f"no agency {code!r}")
    return agency.mode, agency.endpoint


def next_in_order(
    session: Session, destination: str, *, now: datetime, limit: int
) -> list[Delivery]:
    """Due deliveries for one destination, oldest first, never overtaking within a case."""
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.destination == destination, Delivery.state.in_(OPEN_STATES))
        .order_by(Delivery.id)
        .limit(limit * 4)
    ).all()
    return _in_order(rows, now=now, limit=limit)


def due_keys(
    session: Session, destination: str, *, now: datetime, limit: int
) -> list[tuple[int, str | None]]:
    """``(id, case_id)`` of what :func:`next_in_order` would return, without loading the
    rows: a pusher needs only these, and each row carries a signed forward of several KB."""
    rows = session.execute(
        select(Delivery.id, Delivery.case_id, Delivery.next_attempt_at)
        .where(Delivery.destination == destination, Delivery.state.in_(OPEN_STATES))
        .order_by(Delivery.id)
        .limit(limit * 4)
    ).all()
    return [(r.id, r.case_id) for r in _in_order(rows, now=now, limit=limit)]


class _Due(Protocol):
    case_id: str | None
    next_attempt_at: datetime


_D = TypeVar("_D", bound=_Due)


def _in_order(rows: Sequence[_D], *, now: datetime, limit: int) -> list[_D]:
    """The due ones of ``rows`` (in id order): a case waiting for a retry holds back its
    later messages, other cases go on."""
    blocked: set[str | None] = set()
    due: list[_D] = []
    for d in rows:
        if d.case_id in blocked:
            continue
        if d.next_attempt_at > now:
            blocked.add(d.case_id)
            continue
        due.append(d)
        if len(due) == limit:
            break
    return due


def destinations_due(session: Session, *, now: datetime, mode: str = "push") -> list[str]:
    """Push destinations with something to send now and no live lease or pause."""
    stmt = (
        select(Delivery.destination)
        .join(Agency, Agency.code == Delivery.destination)
        .outerjoin(Destination, Destination.agency == Delivery.destination)
        .where(
            Delivery.state.in_(OPEN_STATES),
            Delivery.next_attempt_at <= now,
            Agency.mode == mode,
            or_(Destination.paused_until.is_(None), Destination.paused_until <= now),
        )
        .distinct()
    )
    return list(session.scalars(stmt))


def take_lease(
    session: Session, destination: str, *, owner: str, now: datetime, seconds: float
) -> bool:
    """One deliverer per destination at a time; an expired lease (dead worker) is taken over."""
    if session.get(Destination, destination) is None:
        session.add(Destination(agency=destination, consecutive_failures=0, updated_at=now))
        session.flush()
    result = session.execute(
        update(Destination)
        .where(
            Destination.agency == destination,
            or_(
                Destination.lease_until.is_(None),
                Destination.lease_until < now,
                Destination.lease_owner == owner,
            ),
            or_(Destination.paused_until.is_(None), Destination.paused_until <= now),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds), updated_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release_lease(session: Session, destination: str, *, owner: str) -> None:
    session.execute(
        update(Destination)
        .where(Destination.agency == destination, Destination.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken for one round, with what it was before (to undo an untried one)."""

    id: int
    case_id: str | None
    jws: bytes
    state_before: str
    attempts_before: int


def claim_round(
    session: Session,
    destination: str,
    delivery_ids: list[int],
    *,
    owner: str,
    now: datetime,
    lease_seconds: float,
) -> list[Claimed] | None:
    """Mark a round's deliveries in flight (counting the attempt) and renew the lease.

    None when the lease was lost (a slow round overran it and another deliverer took over).
    Deliveries no longer open (settled meanwhile) are left out.
    """
    renewed = session.execute(
        update(Destination)
        .where(Destination.agency == destination, Destination.lease_owner == owner)
        .values(lease_until=now + timedelta(seconds=lease_seconds))
    )
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.state.in_(OPEN_STATES))
        .order_by(Delivery.id)
    ).all()
    claimed = []
    for d in rows:
        claimed.append(Claimed(d.id, d.case_id, d.forward_jws, d.state, d.attempts))
        d.state, d.attempts, d.updated_at = "in_flight", d.attempts + 1, now
    return claimed


def unclaim(session: Session, c: Claimed) -> None:
    """Undo the claim of a delivery the round did not try: it was not an attempt."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == c.id, Delivery.state == "in_flight")
        .values(state=c.state_before, attempts=c.attempts_before)
    )


def paused(session: Session, destination: str) -> bool:
    """Is the destination's circuit open (resting until a probe)?"""
    dest = session.get(Destination, destination)
    return dest is not None and dest.paused_until is not None


def fail(
    session: Session,
    delivery_id: int,
    destination: str,
    error: str,
    *,
    now: datetime,
    policy: RetryPolicy,
    retry_after: float | None,
) -> bool:
    """Record a failed attempt; True when the destination's circuit is now open (paused)."""
    d = session.get(Delivery, delivery_id)
    assert d is not None
    mark_failed(session, d, error, now=now, policy=policy, retry_after=retry_after)
    destination_result(session, destination, ok=False, error=error, now=now, policy=policy)
    dest = session.get(Destination, destination)
    return dest is not None and dest.paused_until is not None


def mark_failed(
    session: Session,
    delivery: Delivery,
    error: str,
    *,
    now: datetime,
    policy: RetryPolicy,
    retry_after: float | None = None,
) -> None:
    """Schedule a retry, or declare the delivery dead after too many attempts or too long."""
    delivery.last_error, delivery.updated_at = error[:2000], now
    if delivery.attempts >= policy.max_attempts or now - delivery.created_at >= policy.max_age:
        delivery.state = "dead"
        return
    delivery.state = "failed"
    delivery.next_attempt_at = now + timedelta(seconds=policy.delay(delivery.attempts, retry_after))


def destination_result(
    session: Session,
    destination: str,
    *,
    ok: bool,
    error: str | None,
    now: datetime,
    policy: RetryPolicy,
) -> None:
    """Feed the circuit breaker: consecutive failures pause the destination, success resets."""
    dest = session.get(Destination, destination)
    assert dest is not None
    if ok:
        dest.consecutive_failures, dest.paused_until, dest.last_error = 0, None, None
    else:
        dest.consecutive_failures += 1
        dest.last_error = (error or "")[:2000]
        pause = policy.pause(dest.consecutive_failures)
        dest.paused_until = now + timedelta(seconds=pause) if pause else None
    dest.updated_at = now


# --------------------------------------------------------------------------- pull inbox


def inbox(session: Session, agency: str, *, now: datetime, limit: int) -> list[Delivery]:
    """What a pull-mode agency has waiting, in order (the same rule as push)."""
    return next_in_order(session, agency, now=now, limit=limit)


# --------------------------------------------------------------------------- admin


def list_deliveries(
    session: Session,
    *,
    state: str | None,
    destination: str | None,
    case_id: str | None,
    after_id: int,
    limit: int,
) -> list[Delivery]:
    stmt = select(Delivery).where(Delivery.id > after_id).order_by(Delivery.id).limit(limit)
    if state:
        stmt = stmt.where(Delivery.state == state)
    if destination:
        stmt = stmt.where(Delivery.destination == destination)
    if case_id:
        stmt = stmt.where(Delivery.case_id == case_id)
    return list(session.scalars(stmt))


def replay(session: Session, delivery_id: int, *, now: datetime) -> Delivery:
    """An admin sends a dead (or failed) delivery again, with the same forward bytes."""
    d = session.get(Delivery, delivery_id)
    if d is None:
        raise NotFound(f"no delivery {delivery_id}")
    if d.state not in ("dead", "failed"):
        raise Conflict(f"delivery {delivery_id} is {d.state}; only dead or failed ones replay")
    d.state, d.attempts, d.next_attempt_at, d.updated_at = "pending", 0, now, now
    dest = session.get(Destination, d.destination)
    if dest is not None:
        dest.paused_until, dest.consecutive_failures = None, 0
    return d


def stats(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Per destination: counts by state and the age of the oldest open delivery."""
    counts = session.execute(
        select(Delivery.destination, Delivery.state, func.count()).group_by(
            Delivery.destination, Delivery.state
        )
    ).all()
    oldest = dict(
        session.execute(
            select(Delivery.destination, func.min(Delivery.created_at))
            .where(Delivery.state.in_(OPEN_STATES))
            .group_by(Delivery.destination)
        ).all()
    )
    out: dict[str, dict[str, Any]] = {}
    for dest, state, n in counts:
        row = out.setdefault(
            dest, {"destination": dest, **dict.fromkeys(STATES, 0), "oldest_open_seconds": 0.0}
        )
        row[state] = n
    for dest, first in oldest.items():
        if dest in out and first is not None:
            out[dest]["oldest_open_seconds"] = max(0.0, (now - _aware(first)).total_seconds())
    return [out[k] for k in sorted(out)]


def _aware(when: datetime) -> datetime:
    from datetime import UTC

    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")

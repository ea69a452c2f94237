"""Intake: a signed envelope in, a signed receipt out, everything stored in ONE transaction.

The verifier follows a fixed order (numbered below) so that the cheapest refusals come first
and nothing is written before every check has passed:

1. size limit
2. parse the compact JWS (ASCII, three base64url parts, our ``typ``, an allowed ``alg``)
3. key lookup in the trust registry (unknown, revoked, retired or expired keys refused)
4. signature, with the key's own algorithm
5. payload: strict JSON, envelope schema, ``issuer`` owns the ``kid``, ``audience`` is us
6. idempotency: the same bytes again get the same receipt; the same ``id`` with other bytes
   is a replay (409)
7. freshness: ``issued_at`` within the clock skew
8. the body against the schema of its message type (every bad field, with its pointer)
9. store: envelope bytes, the message's effect (complaint, case), log leaf, receipt
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import schema
from hub.config import Settings
from hub.errors import (
    FieldError,
    HubError,
    IssuerMismatch,
    Malformed,
    Replay,
    SchemaInvalid,
    Stale,
    TooLarge,
)
from hub.exchange import handlers, translog
from hub.exchange.canonical import canonicalize, loads_strict, sha256_hex
from hub.exchange.hubkey import HubSigner
from hub.exchange.jws import ENVELOPE_TYP, parse_compact, verify
from hub.exchange.registry import resolve_key
from hub.models import Envelope
from hub.personal import Sealer

if TYPE_CHECKING:
    from hub.services import Hub

RECEIPT_TYP = "hub-receipt+jws"


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the sender gets back; ``created`` is False for an idempotent re-send."""

    receipt: str
    message_id: str
    case_id: str | None
    log_index: int | None
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "receipt": self.receipt,
            "message_id": self.message_id,
            "case_id": self.case_id,
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    audience: str
    max_bytes: int
    clock_skew: timedelta


def accept(
    session: Session,
    raw: bytes,
    *,
    policy: IntakePolicy,
    signer: HubSigner,
    sealer: Sealer,
    now: datetime,
) -> Accepted:
    """Verify and store one envelope. Raises a HubError child; the caller rolls back."""
    if len(raw) > policy.max_bytes:  # 1
        raise TooLarge(f"envelope exceeds {policy.max_bytes} bytes")
    parsed = parse_compact(_ascii(raw))  # 2
    if parsed.header.get("typ") != ENVELOPE_TYP:
        raise Malformed(f"protected header typ must be {ENVELOPE_TYP!r}")
    key = resolve_key(session, parsed.header["kid"], now=now)  # 3
    verify(parsed, key.key, alg=key.alg)  # 4
    payload = _payload(parsed.payload)  # 5
    if payload["issuer"] != key.agency:
        raise IssuerMismatch(f"issuer {payload['issuer']!r} does not own key {key.kid!r}")
    if payload["audience"] != policy.audience:
        raise SchemaInvalid(
            "message is addressed to another party",
            errors=[FieldError("/audience", f"must be {policy.audience!r}")],
        )
    jws_sha256 = sha256_hex(raw)
    earlier = _earlier(session, payload["issuer"], payload["id"])  # 6
    if earlier is not None:
        if earlier.jws_sha256 != jws_sha256:
            raise Replay(f"message id {payload['id']!r} was already used by {payload['issuer']!r}")
        return Accepted(
            earlier.receipt or "", earlier.message_id, earlier.case_id, earlier.log_index, False
        )
    issued_at = _fresh(payload["issued_at"], now, policy.clock_skew)  # 7
    if payload["type"] not in handlers.HANDLED:  # 8
        raise SchemaInvalid(
            "message type not accepted",
            errors=[FieldError("/type", f"message type {payload['type']!r} is not accepted here")],
        )
    body_errors = schema.validate(payload["type"], payload["body"])
    if body_errors:
        raise SchemaInvalid(
            f"{len(body_errors)} error(s) in the message",
            errors=[_under_body(e) for e in body_errors],
        )
    envelope = Envelope(  # 9
        issuer=payload["issuer"],
        message_id=payload["id"],
        type=payload["type"],
        audience=payload["audience"],
        kid=key.kid,
        jws=raw,
        payload_sha256=sha256_hex(parsed.payload),
        jws_sha256=jws_sha256,
        issued_at=issued_at,
        received_at=now,
    )
    session.add(envelope)
    session.flush()
    handle = handlers.HANDLED[payload["type"]]
    envelope.case_id = handle(session, envelope, payload["body"], handlers.Context(now, sealer))
    envelope.log_index = translog.append_envelope(session, envelope)
    envelope.receipt = signer.sign_json(receipt_payload(envelope), typ=RECEIPT_TYP)
    return Accepted(
        envelope.receipt, envelope.message_id, envelope.case_id, envelope.log_index, True
    )


def receipt_payload(envelope: Envelope) -> dict[str, Any]:
    """What the hub vouches for: this issuer's message, these exact bytes, here in the log."""
    return {
        "message_id": envelope.message_id,
        "issuer": envelope.issuer,
        "payload_sha256": envelope.payload_sha256,
        "jws_sha256": envelope.jws_sha256,
        "leaf_hash": translog.leaf_hash_hex(envelope),
        "case_id": envelope.case_id,
        "log_index": envelope.log_index,
        "received_at": _rfc3339(envelope.received_at),
    }


def _ascii(raw: bytes) -> str:
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise Malformed("a compact JWS is ASCII only") from exc


def _payload(data: bytes) -> dict[str, Any]:
    payload = loads_strict(data)
    errors = schema.validate("envelope", payload)
    if errors:
        raise SchemaInvalid(f"{len(errors)} error(s) in the envelope", errors=errors)
    assert isinstance(payload, dict)
    return payload


def _earlier(session: Session, issuer: str, message_id: str) -> Envelope | None:
    stmt = select(Envelope).where(Envelope.issuer == issuer, Envelope.message_id == message_id)
    return session.scalars(stmt).first()


def _fresh(issued_at: str, now: datetime, skew: timedelta) -> datetime:
    try:
        when = datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Malformed("issued_at is not an RFC 3339 time") from exc
    if when.tzinfo is None:
        raise Malformed("issued_at needs a time zone")
    if abs(when - now) > skew:
        raise Stale(f"issued_at {issued_at} is more than {int(skew.total_seconds())} s from now")
    return when


def _under_body(err: FieldError) -> FieldError:
    return FieldError("/body" + err.pointer, err.message)


def _rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def canonical_receipt(envelope: Envelope) -> bytes:
    return canonicalize(receipt_payload(envelope))


# --------------------------------------------------------------------------- services


def policy_for(settings: Settings) -> IntakePolicy:
    return IntakePolicy(
        audience=settings.audience,
        max_bytes=settings.max_body_bytes,
        clock_skew=timedelta(seconds=settings.clock_skew_seconds),
    )


def submit(hub: Hub, raw: bytes) -> Accepted:
    """One envelope in its own transaction; a concurrent twin is answered idempotently."""
    for attempt in (1, 2):
        try:
            with hub.transaction() as session:
                return accept(
                    session,
                    raw,
                    policy=policy_for(hub.settings),
                    signer=hub.signer,
                    sealer=hub.sealer,
                    now=hub.now(),
                )
        except IntegrityError:
            # another process stored the same (issuer, id) between our check and our insert;
            # the second pass finds it and answers as for any re-send
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    accepted: Accepted | None = None
    error: HubError | None = None


def submit_batch(hub: Hub, items: Sequence[str]) -> list[ItemResult]:
    """Each item judged alone (a savepoint each), all committed together.

    One commit for the batch is what makes batches fast; a refused item rolls back only its
    own savepoint, so it changes nothing and never spoils the others.
    """
    if len(items) > hub.settings.batch_max:
        raise TooLarge(f"a batch holds at most {hub.settings.batch_max} envelopes")
    policy, now = policy_for(hub.settings), hub.now()
    results: list[ItemResult] = []
    with hub.transaction() as session:
        for i, item in enumerate(items):
            try:
                with session.begin_nested():
                    accepted = accept(
                        session,
                        item.encode("utf-8", "surrogatepass"),
                        policy=policy,
                        signer=hub.signer,
                        sealer=hub.sealer,
                        now=now,
                    )
                results.append(ItemResult(i, accepted=accepted))
            except HubError as exc:
                results.append(ItemResult(i, error=exc))
            except IntegrityError:
                results.append(
                    ItemResult(i, error=Replay("a twin of this message is being stored"))
                )
    return results

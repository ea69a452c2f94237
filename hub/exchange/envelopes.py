"""Checking a signed envelope, the part every inbound message shares (submissions, acks).

Steps 1–5 of the intake order (see ``intake``): size, parse, key, signature, payload. They
return a :class:`Verified` or raise the HubError that names the reason; nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from hub import schema
from hub.config import Settings
from hub.errors import FieldError, IssuerMismatch, Malformed, SchemaInvalid, Stale, TooLarge
from hub.exchange.canonical import loads_strict, sha256_hex
from hub.exchange.jws import ENVELOPE_TYP, ParsedJWS, parse_compact, verify
from hub.exchange.registry import ResolvedKey, resolve_key
from hub.models import Envelope

LOOKUP_CHUNK = 500
"""(issuer, id) pairs per lookup query: well under every driver's parameter limit."""


@dataclass(frozen=True, slots=True)
class Policy:
    audience: str
    max_bytes: int
    clock_skew: timedelta


@dataclass(frozen=True, slots=True)
class Verified:
    """A message whose signature, signer and envelope shape have been checked."""

    raw: bytes
    parsed: ParsedJWS
    payload: dict[str, Any]
    key: ResolvedKey
    jws_sha256: str

    @property
    def type(self) -> str:
        return str(self.payload["type"])

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.payload["body"]
        return body


def policy_for(settings: Settings) -> Policy:
    return Policy(
        audience=settings.audience,
        max_bytes=settings.max_body_bytes,
        clock_skew=timedelta(seconds=settings.clock_skew_seconds),
    )


def verify_envelope(session: Session, raw: bytes, *, policy: Policy, now: datetime) -> Verified:
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
    return Verified(raw, parsed, payload, key, sha256_hex(raw))


def earlier(session: Session, issuer: str, message_id: str) -> Envelope | None:
    stmt = select(Envelope).where(Envelope.issuer == issuer, Envelope.message_id == message_id)
    return session.scalars(stmt).first()


def earlier_many(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Envelope]:
    """:func:`earlier` for a whole batch in a few queries instead of one per item."""
    found: dict[tuple[str, str], Envelope] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start : start + LOOKUP_CHUNK]
        stmt = select(Envelope).where(tuple_(Envelope.issuer, Envelope.message_id).in_(chunk))
        for row in session.scalars(stmt):
            found[(row.issuer, row.message_id)] = row
    return found


def fresh(issued_at: str, now: datetime, skew: timedelta) -> datetime:
    """``issued_at`` as a time, if within the clock skew of ``now``; else Stale."""
    try:
        when = datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Malformed("issued_at is not an RFC 3339 time") from exc
    if when.tzinfo is None:
        raise Malformed("issued_at needs a time zone")
    if abs(when - now) > skew:
        raise Stale(f"issued_at {issued_at} is more than {int(skew.total_seconds())} s from now")
    return when


def check_body(v: Verified) -> None:
    """The body against the schema of its message type; every error under ``/body``."""
    errors = schema.validate(v.type, v.body)
    if errors:
        raise SchemaInvalid(
            f"{len(errors)} error(s) in the message",
            errors=[FieldError("/body" + e.pointer, e.message) for e in errors],
        )


def new_row(v: Verified, *, issued_at: datetime, now: datetime) -> Envelope:
    return Envelope(
        issuer=v.payload["issuer"],
        message_id=v.payload["id"],
        type=v.type,
        audience=v.payload["audience"],
        kid=v.key.kid,
        jws=v.raw,
        payload_sha256=sha256_hex(v.parsed.payload),
        jws_sha256=v.jws_sha256,
        issued_at=issued_at,
        received_at=now,
    )


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

"""Typed ORM tables. Alembic (``hub/migrations``) owns the schema; these mirror it.

JSON columns are JSONB on PostgreSQL. Times are timezone-aware and stored in UTC. Message
bytes are kept exactly as received (``LargeBinary``), never re-serialised.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, object_session
from sqlalchemy.orm.util import identity_key

from hub.privacy import public_text

JSONType = JSON().with_variant(JSONB(), "postgresql")
# Histograms of the index's times (PostgreSQL only; SQLite keeps the table empty).
Buckets = JSON().with_variant(ARRAY(Integer()), "postgresql")
Counts = JSON().with_variant(ARRAY(BigInteger()), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL needs 64 bits at national scale.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in, timezone-aware out, on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: every time in the hub is zone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Agency(Base):
    """A participant: its routing defaults and how deliveries reach it."""

    __tablename__ = "agencies"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_th: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(32))
    areas: Mapped[list[str]] = mapped_column(JSONType, default=list)
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    endpoint: Mapped[str | None] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(8), default="pull")
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgencyKey(Base):
    """A public key an agency signs with; ``kid`` is ``<agency-code>/<key-id>``."""

    __tablename__ = "agency_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    kid: Mapped[str] = mapped_column(String(200), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="active")
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16), default="jwk")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Envelope(Base):
    """One accepted signed message, its exact bytes and the receipt the hub gave for it."""

    __tablename__ = "envelopes"
    __table_args__ = (UniqueConstraint("issuer", "message_id", name="uq_envelopes_issuer_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(64))
    kid: Mapped[str] = mapped_column(String(200))
    jws: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    jws_sha256: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    log_index: Mapped[int | None] = mapped_column(BigInteger)
    receipt: Mapped[str | None] = mapped_column(Text)


def _opened_at(context: DefaultExecutionContext) -> datetime:
    """A new case was first reported when it was opened, until a complaint says earlier
    (the listeners at the end of this module lower it as complaints are inserted)."""
    params: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    opened = params.get("opened_at")
    return opened if isinstance(opened, datetime) else utcnow()


class Case(Base):
    """The national unit of work: one owner at a time, one resolution at the end.

    The composite ``(filter, reported_at, id)`` indexes serve the national index's keyset
    pages (``hub.index``): the typical oversight filter, newest first, without a sort.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_reported", "reported_at", "id"),
        Index("ix_cases_resolved", "resolved_at", "id"),
        Index("ix_cases_province_reported", "province_code", "reported_at", "id"),
        Index("ix_cases_category_reported", "category", "reported_at", "id"),
        Index("ix_cases_status_reported", "status", "reported_at", "id"),
        Index("ix_cases_owner_reported", "owner", "reported_at", "id"),
        # the duplicate matcher's place lookup (hub.matching): unmerged cases in a small box
        Index(
            "ix_cases_lat_lon",
            "lat",
            "lon",
            postgresql_where=text("merged_into IS NULL"),
            sqlite_where=text("merged_into IS NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    owner: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"), index=True)
    category: Mapped[str] = mapped_column(String(64))
    province_code: Mapped[str | None] = mapped_column(String(2))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accept_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into: Mapped[str | None] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    origin_agency: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    accept_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    amphoe_code: Mapped[str | None] = mapped_column(String(4), index=True)
    tambon_code: Mapped[str | None] = mapped_column(String(6), index=True)
    # the earliest ``reported_at`` of the case's complaints (when the problem was first
    # reported, whatever the import date); the index sorts and filters on it. Never NULL
    # in practice (the default, the listeners below, migration 0005's backfill); nullable
    # in the schema only because SQLite cannot add NOT NULL to a referenced table in place
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=_opened_at)


class Complaint(Base):
    """A citizen's report as the shared schema describes it; personal data kept sealed.

    ``public_text`` (subject and description scrubbed of personal data) and
    ``satisfaction`` (the citizen's rating, when the origin gives one) are derived on every
    ORM insert and update by the listeners at the end of this module; the national index
    (``hub.index``) searches only them. A Core insert must set them itself, with
    ``hub.index.public_text`` and ``hub.index.satisfaction_of``.
    """

    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("origin_system", "origin_ref", name="uq_complaints_origin"),
        Index("ix_complaints_area", "province_code", "amphoe_code", "tambon_code"),
        # Thai has no spaces between words: substring search needs trigrams, not words.
        # PostgreSQL only; on SQLite (which scans) the same name is an empty partial index,
        # so one schema description holds on both backends.
        Index(
            "ix_complaints_public_text_trgm",
            "public_text",
            postgresql_using="gin",
            postgresql_ops={"public_text": "gin_trgm_ops"},
            sqlite_where=text("0"),
        ),
        # the index's channel and origin filters, answered from the index alone
        Index("ix_complaints_channel_case", "channel", "case_id"),
        Index("ix_complaints_origin_case", "origin_system", "case_id"),
        Index(
            "ix_complaints_rated",
            "case_id",
            "satisfaction",
            postgresql_where=text("satisfaction IS NOT NULL"),
            sqlite_where=text("satisfaction IS NOT NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    origin_agency: Mapped[str] = mapped_column(String(64))
    origin_system: Mapped[str] = mapped_column(String(64))
    origin_ref: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    province_code: Mapped[str | None] = mapped_column(String(2))
    amphoe_code: Mapped[str | None] = mapped_column(String(4))
    tambon_code: Mapped[str | None] = mapped_column(String(6))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    language: Mapped[str] = mapped_column(String(16), default="th")
    record: Mapped[dict[str, Any]] = mapped_column(JSONType)
    personal: Mapped[bytes | None] = mapped_column(LargeBinary)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    envelope_id: Mapped[int | None] = mapped_column(ForeignKey("envelopes.id"))
    tracking_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    public_text: Mapped[str] = mapped_column(Text, default="")
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)


class Handoff(Base):
    """One step of a case between agencies: offer, forward, assist, return, escalate."""

    __tablename__ = "handoffs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_agency: Mapped[str | None] = mapped_column(String(64))
    to_agency: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="offered")
    envelope_id: Mapped[int | None] = mapped_column(ForeignKey("envelopes.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseEvent(Base):
    """One step of a case's public timeline: who signed what, and where it is in the log."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    status_from: Mapped[str | None] = mapped_column(String(32))
    status_to: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    envelope_id: Mapped[int | None] = mapped_column(ForeignKey("envelopes.id"))
    log_index: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseParty(Base):
    """An agency on a case and why (origin, owner, former owner, assist, supervisor):
    everyone here hears about every change of the case."""

    __tablename__ = "case_parties"
    # "the cases agency X is on", answered from the index alone
    __table_args__ = (Index("ix_case_parties_agency_case", "agency", "case_id"),)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    agency: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingRule(Base):
    """Admin-managed: which agency acts for an area (DOPA code, or TH) and a category."""

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("area", "category", "agency", name="uq_routing_rules_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    area: Mapped[str] = mapped_column(String(6), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """The outbox: the truth about what must reach whom, whatever the queue forgot."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_destination_state", "destination", "state"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    envelope_id: Mapped[int] = mapped_column(ForeignKey("envelopes.id"), index=True)
    destination: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    case_id: Mapped[str | None] = mapped_column(String(64))
    forward_id: Mapped[str] = mapped_column(String(128), unique=True)
    forward_jws: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    log_index: Mapped[int | None] = mapped_column(BigInteger)
    ack_envelope_id: Mapped[int | None] = mapped_column(ForeignKey("envelopes.id"))


class Destination(Base):
    """Per-destination delivery state: who is delivering to it now, and its circuit breaker.

    The lease makes one worker at a time deliver to an agency, which keeps each case's
    messages in order; an expired lease (a killed worker) is simply taken over.
    """

    __tablename__ = "destinations"
    agency: Mapped[str] = mapped_column(ForeignKey("agencies.code"), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegistryState(Base):
    """One row whose ``stamp`` is replaced (a random number) by every transaction that
    changes an agency: processes cache the registry and re-read it when the stamp moves."""

    __tablename__ = "registry_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(BigInteger)


class LogState(Base):
    """The one row every append locks, so leaf indexes are gap-free across processes.

    ``frontier`` is the hashes of ``merkle.root_keys(size)`` end to end (32 bytes each): the
    only nodes the next append needs, read with the lock itself. A row lock wait ends with
    the row's newest version, so the frontier is never stale, and every append saves the
    round trip that read it from ``log_nodes`` while the whole hub queued on this row. NULL
    (a log written before the column existed) makes the next append read ``log_nodes``
    once and fill it.
    """

    __tablename__ = "log_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class LogLeaf(Base):
    """A leaf of the transparency log: exact canonical bytes, no personal data."""

    __tablename__ = "log_leaves"
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_input: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    envelope_id: Mapped[int | None] = mapped_column(ForeignKey("envelopes.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogNode(Base):
    """Root hash of a complete subtree (level, index): proofs read O(log n) of these."""

    __tablename__ = "log_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A published signed tree head; all are kept so verifiers can check consistency."""

    __tablename__ = "tree_heads"
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    signature: Mapped[str] = mapped_column(Text)


class UsedToken(Base):
    """Bearer-token ids already seen, kept until they expire: a ``jti`` is never reused."""

    __tablename__ = "used_tokens"
    issuer: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Open311Client(Base):
    """An application allowed to POST Open311 requests; only a SHA-256 of its key is kept.

    ``agency`` is the hub-operated agency its requests are signed as (``HUB_OPEN311_AGENCY``
    when the key was issued); see ``hub.open311``.
    """

    __tablename__ = "open311_clients"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    agency: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --------------------------------------------------------------------------- derived columns


def satisfaction_of(record: dict[str, Any] | None) -> int | None:
    """The citizen's 1–5 rating in a complaint record, if its origin gives one (Traffy
    Fondue's ``star`` in ``extensions.<system>``); anything else is no rating."""
    for ext in ((record or {}).get("extensions") or {}).values():
        star = ext.get("star") if isinstance(ext, dict) else None
        if isinstance(star, int) and not isinstance(star, bool) and 1 <= star <= 5:
            return star
    return None


@event.listens_for(Complaint, "before_insert")
@event.listens_for(Complaint, "before_update")
def _derive_public_columns(_mapper: Any, _conn: Connection, target: Complaint) -> None:
    """Whatever writes a complaint through the ORM, the index's copy is never unscrubbed."""
    target.public_text = public_text(target.subject, target.description)
    target.satisfaction = satisfaction_of(target.record)


_LOWERED = "hub.models.first_reported"
"""``session.info`` key: ids of the complaints whose case ``before_flush`` already saw."""


@event.listens_for(Session, "before_flush")
def _lower_first_reported(session: Session, _ctx: Any, _instances: Any) -> None:
    """A new complaint reported before its case's ``reported_at`` lowers it. Done on the
    case object when the session holds it (always so in intake, new case or not), which
    costs no query of its own."""
    complaints = [o for o in session.new if isinstance(o, Complaint) and o.case_id]
    if not complaints:
        return
    pending = {o.id: o for o in session.new if isinstance(o, Case)}
    seen: set[str] = session.info.setdefault(_LOWERED, set())
    for obj in complaints:
        case_id = obj.case_id or ""
        held = pending.get(case_id) or session.identity_map.get(identity_key(Case, case_id))
        if not isinstance(held, Case) or obj.reported_at is None:
            continue
        seen.add(obj.id)
        first = held.reported_at or held.opened_at
        if first is None or obj.reported_at < first:
            held.reported_at = obj.reported_at
        elif held.reported_at is None:
            held.reported_at = first


@event.listens_for(Session, "after_flush")
def _forget_lowered(session: Session, _ctx: Any) -> None:
    session.info.pop(_LOWERED, None)


@event.listens_for(Complaint, "after_insert")
def _case_first_reported(_mapper: Any, conn: Connection, target: Complaint) -> None:
    """The same for a case the session does not hold: one UPDATE that changes nothing
    unless the complaint is earlier."""
    if target.case_id is None or target.reported_at is None:
        return
    session = object_session(target)
    if session is not None and target.id in session.info.get(_LOWERED, ()):
        return
    conn.execute(
        update(Case)
        .where(Case.id == target.case_id, Case.reported_at > target.reported_at)
        .values(reported_at=target.reported_at)
    )


def registry_changing(session: Session) -> bool:
    """Does this session hold agency or routing rule rows added, changed or removed and not
    yet flushed? (What ``hub.routing.snapshot`` keeps in memory.)"""
    return any(
        isinstance(o, (Agency, RoutingRule))
        for o in (*session.new, *session.dirty, *session.deleted)
    )


@event.listens_for(Session, "before_flush")
def _registry_changed(session: Session, _ctx: Any, _instances: Any) -> None:
    """Any agency or routing rule added, changed or removed moves the registry's stamp (in
    the same transaction), so every process drops its cached copy (``hub.routing.snapshot``)."""
    if registry_changing(session):
        session.connection().execute(
            update(RegistryState)
            .where(RegistryState.id == 1)
            .values(stamp=secrets.randbits(62) + 1)
        )


# --------------------------------------------------------------------------- index fast path


class IndexDirty(Base):
    """A case whose index facts may be out of date: written insert-only by every writing
    transaction (``hub.index_facts``), folded into ``case_facts`` and ``index_cube`` by
    the refresher, which deletes what it folded. No shared row is updated by intake."""

    __tablename__ = "index_dirty"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64))


OPEN_PREDICATE = "status NOT IN ('closed', 'merged', 'rejected', 'resolved')"
"""``hub.cases.CLOSED`` as SQL, sorted as ``hub.index_filters.is_open`` renders it, so the
planner matches the partial index (a test checks the two agree)."""


PAGE_SORTS = ("reported_at", "resolved_at")
"""The sort keys of the index's pages (``hub.index.SORTS``)."""
PAGE_FILTERS = ("province_code", "amphoe_code", "tambon_code", "category", "status", "owner")
"""The ``case_facts`` columns a page can be narrowed by with an equality."""


def _page_indexes() -> list[Index]:
    """``(sort key, case_id)`` and ``(filter column, sort key, case_id)`` on ``case_facts``:
    migration 0011 makes exactly these (``ix_case_facts_<column>_<reported|resolved>``)."""
    out = [Index(f"ix_case_facts_page_{k.removesuffix('_at')}", k, "case_id") for k in PAGE_SORTS]
    for column in PAGE_FILTERS:
        short = column.removesuffix("_code")
        out += [
            Index(f"ix_case_facts_{short}_{k.removesuffix('_at')}", column, k, "case_id")
            for k in PAGE_SORTS
        ]
    return out


TIMES_COLUMNS: tuple[str, ...] = ("owner", "province_code", "status", "breached")
TIMES_COLUMNS += ("resolved_at", "accept_h", "resolve_h")


class CaseFacts(Base):
    """One narrow row per case: what the index's statistics, map and counts filter and
    aggregate on, the complaints' channels, origins and ratings folded in (PostgreSQL
    only; ``hub.index_facts`` keeps it, migration 0007 fills it)."""

    __tablename__ = "case_facts"
    __table_args__ = (
        Index("ix_case_facts_province", "province_code"),
        Index("ix_case_facts_category", "category"),
        Index("ix_case_facts_owner", "owner"),
        Index("ix_case_facts_amphoe", "amphoe_code"),
        # a reported-date range's partial months are bucketed for the times from the
        # index alone (``hub.index_times``)
        Index(
            "ix_case_facts_reported",
            "reported_at",
            postgresql_include=list(TIMES_COLUMNS),
        ),
        # the backlog: open cases by age (the same predicate as ``hub.index_filters.is_open``);
        # the cube's dimensions ride along, so the recent part of a filtered backlog is read
        # from the index alone (``hub.index_fast.backlog_counts``)
        Index(
            "ix_case_facts_open",
            "reported_at",
            postgresql_where=text(OPEN_PREDICATE),
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_include=["province_code", "category", "status", "breached", "merged"],
        ),
        # the index's keyset pages (hub.index.search, migration 0011): every sort, alone and
        # behind every filter column, so a page reads about its own rows whatever it asks
        *_page_indexes(),
    )
    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    province_code: Mapped[str | None] = mapped_column(String(2))
    amphoe_code: Mapped[str | None] = mapped_column(String(4))
    tambon_code: Mapped[str | None] = mapped_column(String(6))
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    month: Mapped[str | None] = mapped_column(String(7))  # Bangkok YYYY-MM of reported_at
    breached: Mapped[bool] = mapped_column(Boolean)
    merged: Mapped[bool] = mapped_column(Boolean)
    reopened: Mapped[bool] = mapped_column(Boolean)
    accept_h: Mapped[float | None] = mapped_column(Float(53))
    resolve_h: Mapped[float | None] = mapped_column(Float(53))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sat_sum: Mapped[int] = mapped_column(Integer, default=0)
    sat_n: Mapped[int] = mapped_column(Integer, default=0)


class _CubeCell:
    """What a cell of ``index_cube`` and of ``index_rollup`` holds besides its period: the
    dimensions, then the sums the fold adds to and takes from (``hub.index_facts.MEASURES``
    names these, in this order)."""

    province_code: Mapped[str] = mapped_column(String(2))
    category: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    breached: Mapped[bool] = mapped_column(Boolean)
    merged: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(BigInteger)
    resolved: Mapped[int] = mapped_column(BigInteger)
    reopened: Mapped[int] = mapped_column(BigInteger)
    ever_resolved: Mapped[int] = mapped_column(BigInteger)
    sat_sum: Mapped[int] = mapped_column(BigInteger)
    sat_n: Mapped[int] = mapped_column(BigInteger)
    lat_sum: Mapped[float] = mapped_column(Float(53))
    lat_n: Mapped[int] = mapped_column(BigInteger)
    lon_sum: Mapped[float] = mapped_column(Float(53))
    lon_n: Mapped[int] = mapped_column(BigInteger)


class IndexCube(_CubeCell, Base):
    """``case_facts`` summed by (Bangkok month, province, category, status, breached,
    merged): the national counts and map read a few hundred thousand of these instead of
    a million cases. A missing month or province is stored as ``""`` (one cell, whatever
    the backend thinks of NULLs in a unique index)."""

    __tablename__ = "index_cube"
    __table_args__ = (
        UniqueConstraint(
            "month",
            "province_code",
            "category",
            "status",
            "breached",
            "merged",
            name="uq_index_cube_cell",
        ),
        Index("ix_index_cube_province", "province_code"),
        Index("ix_index_cube_category", "category"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))


class IndexRollup(_CubeCell, Base):
    """``index_cube`` summed over time: ``period`` is ``*`` (every case) or a Bangkok
    calendar year ``YYYY`` (cases with a reported time). The national counts read the
    twenty thousand ``*`` cells instead of the cube's two hundred thousand monthly ones, and
    a reported-date range takes its whole years from here, its other whole months from the
    cube and the rest from ``case_facts`` (``hub.index_fast.source``). Kept by the fold."""

    __tablename__ = "index_rollup"
    __table_args__ = (
        UniqueConstraint(
            "period",
            "province_code",
            "category",
            "status",
            "breached",
            "merged",
            name="uq_index_rollup_cell",
        ),
        # the fold deletes the cells it emptied: found here, not by reading every cell
        Index(
            "ix_index_rollup_empty",
            "id",
            postgresql_where=text("n = 0"),
            sqlite_where=text("n = 0"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))


class IndexTimes(Base):
    """Per group (``kind``: ``owner``, the current owner agency in ``grp``; ``province``;
    ``channel``, a case counted under each of its channels) and province: case counts and,
    for owners and provinces, log-spaced histograms of the hours to accept and to resolve
    (``hub.histogram``: parallel arrays of bucket and count). Cells are kept for every
    case (``period`` ``*``, ``category`` ``*``), per category (``*``, the category), per
    Bangkok year and per Bangkok month (``category`` ``*``); the statistics' per-agency and
    per-province tables and their approximate percentiles read a few thousand of them
    instead of sorting every case (``hub.index_times``). Kept by the fold."""

    __tablename__ = "index_times"
    __table_args__ = (
        UniqueConstraint(
            "period", "category", "kind", "province_code", "grp", name="uq_index_times_cell"
        ),
        Index(
            "ix_index_times_empty",
            "id",
            postgresql_where=text("cases = 0"),
            sqlite_where=text("cases = 0"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))
    category: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    province_code: Mapped[str] = mapped_column(String(2))
    grp: Mapped[str] = mapped_column(String(64))
    cases: Mapped[int] = mapped_column(BigInteger)
    open: Mapped[int] = mapped_column(BigInteger)
    resolved: Mapped[int] = mapped_column(BigInteger)
    breached: Mapped[int] = mapped_column(BigInteger)
    a_keys: Mapped[list[int]] = mapped_column(Buckets)
    a_counts: Mapped[list[int]] = mapped_column(Counts)
    r_keys: Mapped[list[int]] = mapped_column(Buckets)
    r_counts: Mapped[list[int]] = mapped_column(Counts)


class ComplaintText(Base):
    """A complaint's scrubbed text, channel and origin, its case and the case's province:
    what the index's text
    search reads instead of the wide ``complaints`` rows (the trigram index's candidates
    are rechecked on a few hundred bytes, not two kilobytes). Kept by the fold
    (``hub.index_facts``) like ``case_facts``; migration 0009 fills it. PostgreSQL only."""

    __tablename__ = "complaint_texts"
    __table_args__ = (
        Index("ix_complaint_texts_case", "case_id"),
        Index("ix_complaint_texts_province", "province_code"),
        Index(
            "ix_complaint_texts_trgm",
            "public_text",
            postgresql_using="gin",
            postgresql_ops={"public_text": "gin_trgm_ops"},
            sqlite_where=text("0"),
        ),
    )
    complaint_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    origin_system: Mapped[str] = mapped_column(String(64))
    public_text: Mapped[str] = mapped_column(Text)
    # the case's province (not the complaint's): a text search in one province ANDs this
    # index's rows with the trigram index's instead of fetching every match's case
    province_code: Mapped[str | None] = mapped_column(String(2))


class IndexParty(Base):
    """An agency on a case (any role, once) with the case's ``reported_at``: an agency's
    own newest cases are one backward range of ``(agency, reported_at, case_id)`` instead of
    all of its cases sorted. Kept by the fold (``hub.index_facts``); migration 0009 fills
    it. PostgreSQL only."""

    __tablename__ = "index_parties"
    __table_args__ = (
        Index("ix_index_parties_agency_reported", "agency", "reported_at", "case_id"),
    )
    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# Registers the index's after-flush listener wherever the models are used, so every writer
# (API, rq workers, CLI, adapters) queues the cases it touches (``hub.index_facts``).
from hub import index_facts as _index_facts  # noqa: E402, F401

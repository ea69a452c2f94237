"""What the national index may show a viewer, and the oversight filters, as SQL conditions.

Shared by ``hub.index`` (search, count, export, drill-down) and ``hub.index_stats``
(statistics, map), so every endpoint narrows exactly the same set of cases.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from hub.cases import CLOSED
from hub.exchange.tokens import Principal
from hub.models import Case, CaseParty, Complaint, ComplaintText

BANGKOK_OFFSET_HOURS = 7  # Thailand keeps no daylight saving time


@dataclass(frozen=True)
class Filters:
    """The common filters of every ``/v1/index/*`` endpoint; empty means "any".

    Date ranges are half-open: ``*_from`` inclusive, ``*_to`` exclusive.
    """

    province: tuple[str, ...] = ()  # DOPA 2-digit codes
    amphoe: tuple[str, ...] = ()  # 4-digit
    tambon: tuple[str, ...] = ()  # 6-digit
    category: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()  # current owner agency
    agency: tuple[str, ...] = ()  # any agency party to the case
    channel: tuple[str, ...] = ()
    origin: tuple[str, ...] = ()  # origin system (traffy_fondue, ops1111, ...)
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    resolved_from: datetime | None = None
    resolved_to: datetime | None = None
    sla_breached: bool | None = None
    merged: bool | None = None
    q: str | None = None  # substring of the SCRUBBED subject and description

    def canonical(self) -> dict[str, Any]:
        """A JSON-safe, order-independent form (cursors are bound to it)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = sorted(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[f.name] = value
        return out


def sees_all(viewer: Principal) -> bool:
    return viewer.has("oversight") or viewer.has("admin")


def visible(viewer: Principal) -> ColumnElement[bool]:
    """Oversight bodies and hub admins see every case; any other agency its own cases."""
    if sees_all(viewer):
        return true()
    return Case.id.in_(select(CaseParty.case_id).where(CaseParty.agency == viewer.agency))


def breached() -> ColumnElement[bool]:
    return or_(Case.accept_breached_at.is_not(None), Case.resolve_breached_at.is_not(None))


def is_open() -> ColumnElement[bool]:
    return Case.status.not_in(sorted(CLOSED))


def text_match(q: str, column: Any = Complaint.public_text) -> ColumnElement[bool]:
    """Substring match on the scrubbed text: ILIKE on PostgreSQL (served by the pg_trgm GIN
    index), ``lower(..) LIKE lower(..)`` on SQLite; ``%`` and ``_`` in ``q`` are literal."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    expr: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return expr


def where(
    f: Filters, viewer: Principal, *, texts: bool = False, visibility: bool = True
) -> list[ColumnElement[bool]]:
    """Every condition on ``cases`` for these filters, the viewer's visibility first.

    ``texts``: the complaints' channel, origin and text are read from the narrow
    ``complaint_texts`` (PostgreSQL, once folded) instead of ``complaints``.
    ``visibility=False`` leaves the viewer's visibility to the caller (a join on
    ``index_parties`` says the same)."""
    conds: list[ColumnElement[bool]] = [visible(viewer)] if visibility else []
    conds += own_conditions(f, Case)
    if f.agency:
        conds.append(Case.id.in_(select(CaseParty.case_id).where(CaseParty.agency.in_(f.agency))))
    complaint_conds = complaint_conditions(f, texts=texts)
    if complaint_conds:
        owner_of = ComplaintText.case_id if texts else Complaint.case_id
        conds.append(Case.id.in_(select(owner_of).where(and_(*complaint_conds))))
    if f.sla_breached is not None:
        conds.append(breached() if f.sla_breached else ~breached())
    if f.merged is not None:
        merged = Case.merged_into.is_not(None)
        conds.append(merged if f.merged else ~merged)
    return conds


def complaint_conditions(f: Filters, *, texts: bool = False) -> list[ColumnElement[bool]]:
    """Channel, origin and text belong to complaints: one of the case's complaints must
    match them all (a merged-away case holds none; its survivor does). ``texts``: on
    ``complaint_texts``, the same columns of the same complaints, and the case's province
    again (the caller keeps the case's own condition) so the trigram index's matches are
    narrowed in the index."""
    table: Any = ComplaintText if texts else Complaint
    conds: list[ColumnElement[bool]] = []
    if texts and f.province:  # the case's province, copied: narrows, never widens
        conds.append(ComplaintText.province_code.in_(f.province))
    if f.channel:
        conds.append(table.channel.in_(f.channel))
    if f.origin:
        conds.append(table.origin_system.in_(f.origin))
    if f.q:
        conds.append(text_match(f.q, table.public_text))
    return conds


def own_conditions(f: Filters, table: Any) -> list[ColumnElement[bool]]:
    """The filters on a case's own columns (area, category, status, owner, reported and
    resolved ranges) on ``table``: ``cases`` or ``case_facts``, which name them alike."""
    conds: list[ColumnElement[bool]] = []
    for values, name in (
        (f.province, "province_code"),
        (f.amphoe, "amphoe_code"),
        (f.tambon, "tambon_code"),
        (f.category, "category"),
        (f.status, "status"),
        (f.owner, "owner"),
    ):
        if values:
            conds.append(getattr(table, name).in_(values))
    if f.reported_from is not None:
        conds.append(table.reported_at >= f.reported_from)
    if f.reported_to is not None:
        conds.append(table.reported_at < f.reported_to)
    if f.resolved_from is not None:
        conds.append(table.resolved_at >= f.resolved_from)
    if f.resolved_to is not None:
        conds.append(table.resolved_at < f.resolved_to)
    return conds


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def rounded(value: float | None) -> float | None:
    """Coordinates to three decimals (about 110 m): a street, not a house."""
    return None if value is None else round(value, 3)

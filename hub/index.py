"""The national complaint index: search, count, export and drill-down over cases.

One item per case, public by construction: free text is scrubbed of phone numbers,
e-mail addresses and national IDs (``hub.privacy``), coordinates are rounded to about
110 m, and neither the sealed ``personal`` column nor the complaint record is ever read
(the citizen's satisfaction rating comes from its own derived column). Text search runs
over ``complaints.public_text``, the scrubbed copy, so nobody can find a complaint by its
reporter's phone number (on PostgreSQL over its narrow copy in ``complaint_texts``, kept by
``hub.index_facts``; pages and counts read ``case_facts`` too, and only the page's own
cases are then read from ``cases``). Statistics and the map are in ``hub.index_stats``.

Pages are keyset pages on ``(sort key, case id)``: a cursor names the last row seen, so
rows inserted meanwhile never shift a page (nothing is skipped or repeated).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Executable,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler

from hub import index_fast as fast
from hub.errors import FieldError, NotFound, RequestInvalid
from hub.exchange.tokens import Principal
from hub.index_facts import refresh
from hub.index_filters import Filters, dialect, iso, rounded, sees_all, visible, where
from hub.index_stats import map_geojson, stats, use_fast
from hub.models import (
    Case,
    CaseEvent,
    CaseFacts,
    CaseParty,
    Complaint,
    IndexParty,
    satisfaction_of,
)
from hub.privacy import public_text, scrub

__all__ = [
    "EXACT_COUNT_LIMIT",
    "EXPORT_CHUNK",
    "FIELDS",
    "SORTS",
    "TEXT_COUNT_LIMIT",
    "Filters",
    "case_detail",
    "count",
    "csv_header",
    "csv_lines",
    "export_rows",
    "map_geojson",
    "public_text",
    "satisfaction_of",
    "search",
    "stats",
]

SORTS: dict[str, tuple[InstrumentedAttribute[Any], bool]] = {
    "reported_at": (Case.reported_at, False),
    "resolved_at": (Case.resolved_at, True),
}
"""Sort keys and whether they may be missing, each served by a ``(key, id)`` index;
``-key`` is newest first. A missing value (an unresolved case's ``resolved_at``) sorts as
the largest, as PostgreSQL does. ``reported_at`` is never missing (see ``Case``), which
keeps its pages plain index range scans."""

EXACT_COUNT_LIMIT = 50_000
"""Counting stops here on PostgreSQL; past it the planner's estimate is returned instead
(``exact: false``), so a count over the whole country stays as fast as a page."""
TEXT_COUNT_LIMIT = 1_000
"""The same for a text search, lower: each candidate row is read to check the match."""

EXPORT_CHUNK = 500
FIELDS = (
    "case_id",
    "status",
    "category",
    "province",
    "amphoe",
    "tambon",
    "owner",
    "agencies",
    "channels",
    "origin_system",
    "subject",
    "description",
    "reported_at",
    "accepted_at",
    "resolved_at",
    "accept_due",
    "resolve_due",
    "sla_breached",
    "merged_into",
    "reopen_count",
    "satisfaction",
    "lat",
    "lon",
)
"""An item's members, in the order of the CSV export's columns."""


# --------------------------------------------------------------------------- search


def search(
    session: Session,
    f: Filters,
    *,
    viewer: Principal,
    sort: str = "-reported_at",
    limit: int = 50,
    cursor: str | None = None,
    live: bool = False,
) -> dict[str, Any]:
    """One page: ``{"items": [...], "next_cursor": str | None}``.

    On PostgreSQL (unless ``live``) the page is read from the narrow tables the fold
    keeps, after the fold (:func:`_search_statement`): ``case_facts`` with an index for
    every sort behind every equality filter, ``complaint_texts`` for text, ``index_parties``
    for an agency's own view and for ``agency=X`` by date; the same cases in the same order
    as the live tables give, and the same cursors.

    Raises RequestInvalid (pointer ``/query/cursor``) for a cursor this index did not issue
    for these filters and sort, and (``/query/sort``) for an unknown sort.
    """
    key, descending = _sort_key(sort)
    stmt, order_key, order_id = _search_statement(session, f, viewer, key, live)
    if cursor is not None:
        position = _decode(cursor, f, sort)
        stmt = stmt.where(_after(order_key, order_id, descending, position))
    stmt = stmt.order_by(*_order(order_key, order_id, descending)).limit(limit + 1)
    cases = _cases(session, stmt)
    more, cases = len(cases) > limit, cases[:limit]
    last = cases[-1] if cases else None
    return {
        "items": items(session, cases),
        "next_cursor": _encode(f, sort, getattr(last, key.key), last.id) if more and last else None,
    }


def count(session: Session, f: Filters, *, viewer: Principal, live: bool = False) -> dict[str, Any]:
    """``{"total": int, "exact": bool}``: exact up to :data:`EXACT_COUNT_LIMIT` (with text,
    :data:`TEXT_COUNT_LIMIT`; always exact on SQLite), else PostgreSQL's row estimate for
    the same query, never below the limit. PostgreSQL counts the narrow ``case_facts``
    (``hub.index_fast``; a channel or origin is a column there, text is matched in the
    narrow ``complaint_texts``) unless ``live``; filters that are all cube dimensions are
    summed from ``index_cube`` first (:func:`_cube_count`)."""
    matching = select(Case.id).where(*where(f, viewer))
    if dialect(session) != "postgresql":
        return {"total": session.scalar(_counted(matching)) or 0, "exact": True}
    cap = TEXT_COUNT_LIMIT if f.q else EXACT_COUNT_LIMIT
    found: int | None = None
    if use_fast(session, live):
        matching = fast.matching_ids(f, viewer)
        if fast.wants_texts(f):
            found = fast.text_count(session, f, viewer, cap)
        elif fast.cube_answers(f, viewer):
            found = _cube_count(session, f, viewer, cap)
    capped: int = (
        found if found is not None else session.scalar(_counted(matching.limit(cap + 1))) or 0
    )
    if capped <= cap:
        return {"total": capped, "exact": True}
    plan = session.execute(_Explain(matching)).scalar_one()
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return {"total": max(estimate, cap + 1), "exact": False}


def export_rows(session: Session, f: Filters, *, viewer: Principal) -> Iterator[dict[str, Any]]:
    """Every matching item, newest first, read in keyset chunks: memory stays constant
    however many rows match. (The HTTP export runs each chunk in its own transaction.)"""
    cursor: str | None = None
    while True:
        page = search(session, f, viewer=viewer, limit=EXPORT_CHUNK, cursor=cursor)
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def case_detail(session: Session, case_id: str, *, viewer: Principal) -> dict[str, Any]:
    """An item and its timeline (who did what when; no free text). NotFound if the case
    does not exist or the viewer may not see it (no oracle for other agencies' cases)."""
    case = session.scalars(select(Case).where(Case.id == case_id, visible(viewer))).first()
    if case is None:
        raise NotFound(f"no case {case_id!r} visible to {viewer.agency}")
    detail = items(session, [case])[0]
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    )
    detail["timeline"] = [
        {
            "at": iso(e.created_at),
            "type": e.type,
            "actor": e.actor,
            "status_from": e.status_from,
            "status_to": e.status_to,
            "owner": e.owner,
        }
        for e in events
    ]
    return detail


# --------------------------------------------------------------------------- CSV

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_header() -> str:
    return _csv_line(FIELDS)


def csv_lines(rows: Sequence[dict[str, Any]]) -> str:
    """Items as CSV lines (RFC 4180, CRLF): lists joined with ``;``, booleans as
    ``true``/``false``, nothing as an empty cell."""
    return "".join(_csv_line([_cell(row[name]) for name in FIELDS]) for row in rows)


def _cell(value: Any) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (a citizen
    wrote the text; Excel users open this file)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ";".join(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA) else value
    return str(value)


def _csv_line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


# --------------------------------------------------------------------------- items


def items(session: Session, cases: Sequence[Case]) -> list[dict[str, Any]]:
    """The public items of these cases: two queries for the whole page, not two per case."""
    ids = [c.id for c in cases]
    if not ids:
        return []
    agencies: dict[str, set[str]] = defaultdict(set)
    for case_id, agency in session.execute(
        select(CaseParty.case_id, CaseParty.agency).where(CaseParty.case_id.in_(ids))
    ):
        agencies[case_id].add(agency)
    complaints: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(
        select(
            Complaint.case_id,
            Complaint.channel,
            Complaint.origin_system,
            Complaint.subject,
            Complaint.description,
            Complaint.satisfaction,
        )
        .where(Complaint.case_id.in_(ids))
        .order_by(Complaint.reported_at, Complaint.id)
    ):
        complaints[row.case_id].append(row)
    return [_item(c, sorted(agencies[c.id]), complaints[c.id]) for c in cases]


def _item(case: Case, agencies: list[str], complaints: list[Any]) -> dict[str, Any]:
    """The case's text is its first complaint's; a case merged away holds no complaint
    (they moved to ``merged_into``), so its text is empty."""
    first = complaints[0] if complaints else None
    ratings = [c.satisfaction for c in complaints if c.satisfaction is not None]
    return {
        "case_id": case.id,
        "status": case.status,
        "category": case.category,
        "province": case.province_code,
        "amphoe": case.amphoe_code,
        "tambon": case.tambon_code,
        "owner": case.owner,
        "agencies": agencies,
        "channels": sorted({c.channel for c in complaints}),
        "origin_system": first.origin_system if first else None,
        "subject": (scrub(first.subject) or "") if first else "",
        "description": (scrub(first.description) or "") if first else "",
        "reported_at": iso(case.reported_at),
        "accepted_at": iso(case.accepted_at),
        "resolved_at": iso(case.resolved_at),
        "accept_due": iso(case.accept_due),
        "resolve_due": iso(case.resolve_due),
        "sla_breached": case.accept_breached_at is not None or case.resolve_breached_at is not None,
        "merged_into": case.merged_into,
        "reopen_count": case.reopen_count,
        "satisfaction": int(sum(ratings) / len(ratings) + 0.5) if ratings else None,
        "lat": rounded(case.lat),
        "lon": rounded(case.lon),
    }


# --------------------------------------------------------------------------- keyset


def _search_statement(
    session: Session, f: Filters, viewer: Principal, key: InstrumentedAttribute[Any], live: bool
) -> tuple[Select[Any], Any, Any]:
    """The page's query and the ``(key, id)`` columns it is ordered by: ``Case`` rows
    (live: SQLite, or ``live``), or on PostgreSQL, after the fold, the cases' ids.

    PostgreSQL pages are read from ``case_facts``, whose ``(filter column, sort key,
    case_id)`` indexes (migration 0011) serve every sort behind every equality filter: a
    page reads about its own rows, not every match sorted nor the whole sort index
    filtered. An agency's own cases by ``reported_at``, and an oversight body's cases of
    one agency (``agency=X``), are a range of ``index_parties`` (agency, reported_at,
    case_id), each joined to its case: fifty rows read, not all of the agency's cases
    sorted. Both tables hold the cases' own sort keys once folded, so the order and the
    cursors are the live tables'."""
    if live or dialect(session) != "postgresql":
        return select(Case).where(*where(f, viewer)), key, Case.id
    refresh(session)
    by_date = key.key == "reported_at"
    stmt: Select[Any]
    if not sees_all(viewer) and by_date:
        own = where(f, viewer, texts=fast.wants_texts(f), visibility=False)
        stmt = (
            select(Case)
            .where(*own)
            .join(
                IndexParty, and_(IndexParty.case_id == Case.id, IndexParty.agency == viewer.agency)
            )
        )
        return stmt, IndexParty.reported_at, IndexParty.case_id
    if sees_all(viewer) and by_date and len(f.agency) == 1:
        rest = fast.facts_where(replace(f, agency=()), viewer)
        stmt = (
            select(IndexParty.case_id)
            .join(CaseFacts, CaseFacts.case_id == IndexParty.case_id)
            .where(IndexParty.agency == f.agency[0], *rest)
        )
        return stmt, IndexParty.reported_at, IndexParty.case_id
    conds = fast.facts_where(f, viewer)
    if _other_date_range(f, key.key):
        matches = select(CaseFacts.case_id, getattr(CaseFacts, key.key)).where(*conds)
        if _estimated_rows(session, matches) <= GATHER_LIMIT:
            gathered = matches.cte("matches").prefix_with("MATERIALIZED")
            return select(gathered.c.case_id), gathered.c[key.key], gathered.c.case_id
    stmt = select(CaseFacts.case_id).where(*conds)
    return stmt, getattr(CaseFacts, key.key), CaseFacts.case_id


GATHER_LIMIT = 50_000
"""A page sorted by one date behind a range of the other gathers the range's matches and
sorts them when PostgreSQL expects at most this many (below)."""


def _other_date_range(f: Filters, key: str) -> bool:
    """Is the page sorted by one date and narrowed by a range of the other?

    The two are correlated (a case is resolved after it is reported), so the matches of a
    range of one lie together at one end of the other's order, while PostgreSQL, walking
    the sort index, expects them spread along it: cases reported in one month, newest-
    resolved first, walked 197,400 buffers of ``case_facts`` at 1M (105 ms) to fill a page
    that gathering the month's 16,694 cases and sorting them fills from 1,679 (13 ms)."""
    if key == "resolved_at":
        return f.reported_from is not None or f.reported_to is not None
    return f.resolved_from is not None or f.resolved_to is not None


def _estimated_rows(session: Session, stmt: Select[Any]) -> int:
    plan = session.execute(_Explain(stmt)).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


def _cases(session: Session, stmt: Select[Any]) -> list[Case]:
    """The page's cases in the statement's order: it selects ``Case`` rows, or the cases'
    ids (``case_facts``, ``index_parties``), which are then read by primary key."""
    found: list[Any] = list(session.scalars(stmt))
    if not found or isinstance(found[0], Case):
        return found
    by_id = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(found)))}
    return [by_id[i] for i in found if i in by_id]


def _sort_key(sort: str) -> tuple[InstrumentedAttribute[Any], bool]:
    if sort.removeprefix("-") not in SORTS:
        raise RequestInvalid(
            f"unknown sort {sort!r}",
            errors=[FieldError("/query/sort", f"one of {sorted(SORTS)}, optionally with '-'")],
        )
    return SORTS[sort.removeprefix("-")][0], sort.startswith("-")


def _order(key: InstrumentedAttribute[Any], ident: Any, descending: bool) -> list[Any]:
    """NULL is the largest value on both backends (SQLite's default is the opposite)."""
    if not _nullable(key):
        return [key.desc(), ident.desc()] if descending else [key.asc(), ident.asc()]
    if descending:
        return [key.desc().nulls_first(), ident.desc()]
    return [key.asc().nulls_last(), ident.asc()]


def _after(
    key: InstrumentedAttribute[Any],
    ident: Any,
    descending: bool,
    position: tuple[datetime | None, str],
) -> ColumnElement[bool]:
    """Rows strictly after ``position`` in the page order (NULL keys last ascending, first
    descending)."""
    value, case_id = position
    if value is None:
        beyond_id = ident < case_id if descending else ident > case_id
        tail = and_(key.is_(None), beyond_id)
        return or_(key.is_not(None), tail) if descending else tail
    # a row-value comparison is one index range condition on PostgreSQL (an OR of the two
    # cases is a filter, which makes a deep page scan everything before it)
    here = tuple_(literal(value, key.type), literal(case_id, ident.type))
    if descending:
        return tuple_(key, ident) < here
    later = tuple_(key, ident) > here
    return or_(later, key.is_(None)) if _nullable(key) else later


def _nullable(key: InstrumentedAttribute[Any]) -> bool:
    return SORTS[key.key][1]


def _digest(f: Filters, sort: str, position: list[Any]) -> str:
    """Binds a cursor to its filters and sort. Not a secret: a forged position only moves
    where a page starts; what the viewer may see is decided afresh on every request."""
    doc = json.dumps([f.canonical(), sort, position], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def _encode(f: Filters, sort: str, value: datetime | None, case_id: str) -> str:
    position = [iso(value), case_id]
    raw = json.dumps({"p": position, "d": _digest(f, sort, position)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, f: Filters, sort: str) -> tuple[datetime | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
        position, digest = doc["p"], doc["d"]
        value, case_id = position
        if not isinstance(case_id, str) or not isinstance(digest, str):
            raise TypeError("cursor members have the wrong types")
        when = datetime.fromisoformat(value.replace("Z", "+00:00")) if value is not None else None
        if when is not None and when.tzinfo is None:
            raise ValueError("cursor time without a zone")
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _bad_cursor("not a cursor this index issued") from exc
    if not hmac.compare_digest(digest, _digest(f, sort, position)):
        raise _bad_cursor("the cursor was altered, or belongs to other filters or another sort")
    return when, case_id


def _bad_cursor(why: str) -> RequestInvalid:
    return RequestInvalid(why, errors=[FieldError("/query/cursor", why)])


# --------------------------------------------------------------------------- counting


CUBE_COUNT_ROWS = 10_000
"""How many cube cells (and edge cases) a count sums at most before it gives up."""


def _cube_count(session: Session, f: Filters, viewer: Principal, cap: int) -> int | None:
    """The number of matching cases if it is at most ``cap``, ``cap + 1`` if it is more,
    or None when this shortcut cannot tell, like ``hub.index_fast.text_count``.

    Sums ``n`` over at most :data:`CUBE_COUNT_ROWS` rows of ``hub.index_fast.source``
    (cube cells, and single cases for the partial months at a date range's ends): fewer
    rows than that means the sum is the exact total; a sum past ``cap`` means the count is.
    Counting the cases themselves visits every match (a category's open cases at 1M: 15,360
    rows on 11,404 pages of ``case_facts``, 12,111 buffers, against 4,720 cells in 2,881);
    summing the whole cube would cost 190k cells when the whole country matches (22 ms
    against 9 ms for counting the first 50,001 cases)."""
    src = fast.source(f, viewer)
    some = select(src.c.n).limit(CUBE_COUNT_ROWS).subquery()
    rows, total = session.execute(select(func.count(), func.coalesce(func.sum(some.c.n), 0))).one()
    if total > cap:
        return cap + 1
    return int(total) if rows < CUBE_COUNT_ROWS else None


def _counted(stmt: Select[Any]) -> Select[Any]:
    return select(func.count()).select_from(stmt.subquery())


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <stmt>`` with the statement's parameters bound as usual."""

    inherit_cache = False

    def __init__(self, stmt: Select[Any]) -> None:
        self.statement = stmt


@compiles(_Explain, "postgresql")
def _explain_sql(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)

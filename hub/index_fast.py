"""The index's fast path on PostgreSQL: the same answers as the live queries, read from
``case_facts`` (one narrow row per case) and ``index_cube`` (its sums by Bangkok month,
province, category, status, breached and merged), which ``hub.index_facts`` keeps fresh.

Counts, rates, satisfaction, groups by province/category/status/month and the province
map come from the cube when the filters are its dimensions; a reported-date range takes
the whole months inside it from the cube and the partial months at its ends from
``case_facts``. Anything else (an owner, a party agency, an amphoe, a channel, ...) is
answered from ``case_facts`` alone. Medians and 90th percentiles stay exact
``percentile_cont`` over ``case_facts``: their cost grows with the matching cases.

What one complaint must match on its own (text; channel and origin together) is read from
``complaint_texts``, the complaints' narrow copy with its own trigram index, never from
the two-kilobyte ``complaints`` rows; a text count takes its matches from that index first
(:func:`text_count`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from hub.cases import CLOSED
from hub.exchange.tokens import Principal
from hub.index_facts import MEASURES
from hub.index_filters import (
    BANGKOK_OFFSET_HOURS,
    Filters,
    complaint_conditions,
    own_conditions,
    sees_all,
)
from hub.models import CaseFacts, CaseParty, ComplaintText, IndexCube, IndexRollup

CUBE_DIMENSIONS = frozenset({"province", "category", "status", "month"})
ALL_TIME = "*"  # the period of the summaries over every case
_BANGKOK = timedelta(hours=BANGKOK_OFFSET_HOURS)


# --------------------------------------------------------------------------- filters


def facts_where(f: Filters, viewer: Principal) -> list[ColumnElement[bool]]:
    """``hub.index_filters.where`` on ``case_facts``: the same cases, condition for
    condition."""
    conds: list[ColumnElement[bool]] = []
    if not sees_all(viewer):
        conds.append(_party(viewer.agency))
    conds += own_conditions(f, CaseFacts)
    if f.agency:
        conds.append(
            CaseFacts.case_id.in_(select(CaseParty.case_id).where(CaseParty.agency.in_(f.agency)))
        )
    conds += _complaint_conditions(f)
    if f.sla_breached is not None:
        conds.append(CaseFacts.breached.is_(f.sla_breached))
    if f.merged is not None:
        conds.append(CaseFacts.merged.is_(f.merged))
    return conds


def _party(agency: str) -> ColumnElement[bool]:
    return CaseFacts.case_id.in_(select(CaseParty.case_id).where(CaseParty.agency == agency))


def _has_any(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    expr: ColumnElement[bool] = column.op("?|", return_type=Boolean)(
        postgresql.array(sorted(values))
    )
    return expr


def wants_texts(f: Filters) -> bool:
    """Must one complaint match several conditions (text, or channel and origin)? Then
    the complaints' own rows answer: ``complaint_texts``, their narrow copy."""
    return bool(f.q or (f.channel and f.origin))


def _complaint_conditions(f: Filters) -> list[ColumnElement[bool]]:
    """One channel or one origin set: the case's folded lists answer it. Both, or text:
    one complaint must match them all, which only its own row can tell."""
    if wants_texts(f):
        conds = complaint_conditions(f, texts=True)
        return [CaseFacts.case_id.in_(select(ComplaintText.case_id).where(and_(*conds)))]
    if f.channel:
        return [_has_any(CaseFacts.channels, f.channel)]
    if f.origin:
        return [_has_any(CaseFacts.origins, f.origin)]
    return []


def is_open() -> ColumnElement[bool]:
    return CaseFacts.status.not_in(sorted(CLOSED))


def cube_answers(f: Filters, viewer: Principal) -> bool:
    """Are these filters all dimensions of the cube (or a reported-date range)?"""
    return sees_all(viewer) and not (
        f.amphoe
        or f.tambon
        or f.owner
        or f.agency
        or f.channel
        or f.origin
        or f.q
        or f.resolved_from
        or f.resolved_to
    )


# --------------------------------------------------------------------------- months


def month_start(when: datetime, *, up: bool) -> datetime:
    """The start (UTC) of the Bangkok month holding ``when``, or of the next one when
    ``up`` and ``when`` is not itself a month's start."""
    local = (when.astimezone(UTC) + _BANGKOK).replace(tzinfo=None)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if up and start != local:
        start = (start + timedelta(days=32)).replace(day=1)
    return (start - _BANGKOK).replace(tzinfo=UTC)


def _label(start: datetime) -> str:
    return (start + _BANGKOK).strftime("%Y-%m")


@dataclass(frozen=True)
class Window:
    """Which reported times the cube answers (whole Bangkok months ``[low, high)``; None
    is unbounded) and which ``case_facts`` must (the rest of the filter's range)."""

    low: datetime | None
    high: datetime | None
    empty: bool  # no whole month inside the range: case_facts answers all of it

    @classmethod
    def of(cls, f: Filters) -> Window:
        low = None if f.reported_from is None else month_start(f.reported_from, up=True)
        high = None if f.reported_to is None else month_start(f.reported_to, up=False)
        empty = low is not None and high is not None and low >= high
        return cls(low, high, empty)

    def cube(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.low is not None or self.high is not None:
            conds.append(IndexCube.month != "")  # a case without a time is in no range
        if self.low is not None:
            conds.append(IndexCube.month >= _label(self.low))
        if self.high is not None:
            conds.append(IndexCube.month < _label(self.high))
        return conds

    def labels(self) -> tuple[str | None, str | None]:
        """The whole months as cube labels ``[low, high)``; None is unbounded."""
        return (
            None if self.low is None else _label(self.low),
            None if self.high is None else _label(self.high),
        )

    def edges(self) -> ColumnElement[bool] | None:
        """The facts outside the cube's months (None: there are none)."""
        parts: list[ColumnElement[bool]] = []
        if self.low is not None:
            parts.append(CaseFacts.reported_at < self.low)
        if self.high is not None:
            parts.append(CaseFacts.reported_at >= self.high)
        return or_(*parts) if parts else None


@dataclass(frozen=True)
class Periods:
    """A window's whole months split into whole Bangkok years (``[years[0], years[1])``,
    None unbounded; None when no whole year is inside) and the months left over, as
    ``[from, to)`` month-label ranges: the years are read from the summaries over time
    (``index_rollup``, ``index_times``), the months from the monthly cells."""

    years: tuple[str | None, str | None] | None
    months: tuple[tuple[str | None, str | None], ...]

    @classmethod
    def of(cls, window: Window) -> Periods:
        low, high = window.labels()
        first = None if low is None else low[:4] if low[5:] == "01" else str(int(low[:4]) + 1)
        last = None if high is None else high[:4]
        if first is not None and last is not None and first >= last:
            return cls(None, ((low, high),))
        months = []
        if low is not None and low < f"{first}-01":
            months.append((low, f"{first}-01"))
        if high is not None and f"{last}-01" < high:
            months.append((f"{last}-01", high))
        return cls((first, last), tuple(months))

    def year_conditions(self, period: Any) -> list[ColumnElement[bool]] | None:
        """``period`` (``*``, ``YYYY`` or ``YYYY-MM`` labels) on the whole years; None:
        there are none."""
        if self.years is None:
            return None
        conds = [func.length(period) == 4]
        if self.years[0] is not None:
            conds.append(period >= self.years[0])
        if self.years[1] is not None:
            conds.append(period < self.years[1])
        return conds

    def month_conditions(self, month: Any) -> ColumnElement[bool] | None:
        """``month`` (``YYYY-MM`` labels, ``""`` for no time) in the leftover months."""
        parts = []
        for low, high in self.months:
            conds = [month != ""]
            if low is not None:
                conds.append(month >= low)
            if high is not None:
                conds.append(month < high)
            parts.append(and_(*conds))
        return or_(*parts) if parts else None


# --------------------------------------------------------------------------- the source


def _one(cond: Any) -> ColumnElement[int]:
    return case((cond, 1), else_=0)


def _facts_rows(conds: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """Cases as cube-shaped rows of one case each."""
    columns: list[Any] = [
        func.coalesce(CaseFacts.month, "").label("month"),
        func.coalesce(CaseFacts.province_code, "").label("province_code"),
        CaseFacts.category,
        CaseFacts.status,
        CaseFacts.breached,
        CaseFacts.merged,
        literal(1, Integer).label("n"),
        _one(CaseFacts.resolved_at.is_not(None)).label("resolved"),
        _one(CaseFacts.reopened).label("reopened"),
        _one(or_(CaseFacts.resolved_at.is_not(None), CaseFacts.reopened)).label("ever_resolved"),
        CaseFacts.sat_sum,
        CaseFacts.sat_n,
        func.coalesce(CaseFacts.lat, 0.0).label("lat_sum"),
        _one(CaseFacts.lat.is_not(None)).label("lat_n"),
        func.coalesce(CaseFacts.lon, 0.0).label("lon_sum"),
        _one(CaseFacts.lon.is_not(None)).label("lon_n"),
    ]
    return select(*columns).where(*conds)


_SUMMED = ("province_code", "category", "status", "breached", "merged", *MEASURES)


def _dimension_conditions(f: Filters, table: Any) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for values, column in (
        (f.province, table.province_code),
        (f.category, table.category),
        (f.status, table.status),
    ):
        if values:
            conds.append(column.in_(values))
    if f.sla_breached is not None:
        conds.append(table.breached.is_(f.sla_breached))
    if f.merged is not None:
        conds.append(table.merged.is_(f.merged))
    return conds


def _cube_rows(f: Filters, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    columns = [IndexCube.month, *(getattr(IndexCube, c) for c in _SUMMED)]
    return select(*columns).where(*where, *_dimension_conditions(f, IndexCube))


def _rollup_rows(f: Filters, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    columns = [IndexRollup.period.label("month"), *(getattr(IndexRollup, c) for c in _SUMMED)]
    return select(*columns).where(*where, *_dimension_conditions(f, IndexRollup))


def source(f: Filters, viewer: Principal, *, months: bool = False) -> Subquery:
    """The matching cases as weighted cube-shaped rows: summary cells where they answer,
    single cases elsewhere. Summing any measure over it gives the live figure.

    Without ``months`` (the result is not grouped by month) whole years and all time are
    read from ``index_rollup``: about twenty thousand cells for the whole country instead
    of the cube's two hundred thousand monthly ones; ``month`` then holds a period label."""
    conds = facts_where(f, viewer)
    if not cube_answers(f, viewer):
        return _facts_rows(conds).subquery("src")
    window = Window.of(f)
    if window.empty:
        return _facts_rows(conds).subquery("src")
    edges = window.edges()
    if edges is None and not months:
        return _rollup_rows(f, [IndexRollup.period == ALL_TIME]).subquery("src")
    parts: list[Select[Any]] = []
    if months:
        parts.append(_cube_rows(f, window.cube()))
    else:
        periods = Periods.of(window)
        years = periods.year_conditions(IndexRollup.period)
        if years is not None:
            parts.append(_rollup_rows(f, years))
        leftover = periods.month_conditions(IndexCube.month)
        if leftover is not None:
            parts.append(_cube_rows(f, [leftover]))
    if edges is not None:
        parts.append(_facts_rows([*conds, edges]))
    return union_all(*parts).subquery("src") if len(parts) > 1 else parts[0].subquery("src")


def _open_of(src: Subquery) -> ColumnElement[bool]:
    return src.c.status.not_in(sorted(CLOSED))


def _sum_if(src: Subquery, cond: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((cond, src.c.n), else_=0)), 0)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Summary:
    """What one read of :func:`source` gives: the totals (rates, satisfaction), how many
    of the cases are open, and the counts by the dimensions asked for (None when they are
    not the cube's: the caller counts those elsewhere)."""

    totals: dict[str, Any]
    open: int
    groups: list[dict[str, Any]] | None


def summary(session: Session, f: Filters, viewer: Principal, group_by: Sequence[str]) -> Summary:
    """Totals, the open count and (for cube dimensions) the groups in ONE statement over
    :func:`source` (GROUPING SETS: the groups and the grand total): the summary cells are
    read once, not once per figure."""
    by_cube = set(group_by) <= CUBE_DIMENSIONS
    src = source(f, viewer, months=by_cube and "month" in group_by)
    measures = [
        func.coalesce(func.sum(src.c.n), 0),
        _sum_if(src, src.c.breached),
        func.coalesce(func.sum(src.c.reopened), 0),
        func.coalesce(func.sum(src.c.ever_resolved), 0),
        # numeric / numeric, which is what avg(smallint) computes
        func.sum(src.c.sat_sum) / func.nullif(func.sum(src.c.sat_n), 0),
        func.coalesce(func.sum(src.c.sat_n), 0),
        _sum_if(src, _open_of(src)),
    ]
    exprs = [_cube_key(src, name) for name in group_by] if by_cube else []
    if exprs:
        stmt = select(func.grouping(*exprs), *exprs, *measures).group_by(
            func.grouping_sets(tuple_(*exprs), tuple_())
        )
    else:
        stmt = select(literal(1), *measures)
    found: list[dict[str, Any]] = []
    total_row: Any = None
    for row in session.execute(stmt):
        if row[0]:  # the grand total
            total_row = row[1 + len(exprs) :]
        elif row[1 + len(exprs)]:  # a group with cases
            found.append({**dict(zip(group_by, row[1 : 1 + len(exprs)], strict=True))})
            found[-1]["count"] = int(row[1 + len(exprs)])
    groups = sorted(found, key=lambda r: (-r["count"], *(str(r[d]) for d in group_by)))
    return Summary(
        _totals(total_row), int(total_row[6]) if total_row else 0, groups if by_cube else None
    )


def _cube_key(src: Subquery, name: str) -> ColumnElement[Any]:
    column = src.c[_CUBE_KEYS[name]]
    # a literal, not a parameter: GROUP BY and GROUPING() must repeat the same expression
    return func.nullif(column, literal_column("''")) if name in ("province", "month") else column


def _totals(row: Any) -> dict[str, Any]:
    """Rates and satisfaction (``hub.index_stats._rates``, ``_satisfaction``)."""
    total, n_breached, n_reopened, n_resolved = (int(v or 0) for v in (row or (0,) * 4)[:4])
    mean, n_rated = (row[4], int(row[5] or 0)) if row else (None, 0)
    return {
        "total": total,
        "sla_breach_rate": n_breached / total if total else None,
        "reopen_rate": n_reopened / n_resolved if n_resolved else None,
        "satisfaction": {"mean": float(mean) if mean is not None else None, "count": n_rated},
    }


def groups(
    session: Session, f: Filters, viewer: Principal, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """Counts by dimensions that are not all the cube's, one case at a time."""
    stmt = facts_groups(facts_where(f, viewer), group_by)
    rows = [{**r._mapping, "count": int(r._mapping["count"])} for r in session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r["count"], *(str(r[d]) for d in group_by)))


_CUBE_KEYS = {"province": "province_code", "category": "category", "status": "status"}
_CUBE_KEYS["month"] = "month"
_FACT_KEYS: dict[str, Any] = {
    "province": CaseFacts.province_code,
    "category": CaseFacts.category,
    "status": CaseFacts.status,
    "agency": CaseFacts.owner,
    "month": CaseFacts.month,
}


def facts_groups(conds: Sequence[ColumnElement[bool]], group_by: Sequence[str]) -> Select[Any]:
    """Counts of the cases matching ``conds``, one by one. A case counts once under each
    distinct channel of its complaints."""
    channel = func.jsonb_array_elements_text(CaseFacts.channels).table_valued("value")
    exprs = [
        channel.c.value.label(name) if name == "channel" else _FACT_KEYS[name].label(name)
        for name in group_by
    ]
    stmt = select(*exprs, func.count().label("count")).select_from(CaseFacts)
    if "channel" in group_by:
        stmt = stmt.join(channel, true())
    return stmt.where(*conds).group_by(*exprs)


def backlog_counts(
    session: Session,
    f: Filters,
    viewer: Principal,
    buckets: ColumnElement[str],
    *,
    recent: datetime | None = None,
    oldest: str = "",
    open_total: int | None = None,
) -> dict[str, int]:
    """Open cases by age bucket. With ``recent`` (the start of the oldest bucket but one)
    and filters the summaries answer, only the open cases reported since the Bangkok month
    holding ``recent`` are read one by one (an index-only scan of ``ix_case_facts_open``);
    every other open case is in the ``oldest`` bucket, which is then the summaries' open
    total (``open_total``, or read here) less those. Otherwise every matching open case
    is read."""
    conds = [*facts_where(f, viewer), is_open()]
    cut = None
    if recent is not None and cube_answers(f, viewer):
        cut = month_start(recent, up=False)
        conds.append(CaseFacts.reported_at >= cut)
    aged = select(buckets.label("bucket")).where(*conds).subquery()
    found = {
        bucket: int(n)
        for bucket, n in session.execute(
            select(aged.c.bucket, func.count()).group_by(aged.c.bucket)
        )
    }
    if cut is not None:
        if open_total is None:
            src = source(f, viewer)
            open_total = int(session.execute(select(_sum_if(src, _open_of(src)))).scalar_one())
        found[oldest] = found.get(oldest, 0) + open_total - sum(found.values())
    return found


def performance_rows(session: Session, f: Filters, viewer: Principal) -> Any:
    """Per owner and per province (GROUPING SETS): counts and the exact percentiles."""
    fractions = postgresql.array([0.5, 0.9])
    stmt = (
        select(
            CaseFacts.owner,
            CaseFacts.province_code,
            func.grouping(CaseFacts.owner).label("per_province"),
            func.count().label("cases"),
            func.count(case((is_open(), 1))).label("open"),
            func.count(CaseFacts.resolved_at).label("resolved"),
            func.count(case((CaseFacts.breached, 1))).label("breached"),
            func.percentile_cont(fractions).within_group(CaseFacts.accept_h).label("a"),
            func.percentile_cont(fractions).within_group(CaseFacts.resolve_h).label("r"),
        )
        .where(*facts_where(f, viewer))
        .group_by(func.grouping_sets(CaseFacts.owner, CaseFacts.province_code))
    )
    return session.execute(stmt)


# --------------------------------------------------------------------------- map and count


def province_points(session: Session, f: Filters, viewer: Principal) -> list[tuple[Any, ...]]:
    """``(province, mean lon, mean lat, count, open, breached)`` per province."""
    src = source(f, viewer)
    stmt = (
        select(
            src.c.province_code,
            func.sum(src.c.lon_sum) / func.nullif(func.sum(src.c.lon_n), 0),
            func.sum(src.c.lat_sum) / func.nullif(func.sum(src.c.lat_n), 0),
            func.sum(src.c.n),
            _sum_if(src, _open_of(src)),
            _sum_if(src, src.c.breached),
        )
        .where(src.c.province_code != "")
        .group_by(src.c.province_code)
        .having(func.sum(src.c.n) > 0)
        .order_by(src.c.province_code)
    )
    return [
        (code, lon, lat, int(n), int(n_open), int(n_breached))
        for code, lon, lat, n, n_open, n_breached in session.execute(stmt)
    ]


def amphoe_points(session: Session, f: Filters, viewer: Principal) -> list[tuple[Any, ...]]:
    stmt = (
        select(
            CaseFacts.amphoe_code,
            func.avg(CaseFacts.lon),
            func.avg(CaseFacts.lat),
            func.count(),
            func.count(case((is_open(), 1))),
            func.count(case((CaseFacts.breached, 1))),
        )
        .where(*facts_where(f, viewer), CaseFacts.amphoe_code.is_not(None))
        .group_by(CaseFacts.amphoe_code)
        .order_by(CaseFacts.amphoe_code)
    )
    return [tuple(r) for r in session.execute(stmt)]


@contextmanager
def _without_seqscan(session: Session) -> Iterator[None]:
    """``enable_seqscan = off`` for the statements inside (transaction-local), then as it
    was: the current value is read in the same statement that changes it."""
    previous = session.execute(
        select(
            func.current_setting("enable_seqscan"), func.set_config("enable_seqscan", "off", True)
        )
    ).one()[0]
    try:
        yield
    finally:
        session.execute(select(func.set_config("enable_seqscan", previous, True)))


def text_count(session: Session, f: Filters, viewer: Principal, cap: int) -> int | None:
    """The number of matching cases if it is at most ``cap``, ``cap + 1`` if it is more,
    or None when this shortcut cannot tell (the caller then counts the usual way).

    Text matches are found from the trigram index first: up to ``2 * (cap + 1)`` matching
    complaints, the other filters checked on their cases. Fewer rows than asked means they
    were all of them; more than ``cap`` distinct cases among them means the count is past
    the cap. Either way the rest of the table is never read (the planner, asked for the
    same count as a semi-join under a LIMIT, walks every complaint in case order instead,
    ILIKE on each: half a second at 1M)."""
    wanted = 2 * (cap + 1)
    stmt = select(ComplaintText.case_id).where(*complaint_conditions(f, texts=True))
    rest = facts_where(replace(f, q=None, channel=(), origin=()), viewer)
    if rest:
        stmt = stmt.where(ComplaintText.case_id.in_(select(CaseFacts.case_id).where(*rest)))
    # The trigram index gives ~1.3 candidates per match, a sequential scan ~17 (3 µs of
    # ILIKE each on Thai text); PostgreSQL prices ILIKE like an integer comparison and
    # picks the scan for common words (115 ms against 42 ms for "ด่วน" at 1M).
    with _without_seqscan(session):
        rows = session.scalars(stmt.limit(wanted)).all()
    cases = len(set(rows))
    if cases > cap:
        return cap + 1
    return cases if len(rows) < wanted else None


def matching_ids(f: Filters, viewer: Principal) -> Select[Any]:
    """The matching cases' ids, for counting (``hub.index.count``)."""
    return select(CaseFacts.case_id).where(*facts_where(f, viewer))


__all__ = [
    "ALL_TIME",
    "Periods",
    "Summary",
    "Window",
    "amphoe_points",
    "backlog_counts",
    "cube_answers",
    "facts_groups",
    "facts_where",
    "groups",
    "matching_ids",
    "performance_rows",
    "province_points",
    "source",
    "summary",
    "text_count",
    "wants_texts",
]

"""Per-agency and per-province tables from ``index_times``: exact counts, approximate
times (``hub.histogram``: log-spaced buckets, a stated bound against ``percentile_cont``).

The cells hold, per owner agency (``kind`` ``owner``), per province and per channel, the
case counts and the histograms of every case (``period`` ``*``), of each category, of each
Bangkok year and of each Bangkok month. Filters on province, category or a reported-date
range are answered from them: all time or one category reads a few thousand cells; a range
reads its whole years and leftover months (``hub.index_fast.Periods``) and buckets the cases
at its partial ends on the fly (the same histograms, so the same answers). Any other filter
(a status, an owner, a channel, a category together with a range, ...) has no cells:
``hub.index_stats`` then answers exactly (see :func:`answers`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from hub import histogram
from hub.exchange.tokens import Principal
from hub.index_fast import (
    ALL_TIME,
    Periods,
    Window,
    cube_answers,
    facts_groups,
    facts_where,
    is_open,
)
from hub.index_filters import Filters
from hub.models import CaseFacts, IndexTimes

FRACTIONS = (0.5, 0.9)
KIND_KEYS = {"agency": "owner", "channel": "channel"}
"""Statistics dimensions kept as a ``kind`` of cell (``grp`` holds the dimension's value)."""


Part = tuple[Sequence[int], Sequence[int]]  # a stored histogram: buckets ascending, counts


@dataclass
class Group:
    """One row of a table being summed: counts and the parts of its two histograms (one
    stored cell's arrays are searched as they are; several are added up first)."""

    cases: int = 0
    open: int = 0
    resolved: int = 0
    breached: int = 0
    accept: list[Part] = field(default_factory=list)
    resolve: list[Part] = field(default_factory=list)

    def add_counts(self, cases: int, n_open: int, resolved: int, breached: int) -> None:
        self.cases += cases
        self.open += n_open
        self.resolved += resolved
        self.breached += breached

    def entry(self) -> dict[str, Any]:
        a50, a90 = _percentiles(self.accept)
        r50, r90 = _percentiles(self.resolve)
        return {
            "cases": self.cases,
            "open": self.open,
            "resolved": self.resolved,
            "accept_median_h": a50,
            "accept_p90_h": a90,
            "resolve_median_h": r50,
            "resolve_p90_h": r90,
            "breach_rate": self.breached / self.cases if self.cases else None,
        }


def _percentiles(parts: list[Part]) -> list[float | None]:
    if len(parts) == 1:
        return histogram.sorted_percentiles(*parts[0], FRACTIONS)
    return histogram.percentiles(histogram.merged(parts), FRACTIONS)


@dataclass(frozen=True)
class Plan:
    """Which cells answer (conditions on ``index_times``, None: none do) and which cases
    are bucketed one by one (conditions on ``case_facts``, None: none are)."""

    cells: list[ColumnElement[bool]] | None
    facts: list[ColumnElement[bool]] | None

    @classmethod
    def of(cls, f: Filters, viewer: Principal) -> Plan:
        conds = facts_where(f, viewer)
        if not _cells_answer(f, viewer):
            return cls(None, conds)
        province = [IndexTimes.province_code.in_(f.province)] if f.province else []
        window = Window.of(f)
        if f.reported_from is None and f.reported_to is None:
            category = (
                IndexTimes.category.in_(f.category)
                if f.category
                else IndexTimes.category == ALL_TIME
            )
            return cls([IndexTimes.period == ALL_TIME, category, *province], None)
        if window.empty:
            return cls(None, conds)
        periods = Periods.of(window)
        parts = []
        years = periods.year_conditions(IndexTimes.period)
        if years is not None:
            parts.append(years)
        months = periods.month_conditions(IndexTimes.period)
        if months is not None:
            parts.append([func.length(IndexTimes.period) == 7, months])
        cells = [IndexTimes.category == ALL_TIME, or_(*(and_(*p) for p in parts)), *province]
        edges = window.edges()
        return cls(cells, None if edges is None else [*conds, edges])


def _cells_answer(f: Filters, viewer: Principal) -> bool:
    """Cells exist per province, per category over all time and per period over all
    categories: not for the other filters, nor for a category with a range."""
    return (
        cube_answers(f, viewer)
        and not f.status
        and f.sla_breached is None
        and f.merged is None
        and not (f.category and (f.reported_from or f.reported_to))
    )


# --------------------------------------------------------------------------- tables


def answers(f: Filters, viewer: Principal) -> bool:
    """Do cells answer these filters (the cases outside them are a range's partial ends)?
    When none do, every matching case is read anyway, and sorting them for the exact
    percentiles costs less than bucketing them (1M cases, channel=hotline_1111: 775 ms
    exact against 1,013 ms bucketed), so the caller answers exactly."""
    return Plan.of(f, viewer).cells is not None


Table = list[tuple[str | None, dict[str, Any]]]


def performance(
    session: Session, f: Filters, viewer: Principal, *, cells: bool = True
) -> tuple[Table, Table]:
    """``(by_agency, by_province)`` with exact counts and approximate times.
    ``cells=False`` buckets every matching case on the fly (the tests compare the two)."""
    plan = Plan.of(f, viewer) if cells else Plan(None, facts_where(f, viewer))
    tables: dict[str, dict[str, Group]] = {"owner": {}, "province": {}}
    # Core execution: psycopg2 parses the arrays (in C), no ORM row processing after it
    conn = session.connection()
    with _collector_paused():
        if plan.cells is not None:
            _add(tables, conn.execute(_cells(plan.cells)))
        if plan.facts is not None:
            _add(tables, _facts_rows(conn, plan.facts))
        return _ordered(tables["owner"]), _ordered(tables["province"])


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing a few thousand rows of arrays allocates tens of thousands of lists; each
    few hundred set off a cyclic garbage collection that walks all of them again (a
    third of the time at a million cases, by cProfile). None of them can form a cycle."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _add(tables: dict[str, dict[str, Group]], rows: Iterable[Any]) -> None:
    """Rows of (kind, group, counts..., histograms...) into the tables being summed."""
    for kind, key, n, n_open, resolved, breached, ak, ac, rk, rc in rows:
        group = tables[kind].get(key)
        if group is None:
            group = tables[kind][key] = Group()
        group.add_counts(n, n_open, resolved, breached)
        if ak:
            group.accept.append((ak, ac))
        if rk:
            group.resolve.append((rk, rc))


def _raw(column: Any) -> Any:
    """An array column left as psycopg2 parsed it (SQLAlchemy's ARRAY would then visit
    every element in Python)."""
    return type_coerce(column, NullType())


def _cells(conds: list[ColumnElement[bool]]) -> Select[Any]:
    t = IndexTimes
    key = case((t.kind == "owner", t.grp), else_=t.province_code)
    arrays = (t.a_keys, t.a_counts, t.r_keys, t.r_counts)
    return select(t.kind, key, t.cases, t.open, t.resolved, t.breached, *map(_raw, arrays)).where(
        t.kind.in_(("owner", "province")), *conds
    )


# GROUPING(owner, province, accept bucket, resolve bucket) of each grouping set of
# :func:`_bucketed`: which table a row belongs to and what it holds
_SETS = {
    0b0101: ("owner", "a"),
    0b1001: ("province", "a"),
    0b0110: ("owner", "r"),
    0b1010: ("province", "r"),
    0b0111: ("owner", "n"),
    0b1011: ("province", "n"),
}
_NONE: Part = ((), ())


def _bucketed(conds: list[ColumnElement[bool]]) -> Select[Any]:
    """The matching cases per owner and per province, bucketed in SQL
    (``hub.index_facts.TIMES_DELTA``'s arithmetic) in one pass (GROUPING SETS): counts, and
    per bucket how many, as the cells' arrays. A row per group and set, never per case."""
    owner = func.coalesce(CaseFacts.owner, "")
    province = func.coalesce(CaseFacts.province_code, "")
    a = histogram.bucket_sql(CaseFacts.accept_h)
    r = histogram.bucket_sql(CaseFacts.resolve_h)
    inner = (
        select(
            func.grouping(owner, province, a, r).label("gs"),
            func.coalesce(owner, province).label("key"),
            func.coalesce(a, r).label("b"),
            func.count().label("n"),
            func.count(case((is_open(), 1))).label("n_open"),
            func.count(CaseFacts.resolved_at).label("resolved"),
            func.count(case((CaseFacts.breached, 1))).label("breached"),
        )
        .where(*conds)
        .group_by(
            func.grouping_sets(
                tuple_(owner, a),
                tuple_(province, a),
                tuple_(owner, r),
                tuple_(province, r),
                tuple_(owner),
                tuple_(province),
            )
        )
        .subquery()
    )
    has_bucket = inner.c.b.is_not(None)
    return select(
        inner.c.gs,
        inner.c.key,
        func.sum(inner.c.n),
        func.sum(inner.c.n_open),
        func.sum(inner.c.resolved),
        func.sum(inner.c.breached),
        _raw(func.array_agg(aggregate_order_by(inner.c.b, inner.c.b)).filter(has_bucket)),
        _raw(func.array_agg(aggregate_order_by(inner.c.n, inner.c.b)).filter(has_bucket)),
    ).group_by(inner.c.gs, inner.c.key)


def _facts_rows(conn: Any, conds: list[ColumnElement[bool]]) -> Iterator[tuple[Any, ...]]:
    """:func:`_bucketed`'s rows in the cells' shape (one per table, group and set)."""
    for gs, key, n, n_open, resolved, breached, keys, counts in conn.execute(_bucketed(conds)):
        kind, what = _SETS[gs]
        if what == "n":
            yield (kind, key, int(n), int(n_open), int(resolved), int(breached), *_NONE, *_NONE)
        elif keys:
            a, r = ((keys, counts), _NONE) if what == "a" else (_NONE, (keys, counts))
            yield (kind, key, 0, 0, 0, 0, *a, *r)


def _ordered(groups: dict[str, Group]) -> Table:
    table = [(key or None, g.entry()) for key, g in groups.items() if g.cases]
    return sorted(table, key=lambda kv: (-kv[1]["cases"], str(kv[0])))


# --------------------------------------------------------------------------- groups


def answers_groups(f: Filters, viewer: Principal, group_by: Sequence[str]) -> bool:
    """Counts by agency or by channel (alone or with province), or by month (alone or with
    province), for filters the cells answer, are sums of cells."""
    dims = set(group_by)
    kinds = dims & set(KIND_KEYS)
    if "month" in dims:
        return not kinds and not f.category and _cells_answer(f, viewer)
    return len(kinds) == 1 and dims <= kinds | {"province"} and _cells_answer(f, viewer)


def groups(
    session: Session, f: Filters, viewer: Principal, group_by: Sequence[str]
) -> Iterable[dict[str, Any]]:
    """``hub.index_fast.groups`` for :func:`answers_groups`: cells, and the cases at a
    range's partial ends (and, by month, those with no reported time) one by one."""
    t = IndexTimes
    names = set(group_by) & set(KIND_KEYS)
    plan = _month_plan(f, viewer) if "month" in group_by else Plan.of(f, viewer)
    kind = KIND_KEYS[next(iter(names))] if names else "province"
    columns = {"province": t.province_code, "month": t.period}
    found: dict[tuple[Any, ...], int] = {}
    if plan.cells is not None:
        keys = [columns.get(d, t.grp) for d in group_by]
        stmt = select(*keys, func.sum(t.cases)).where(t.kind == kind, *plan.cells).group_by(*keys)
        for *key, n in session.execute(stmt):
            _count(found, tuple(v or None for v in key), int(n))
    if plan.facts is not None:
        for *key, n in session.execute(facts_groups(plan.facts, group_by)):
            _count(found, tuple(key), int(n))
    return [{**dict(zip(group_by, key, strict=True)), "count": n} for key, n in found.items() if n]


def _month_plan(f: Filters, viewer: Principal) -> Plan:
    """Monthly cells for the window's whole months, one by one the cases at its partial
    ends, or (no range) those without a reported time (the month ``None`` group)."""
    conds = facts_where(f, viewer)
    province = [IndexTimes.province_code.in_(f.province)] if f.province else []
    monthly = [IndexTimes.category == ALL_TIME, func.length(IndexTimes.period) == 7, *province]
    window = Window.of(f)
    if f.reported_from is None and f.reported_to is None:
        return Plan(monthly, [*conds, CaseFacts.reported_at.is_(None)])
    if window.empty:
        return Plan(None, conds)
    inside = Periods(None, (window.labels(),)).month_conditions(IndexTimes.period)
    edges = window.edges()
    return Plan(
        [*monthly, *([] if inside is None else [inside])],
        None if edges is None else [*conds, edges],
    )


def _count(found: dict[tuple[Any, ...], int], key: tuple[Any, ...], n: int) -> None:
    found[key] = found.get(key, 0) + n


__all__ = ["FRACTIONS", "Group", "Plan", "answers", "answers_groups", "groups", "performance"]

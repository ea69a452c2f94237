"""Per-agency and per-province tables from ``index_times``: exact counts, approximate
times (``hub.histogram``: log-spaced buckets, a stated bound against ``percentile_cont``).

The cells hold, per owner agency (``kind`` ``owner``), per province and per channel, the
case counts and the histograms of every case (``period`` ``*``), of each category, of each
Bangkok year and of each Bangkok month. Filters on province, category or a reported-date
range are answered from them: all time or one category reads a few thousand cells; a range
reads its whole years and leftover months (``hub.index_fast.Periods``) and buckets the cases
at its partial ends on the fly. Any other filter (a status, an owner, a channel, a category
together with a range, ...) buckets the matching cases on the fly from ``case_facts``: the
same histograms, so the same answers, only slower. Either way no case is sorted.
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
    literal,
    or_,
    select,
    type_coerce,
    union_all,
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
    categories: the other filters, or a category with a range, are bucketed on the fly."""
    return (
        cube_answers(f, viewer)
        and not f.status
        and f.sla_breached is None
        and f.merged is None
        and not (f.category and (f.reported_from or f.reported_to))
    )


# --------------------------------------------------------------------------- tables

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
            _add(tables, conn.execute(_bucketed(plan.facts)))
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


def _bucketed(conds: list[ColumnElement[bool]]) -> Select[Any]:
    """The matching cases in the cells' shape, per owner and per province, bucketed in SQL
    (``hub.index_facts.TIMES_DELTA``'s arithmetic): one read of the cases, a row per
    group, never one per case."""
    one = (
        select(
            func.coalesce(CaseFacts.owner, "").label("owner"),
            func.coalesce(CaseFacts.province_code, "").label("province"),
            is_open().label("open"),
            CaseFacts.breached,
            CaseFacts.resolved_at,
            histogram.bucket_sql(CaseFacts.accept_h).label("a"),
            histogram.bucket_sql(CaseFacts.resolve_h).label("r"),
        )
        .where(*conds)
        .cte("m")
        .prefix_with("MATERIALIZED")
    )
    both = union_all(
        *(
            select(literal(kind).label("kind"), one.c[column].label("key"), one)
            for kind, column in (("owner", "owner"), ("province", "province"))
        )
    ).cte("g")
    sums = (
        select(
            both.c.kind,
            both.c.key,
            func.count().label("n"),
            func.count(case((both.c.open, 1))).label("n_open"),
            func.count(both.c.resolved_at).label("resolved"),
            func.count(case((both.c.breached, 1))).label("breached"),
        )
        .group_by(both.c.kind, both.c.key)
        .cte("sums")
    )
    hists = [_histograms(both, name) for name in ("a", "r")]
    stmt = select(
        sums.c.kind,
        sums.c.key,
        sums.c.n,
        sums.c.n_open,
        sums.c.resolved,
        sums.c.breached,
        *(_raw(c) for h in hists for c in (h.c.bk, h.c.bn)),
    ).select_from(sums)
    for h in hists:
        stmt = stmt.outerjoin(h, and_(h.c.kind == sums.c.kind, h.c.key == sums.c.key))
    return stmt


def _histograms(both: Any, name: str) -> Any:
    bucket = both.c[name]
    per = (
        select(both.c.kind, both.c.key, bucket.label("b"), func.count().label("n"))
        .where(bucket.is_not(None))
        .group_by(both.c.kind, both.c.key, bucket)
        .subquery()
    )
    return (
        select(
            per.c.kind,
            per.c.key,
            func.array_agg(aggregate_order_by(per.c.b, per.c.b)).label("bk"),
            func.array_agg(aggregate_order_by(per.c.n, per.c.b)).label("bn"),
        )
        .group_by(per.c.kind, per.c.key)
        .cte(f"h{name}")
    )


def _ordered(groups: dict[str, Group]) -> Table:
    table = [(key or None, g.entry()) for key, g in groups.items() if g.cases]
    return sorted(table, key=lambda kv: (-kv[1]["cases"], str(kv[0])))


# --------------------------------------------------------------------------- groups


def answers_groups(f: Filters, viewer: Principal, group_by: Sequence[str]) -> bool:
    """Counts by agency or by channel (alone or with province), for filters the cells
    answer, are sums of cells."""
    dims = set(group_by)
    kinds = dims & set(KIND_KEYS)
    return len(kinds) == 1 and dims <= kinds | {"province"} and _cells_answer(f, viewer)


def groups(
    session: Session, f: Filters, viewer: Principal, group_by: Sequence[str]
) -> Iterable[dict[str, Any]]:
    """``hub.index_fast.groups`` for :func:`answers_groups`: cells, and the cases at a
    range's partial ends counted one by one."""
    (name,) = set(group_by) & set(KIND_KEYS)
    plan = Plan.of(f, viewer)
    found: dict[tuple[Any, ...], int] = {}
    if plan.cells is not None:
        t = IndexTimes
        keys = [t.grp if d == name else t.province_code for d in group_by]
        stmt = (
            select(*keys, func.sum(t.cases))
            .where(t.kind == KIND_KEYS[name], *plan.cells)
            .group_by(*keys)
        )
        for *key, n in session.execute(stmt):
            _count(found, tuple(v or None for v in key), int(n))
    if plan.facts is not None:
        for *key, n in session.execute(facts_groups(plan.facts, group_by)):
            _count(found, tuple(key), int(n))
    return [{**dict(zip(group_by, key, strict=True)), "count": n} for key, n in found.items() if n]


def _count(found: dict[tuple[Any, ...], int], key: tuple[Any, ...], n: int) -> None:
    found[key] = found.get(key, 0) + n


__all__ = ["FRACTIONS", "Group", "Plan", "answers_groups", "groups", "performance"]

"""The national picture: statistics and map aggregates over the index's cases.

Same filters and visibility as the search (``hub.index_filters``). Times to accept and
to resolve are measured from when the hub opened the case (``opened_at``) to
``accepted_at`` / ``resolved_at``, in hours; medians and 90th percentiles are
``percentile_cont`` (linear interpolation): PostgreSQL computes them in SQL, SQLite's rows
are computed here with the same definition, so both backends give the same numbers.
Months are Bangkok calendar months; backlog ages count from ``reported_at``.

On PostgreSQL both read the fast path (``hub.index_fast``: the same numbers from narrow
per-case facts and monthly sums kept by ``hub.index_facts``) unless ``live=True``, which
runs the definitions below on the live tables (the tests compare the two).

Percentiles there are approximate by default (``percentiles="approx"``: from the log-spaced
histograms of ``hub.index_times``, within ``hub.histogram``'s bound of the exact figure,
tens of milliseconds for the whole country) or exact on request (``"exact"``: a sort of
every matching case, about a second at a million). The response says which it gave: the
live path (SQLite, ``live=True``) is always exact.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub import histogram, index_times
from hub import index_fast as fast
from hub.errors import FieldError, RequestInvalid
from hub.exchange.tokens import Principal
from hub.index_facts import refresh
from hub.index_filters import (
    BANGKOK_OFFSET_HOURS,
    Filters,
    breached,
    dialect,
    is_open,
    rounded,
    where,
)
from hub.models import Case, CaseFacts, Complaint

DIMENSIONS = ("province", "category", "status", "agency", "channel", "month")
BACKLOG = (("<1d", 1), ("1-7d", 7), ("7-30d", 30), ("30-90d", 90))
OLDEST = ">90d"
MAP_LEVELS = ("province", "amphoe", "case")
MAP_LIMIT = 5000
STATS_WORK_MEM = "64MB"
PERCENTILES = ("approx", "exact")
_KEYS: dict[str, InstrumentedAttribute[Any]] = {
    "province": Case.province_code,
    "category": Case.category,
    "status": Case.status,
    "agency": Case.owner,  # the agency holding the case now
}


def stats(
    session: Session,
    f: Filters,
    *,
    viewer: Principal,
    group_by: Sequence[str],
    now: datetime,
    live: bool = False,
    performance: bool = True,
    percentiles: str = "approx",
) -> dict[str, Any]:
    """Counts by one or two dimensions, backlog by age, per-agency and per-province
    performance, breach and reopen rates, and citizen satisfaction where origins give it.

    ``performance=False`` leaves out ``by_agency`` and ``by_province`` (and
    ``percentiles``). With them, ``percentiles`` chooses their medians and 90th
    percentiles: ``approx`` (the default: what a dashboard needs, at the cost of the
    counts) or ``exact`` (sorts every matching case: about a second for the whole
    country at a million cases). Filters no summary answers (a status, an owner, a
    channel, ...) get the exact figures either way: the cases are read one by one then,
    and sorting them costs less than bucketing them. The body's ``percentiles`` member
    says what was given.

    Raises RequestInvalid (``/query/group_by``) for no, more than two, repeated or unknown
    dimensions, and (``/query/percentiles``) for an unknown method."""
    _check_dimensions(group_by)
    if percentiles not in PERCENTILES:
        problem = f"one of {list(PERCENTILES)}"
        raise RequestInvalid(
            f"percentiles takes {problem}", errors=[FieldError("/query/percentiles", problem)]
        )
    if dialect(session) == "postgresql":
        # sorts for the exact percentiles stay in memory; no JIT: the statements are short
        # or read summaries, and JIT priced a fallback's plan high enough to spend 1.1 s
        # compiling it (bench/index.py EXPLAIN, 1M cases)
        session.execute(text(f"SET LOCAL work_mem = '{STATS_WORK_MEM}'"))
        session.execute(text("SET LOCAL jit = off"))
    if use_fast(session, live):
        return _fast_stats(
            session, f, viewer, group_by, now, performance=performance, method=percentiles
        )
    conds = where(f, viewer)
    rates = _rates(session, conds)
    body = {
        "total": rates.pop("total"),
        "groups": _groups(session, conds, group_by),
        "backlog": _backlog(session, conds, now),
        **rates,
        "satisfaction": _satisfaction(session, conds),
    }
    if performance:
        body.update(_performance_members(*_performance(session, conds), method="exact"))
    return body


def _performance_members(by_agency: Table, by_province: Table, *, method: str) -> dict[str, Any]:
    return {
        "by_agency": [{"agency": key, **row} for key, row in by_agency],
        "by_province": [{"province": key, **row} for key, row in by_province],
        "percentiles": percentiles_member(method),
    }


def percentiles_member(method: str) -> dict[str, Any]:
    """What the times are: exact ``percentile_cont``, or the histograms' answer with its
    bound (``|approx - exact| <= relative_error * |exact| + absolute_error_h``)."""
    if method == "exact":
        return {"method": "exact"}
    return {
        "method": "approx",
        "relative_error": histogram.ALPHA,
        "absolute_error_h": histogram.EPSILON_H,
    }


def map_geojson(
    session: Session,
    f: Filters,
    *,
    viewer: Principal,
    level: str,
    limit: int = MAP_LIMIT,
    live: bool = False,
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection: one Point per province or amphoe (the mean position of
    its cases, properties ``count``, ``open``, ``breached``), or per case (newest first, at
    most ``limit``). Positions are rounded to three decimals, aggregates too: an area with
    one case would otherwise give that case's exact position away."""
    if level not in MAP_LEVELS:
        raise RequestInvalid(
            f"unknown map level {level!r}",
            errors=[FieldError("/query/level", f"one of {list(MAP_LEVELS)}")],
        )
    if level != "case" and use_fast(session, live):
        rows = (fast.province_points if level == "province" else fast.amphoe_points)(
            session, f, viewer
        )
        return {"type": "FeatureCollection", "features": _area_features(rows, level)}
    conds = where(f, viewer)
    features = (
        _case_points(session, conds, limit)
        if level == "case"
        else _area_points(session, conds, level)
    )
    return {"type": "FeatureCollection", "features": features}


def use_fast(session: Session, live: bool) -> bool:
    """The fast path answers on PostgreSQL, once the queue is folded in (``refresh``)."""
    if live or dialect(session) != "postgresql":
        return False
    refresh(session)
    return True


def _fast_stats(
    session: Session,
    f: Filters,
    viewer: Principal,
    group_by: Sequence[str],
    now: datetime,
    *,
    performance: bool,
    method: str,
) -> dict[str, Any]:
    by_cells = index_times.answers_groups(f, viewer, group_by)
    summed = fast.summary(session, f, viewer, () if by_cells else group_by)
    totals = summed.totals
    found = fast.backlog_counts(
        session,
        f,
        viewer,
        _buckets(CaseFacts.reported_at, now),
        recent=now - timedelta(days=BACKLOG[-1][1]),
        oldest=OLDEST,
        open_total=summed.open,
    )
    if by_cells:
        found_groups = _sorted(index_times.groups(session, f, viewer, group_by), group_by)
    elif summed.groups is not None:
        found_groups = summed.groups
    else:
        found_groups = fast.groups(session, f, viewer, group_by)
    body = {
        "total": totals["total"],
        "groups": found_groups,
        "backlog": _backlog_list(found),
        "sla_breach_rate": totals["sla_breach_rate"],
        "reopen_rate": totals["reopen_rate"],
        "satisfaction": totals["satisfaction"],
    }
    if performance and method == "approx" and index_times.answers(f, viewer):
        tables = index_times.performance(session, f, viewer)
        body.update(_performance_members(*tables, method=method))
    elif performance:  # asked for, or as cheap as the histograms here: see answers()
        rows = fast.performance_rows(session, f, viewer)
        body.update(_performance_members(*_performance_table(rows), method="exact"))
    return body


def _sorted(rows: Iterable[dict[str, Any]], group_by: Sequence[str]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["count"], *(str(r[d]) for d in group_by)))


# --------------------------------------------------------------------------- counts


def _check_dimensions(group_by: Sequence[str]) -> None:
    problem = None
    if not 1 <= len(group_by) <= 2:
        problem = "one or two dimensions"
    elif len(set(group_by)) != len(group_by):
        problem = "a dimension at most once"
    elif unknown := [d for d in group_by if d not in DIMENSIONS]:
        problem = f"unknown dimension(s) {unknown}; known: {list(DIMENSIONS)}"
    if problem:
        raise RequestInvalid(
            f"group_by takes {problem}", errors=[FieldError("/query/group_by", problem)]
        )


def _month(session: Session) -> ColumnElement[str]:
    if dialect(session) == "postgresql":
        return func.to_char(func.timezone("Asia/Bangkok", Case.reported_at), "YYYY-MM")
    return func.strftime("%Y-%m", Case.reported_at, f"+{BANGKOK_OFFSET_HOURS} hours")


def _groups(
    session: Session, conds: list[ColumnElement[bool]], group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """A case with complaints from two channels counts once under each channel."""
    exprs: list[Any] = []
    for name in group_by:
        if name == "channel":
            exprs.append(Complaint.channel.label(name))
        elif name == "month":
            exprs.append(_month(session).label(name))
        else:
            exprs.append(_KEYS[name].label(name))
    n = func.count(Case.id.distinct()) if "channel" in group_by else func.count()
    stmt = select(*exprs, n.label("count")).select_from(Case)
    if "channel" in group_by:
        stmt = stmt.join(Complaint, Complaint.case_id == Case.id)
    stmt = stmt.where(*conds).group_by(*exprs)
    rows = [dict(r._mapping) for r in session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r["count"], *(str(r[d]) for d in group_by)))


def _backlog(
    session: Session, conds: list[ColumnElement[bool]], now: datetime
) -> list[dict[str, Any]]:
    aged = (
        select(_buckets(Case.reported_at, now).label("bucket")).where(*conds, is_open()).subquery()
    )
    found: dict[str, int] = {
        bucket: n
        for bucket, n in session.execute(
            select(aged.c.bucket, func.count()).group_by(aged.c.bucket)
        )
    }
    return _backlog_list(found)


def _buckets(reported_at: Any, now: datetime) -> ColumnElement[str]:
    return case(
        *((reported_at > now - timedelta(days=days), name) for name, days in BACKLOG),
        else_=literal(OLDEST),
    )


def _backlog_list(found: dict[str, int]) -> list[dict[str, Any]]:
    names = [name for name, _ in BACKLOG] + [OLDEST]
    return [{"bucket": name, "count": int(found.get(name, 0))} for name in names]


def _rates(session: Session, conds: list[ColumnElement[bool]]) -> dict[str, Any]:
    """Breach rate over all cases; reopen rate over cases ever resolved."""
    reopened = Case.reopen_count > 0
    ever_resolved = or_(Case.resolved_at.is_not(None), reopened)
    row = session.execute(
        select(
            func.count(),
            func.count(case((breached(), 1))),
            func.count(case((reopened, 1))),
            func.count(case((ever_resolved, 1))),
        ).where(*conds)
    ).one()
    total, n_breached, n_reopened, n_resolved = (int(v or 0) for v in row)
    return {
        "total": total,
        "sla_breach_rate": n_breached / total if total else None,
        "reopen_rate": n_reopened / n_resolved if n_resolved else None,
    }


def _satisfaction(session: Session, conds: list[ColumnElement[bool]]) -> dict[str, Any]:
    mean, n = session.execute(
        select(func.avg(Complaint.satisfaction), func.count(Complaint.satisfaction))
        .join(Case, Case.id == Complaint.case_id)
        .where(Complaint.satisfaction.is_not(None), *conds)
    ).one()
    return {"mean": float(mean) if mean is not None else None, "count": int(n or 0)}


# --------------------------------------------------------------------------- performance

_MEASURES = ("accept_median_h", "accept_p90_h", "resolve_median_h", "resolve_p90_h")
Table = list[tuple[str | None, dict[str, Any]]]


def _counts() -> list[Any]:
    return [
        func.count().label("cases"),
        func.count(case((is_open(), 1))).label("open"),
        func.count(Case.resolved_at).label("resolved"),
        func.count(case((breached(), 1))).label("breached"),
    ]


def _performance(session: Session, conds: list[ColumnElement[bool]]) -> tuple[Table, Table]:
    """Per owner agency and per province: cases, open, resolved, breach rate, and times
    to accept and to resolve."""
    if dialect(session) == "postgresql":
        return _sql_performance(session, conds)
    return (
        _python_performance(session, conds, Case.owner),
        _python_performance(session, conds, Case.province_code),
    )


def _sql_performance(session: Session, conds: list[ColumnElement[bool]]) -> tuple[Table, Table]:
    """Both tables in one pass (GROUPING SETS), each pair of percentiles from one sort."""
    fractions = postgresql.array([0.5, 0.9])
    stmt = (
        select(
            Case.owner,
            Case.province_code,
            func.grouping(Case.owner).label("per_province"),
            *_counts(),
            func.percentile_cont(fractions).within_group(_hours(Case.accepted_at)).label("a"),
            func.percentile_cont(fractions).within_group(_hours(Case.resolved_at)).label("r"),
        )
        .where(*conds)
        .group_by(func.grouping_sets(Case.owner, Case.province_code))
    )
    return _performance_table(session.execute(stmt))


def _performance_table(rows: Any) -> tuple[Table, Table]:
    agencies: Table = []
    provinces: Table = []
    for r in rows:
        accept, resolve = r.a or (None, None), r.r or (None, None)
        times = dict(zip(_MEASURES, (*accept, *resolve), strict=True))
        if r.per_province:
            provinces.append((r.province_code, _entry(r._mapping, times)))
        else:
            agencies.append((r.owner, _entry(r._mapping, times)))
    return _ordered(agencies), _ordered(provinces)


def _python_performance(
    session: Session, conds: list[ColumnElement[bool]], key: InstrumentedAttribute[Any]
) -> Table:
    stmt = select(key.label("key"), *_counts()).where(*conds).group_by(key)
    times = _python_percentiles(session, conds, key)
    return _ordered(
        [(r.key, _entry(r._mapping, times.get(r.key, {}))) for r in session.execute(stmt)]
    )


def _entry(counts: Any, times: dict[str, Any]) -> dict[str, Any]:
    n = int(counts["cases"])
    return {
        "cases": n,
        "open": int(counts["open"]),
        "resolved": int(counts["resolved"]),
        **{m: _float(times.get(m)) for m in _MEASURES},
        "breach_rate": int(counts["breached"]) / n if n else None,
    }


def _ordered(table: Table) -> Table:
    return sorted(table, key=lambda kv: (-kv[1]["cases"], str(kv[0])))


def _hours(later: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    return cast(func.extract("epoch", later - Case.opened_at), Float) / 3600.0


def _python_percentiles(
    session: Session, conds: list[ColumnElement[bool]], key: InstrumentedAttribute[Any]
) -> dict[str | None, dict[str, float | None]]:
    """SQLite has no percentile aggregate: the durations are streamed and computed here."""
    accept: dict[str | None, list[float]] = defaultdict(list)
    resolve: dict[str | None, list[float]] = defaultdict(list)
    stmt = select(key, Case.opened_at, Case.accepted_at, Case.resolved_at).where(
        *conds, or_(Case.accepted_at.is_not(None), Case.resolved_at.is_not(None))
    )
    for group, opened, accepted, resolved in session.execute(stmt):
        if accepted is not None:
            accept[group].append((accepted - opened).total_seconds() / 3600.0)
        if resolved is not None:
            resolve[group].append((resolved - opened).total_seconds() / 3600.0)
    return {
        group: {
            "accept_median_h": percentile_cont(accept[group], 0.5),
            "accept_p90_h": percentile_cont(accept[group], 0.9),
            "resolve_median_h": percentile_cont(resolve[group], 0.5),
            "resolve_p90_h": percentile_cont(resolve[group], 0.9),
        }
        for group in set(accept) | set(resolve)
    }


def percentile_cont(values: Sequence[float], p: float) -> float | None:
    """SQL's ``percentile_cont``: linear interpolation between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- map


def _point(lon: float | None, lat: float | None) -> dict[str, Any] | None:
    if lon is None or lat is None:
        return None
    return {"type": "Point", "coordinates": [rounded(float(lon)), rounded(float(lat))]}


def _area_points(
    session: Session, conds: list[ColumnElement[bool]], level: str
) -> list[dict[str, Any]]:
    key = Case.province_code if level == "province" else Case.amphoe_code
    stmt = (
        select(
            key,
            func.avg(Case.lon),
            func.avg(Case.lat),
            func.count(),
            func.count(case((is_open(), 1))),
            func.count(case((breached(), 1))),
        )
        .where(*conds, key.is_not(None))
        .group_by(key)
        .order_by(key)
    )
    return _area_features([tuple(r) for r in session.execute(stmt)], level)


def _area_features(rows: Sequence[tuple[Any, ...]], level: str) -> list[dict[str, Any]]:
    """An area whose cases have no coordinates keeps its counts, with a null geometry."""
    return [
        {
            "type": "Feature",
            "geometry": _point(lon, lat),
            "properties": {level: code, "count": n, "open": n_open, "breached": n_breached},
        }
        for code, lon, lat, n, n_open, n_breached in rows
    ]


def _case_points(
    session: Session, conds: list[ColumnElement[bool]], limit: int
) -> list[dict[str, Any]]:
    stmt = (
        select(Case.id, Case.status, Case.category, Case.lon, Case.lat)
        .where(*conds, and_(Case.lat.is_not(None), Case.lon.is_not(None)))
        .order_by(Case.reported_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return [
        {
            "type": "Feature",
            "geometry": _point(lon, lat),
            "properties": {"case_id": case_id, "status": status, "category": category},
        }
        for case_id, status, category, lon, lat in session.execute(stmt)
    ]

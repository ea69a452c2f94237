"""Keeps the index's fast path (``case_facts``, ``index_cube``) in step with the cases.

Writers never touch the summaries: every flush that adds or changes a case or a complaint
inserts the case ids into ``index_dirty`` (one multi-row INSERT, no row shared between
transactions, so concurrent intake never queues on a lock). Readers fold the queue in
before they read (:func:`refresh`): under a transaction-scoped advisory lock they take the
queued ids, subtract those cases' old facts from the cube, recompute the facts from
``cases`` and ``complaints`` and add them back, and commit that on a connection of their
own, so what a reader then sees includes every message accepted before it asked.
Recomputing is idempotent: a case changed again while it is folded is simply queued again.

The same fold keeps the text search's ``complaint_texts`` (one narrow row per complaint)
and the agency view's ``index_parties`` (agency, case, reported_at). A background thread
(``hub.background.start_index_folder``) folds the queue every few seconds in batches of a
few thousand cases, one short transaction each, so after a big import the first reader
finds little left to fold and never waits long for the lock.

PostgreSQL only. SQLite keeps no queue and the index answers it from the live tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine, delete, event, exists, insert, inspect, select, text
from sqlalchemy.orm import Session

from hub.histogram import bucket_text
from hub.models import OPEN_PREDICATE, Case, CaseParty, Complaint, IndexDirty

LOCK_KEY = 7_000_007
"""``pg_advisory_xact_lock`` key of the refresher (one at a time; readers wait for it)."""

# The facts of a case, the same expressions as the live queries in ``hub.index_stats``
# (hours as ``CAST(EXTRACT(EPOCH ...) AS FLOAT) / 3600.0``, Bangkok months), so both give
# equal numbers. ``{cases}`` and ``{complaints}`` narrow it to some cases, or to all.
FACTS_SELECT = """
SELECT c.id, c.status, c.owner, c.category, c.province_code, c.amphoe_code, c.tambon_code,
       c.reported_at, c.resolved_at,
       to_char(timezone('Asia/Bangkok', c.reported_at), 'YYYY-MM'),
       (c.accept_breached_at IS NOT NULL OR c.resolve_breached_at IS NOT NULL),
       (c.merged_into IS NOT NULL),
       (c.reopen_count > 0),
       CAST(EXTRACT(EPOCH FROM c.accepted_at - c.opened_at) AS FLOAT) / 3600.0,
       CAST(EXTRACT(EPOCH FROM c.resolved_at - c.opened_at) AS FLOAT) / 3600.0,
       c.lat, c.lon,
       COALESCE(x.channels, '[]'::jsonb), COALESCE(x.origins, '[]'::jsonb),
       COALESCE(x.sat_sum, 0), COALESCE(x.sat_n, 0)
FROM cases c
LEFT JOIN (
    SELECT case_id,
           jsonb_agg(DISTINCT channel) AS channels,
           jsonb_agg(DISTINCT origin_system) AS origins,
           SUM(satisfaction) AS sat_sum,
           COUNT(satisfaction) AS sat_n
    FROM complaints WHERE {complaints} GROUP BY case_id
) x ON x.case_id = c.id
WHERE {cases}
"""
FACTS_COLUMNS = (
    "case_id, status, owner, category, province_code, amphoe_code, tambon_code, "
    "reported_at, resolved_at, month, breached, merged, reopened, accept_h, resolve_h, "
    "lat, lon, channels, origins, sat_sum, sat_n"
)
MEASURES = (
    "n",
    "resolved",
    "reopened",
    "ever_resolved",
    "sat_sum",
    "sat_n",
    "lat_sum",
    "lat_n",
    "lon_sum",
    "lon_n",
)
# Adds (sign 1) or takes away (sign -1) some cases' facts from the cube.
CUBE_DELTA = f"""
INSERT INTO index_cube (month, province_code, category, status, breached, merged,
                        {", ".join(MEASURES)})
SELECT COALESCE(month, ''), COALESCE(province_code, ''), category, status, breached, merged,
       {{sign}} * COUNT(*), {{sign}} * COUNT(resolved_at),
       {{sign}} * COUNT(*) FILTER (WHERE reopened),
       {{sign}} * COUNT(*) FILTER (WHERE resolved_at IS NOT NULL OR reopened),
       {{sign}} * COALESCE(SUM(sat_sum), 0), {{sign}} * COALESCE(SUM(sat_n), 0),
       {{sign}} * COALESCE(SUM(lat), 0), {{sign}} * COUNT(lat),
       {{sign}} * COALESCE(SUM(lon), 0), {{sign}} * COUNT(lon)
FROM case_facts WHERE {{where}}
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (month, province_code, category, status, breached, merged) DO UPDATE SET
    {", ".join(f"{m} = index_cube.{m} + EXCLUDED.{m}" for m in MEASURES)}
"""

# The same sums over time: every case (period ``*``) and its Bangkok year when it has one.
ROLLUP_DELTA = f"""
INSERT INTO index_rollup (period, province_code, category, status, breached, merged,
                          {", ".join(MEASURES)})
SELECT p.period, COALESCE(province_code, ''), category, status, breached, merged,
       {{sign}} * COUNT(*), {{sign}} * COUNT(resolved_at),
       {{sign}} * COUNT(*) FILTER (WHERE reopened),
       {{sign}} * COUNT(*) FILTER (WHERE resolved_at IS NOT NULL OR reopened),
       {{sign}} * COALESCE(SUM(sat_sum), 0), {{sign}} * COALESCE(SUM(sat_n), 0),
       {{sign}} * COALESCE(SUM(lat), 0), {{sign}} * COUNT(lat),
       {{sign}} * COALESCE(SUM(lon), 0), {{sign}} * COUNT(lon)
FROM case_facts CROSS JOIN LATERAL (VALUES ('*'), (left(month, 4))) AS p(period)
WHERE {{where}} AND p.period IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT (period, province_code, category, status, breached, merged) DO UPDATE SET
    {", ".join(f"{m} = index_rollup.{m} + EXCLUDED.{m}" for m in MEASURES)}
"""

# Per owner, province and channel: counts and the times' histograms (``hub.histogram``),
# for every case, per category, per Bangkok year and per Bangkok month. ``{source}`` is
# facts with a ``sign``: the fold passes a case's old facts (-1) and new ones (+1) together,
# so a cell whose counts and buckets come out even (most status changes) is not written at
# all, and the others are merged once. Histograms are added with ``index_hist_add``
# (migration 0010), which drops buckets that reach zero.
_CELL = "period, category, kind, province_code, grp"
_HIST = """
{name} AS (
    SELECT {cell}, array_agg(b ORDER BY b) AS keys, array_agg(n ORDER BY b) AS counts
    FROM (SELECT {cell}, {bucket} AS b, SUM(sign) AS n FROM cells
          WHERE kind <> 'channel' AND {column} IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
          HAVING SUM(sign) <> 0) AS x
    GROUP BY 1, 2, 3, 4, 5
)"""
TIMES_DELTA = f"""
WITH cells AS (
    SELECT l.period, l.category, g.kind, COALESCE(f.province_code, '') AS province_code,
           g.grp, f.sign, f.status, f.breached, f.resolved_at, f.accept_h, f.resolve_h
    FROM {{source}} AS f
    CROSS JOIN LATERAL (
        SELECT 'owner' AS kind, COALESCE(f.owner, '') AS grp
        UNION ALL SELECT 'province', ''
        UNION ALL SELECT 'channel', ch.value FROM jsonb_array_elements_text(f.channels) AS ch
    ) AS g
    CROSS JOIN LATERAL (VALUES ('*', '*'), ('*', f.category), (left(f.month, 4), '*'),
                               (f.month, '*')) AS l(period, category)
    WHERE l.period IS NOT NULL
),
sums AS (
    SELECT {_CELL}, SUM(sign) AS cases,
           COALESCE(SUM(sign) FILTER (WHERE {OPEN_PREDICATE}), 0) AS open,
           COALESCE(SUM(sign) FILTER (WHERE resolved_at IS NOT NULL), 0) AS resolved,
           COALESCE(SUM(sign) FILTER (WHERE breached), 0) AS breached
    FROM cells GROUP BY 1, 2, 3, 4, 5
),{_HIST.format(name="a", cell=_CELL, bucket=bucket_text("accept_h"), column="accept_h")},
{_HIST.format(name="r", cell=_CELL, bucket=bucket_text("resolve_h"), column="resolve_h")}
INSERT INTO index_times ({_CELL}, cases, open, resolved, breached,
                         a_keys, a_counts, r_keys, r_counts)
SELECT {_CELL}, s.cases, s.open, s.resolved, s.breached,
       COALESCE(a.keys, '{{{{}}}}'), COALESCE(a.counts, '{{{{}}}}'),
       COALESCE(r.keys, '{{{{}}}}'), COALESCE(r.counts, '{{{{}}}}')
FROM sums s LEFT JOIN a USING ({_CELL}) LEFT JOIN r USING ({_CELL})
WHERE (s.cases, s.open, s.resolved, s.breached) <> (0, 0, 0, 0)
   OR a.keys IS NOT NULL OR r.keys IS NOT NULL
ON CONFLICT ({_CELL}) DO UPDATE SET
    cases = index_times.cases + EXCLUDED.cases, open = index_times.open + EXCLUDED.open,
    resolved = index_times.resolved + EXCLUDED.resolved,
    breached = index_times.breached + EXCLUDED.breached,
    (a_keys, a_counts) = (SELECT keys, counts FROM index_hist_add(
        index_times.a_keys, index_times.a_counts, EXCLUDED.a_keys, EXCLUDED.a_counts)),
    (r_keys, r_counts) = (SELECT keys, counts FROM index_hist_add(
        index_times.r_keys, index_times.r_counts, EXCLUDED.r_keys, EXCLUDED.r_counts))
"""
_TIMES_FACTS = "case_id, status, owner, category, province_code, month, breached, "
_TIMES_FACTS += "resolved_at, accept_h, resolve_h, channels"
TIMES_EVERY_CASE = f"(SELECT 1 AS sign, {_TIMES_FACTS} FROM case_facts)"
TIMES_CHANGE = f"""(
    SELECT -1 AS sign, {_TIMES_FACTS} FROM case_facts WHERE case_id = ANY(:ids)
    UNION ALL
    SELECT 1, {_TIMES_FACTS} FROM ({
    FACTS_SELECT.format(cases="c.id = ANY(:ids)", complaints="case_id = ANY(:ids)")
})
        AS n({FACTS_COLUMNS})
)"""
"""The times' change when some cases are refolded: old facts out, new facts in (read
before ``case_facts`` is rewritten)."""
HIST_ADD = """
CREATE OR REPLACE FUNCTION index_hist_add(ak integer[], ac bigint[], bk integer[], bc bigint[],
                                          OUT keys integer[], OUT counts bigint[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(k ORDER BY k), '{}'), COALESCE(array_agg(n ORDER BY k), '{}')
    FROM (SELECT k, SUM(n)::bigint AS n
          FROM (SELECT * FROM unnest(ak, ac) AS a(k, n)
                UNION ALL SELECT * FROM unnest(bk, bc) AS b(k, n)) AS u
          GROUP BY k HAVING SUM(n) <> 0) AS s
$$
"""
"""Two stored histograms (``hub.histogram``: sorted buckets, counts) added bucket by bucket."""
SUMMARIES = (  # (delta, table, emptied when)
    (CUBE_DELTA, "index_cube", "n = 0"),
    (ROLLUP_DELTA, "index_rollup", "n = 0"),
)


# A case's complaints' texts, and its parties with its reported time (``{where}`` narrows
# to some cases, or none). Upserted by complaint id: a complaint moved from a case that is
# not being folded still moves, never collides. A row that would not change is not written
# (most folds follow a status change: no text, party or time moved), which spares the
# trigram index its updates.
TEXTS_UPSERT = """
INSERT INTO complaint_texts (complaint_id, case_id, channel, origin_system, public_text,
                             province_code)
SELECT t.id, t.case_id, t.channel, t.origin_system, t.public_text, c.province_code
FROM complaints t JOIN cases c ON c.id = t.case_id
WHERE {where} {order}
ON CONFLICT (complaint_id) DO UPDATE SET case_id = EXCLUDED.case_id,
    channel = EXCLUDED.channel, origin_system = EXCLUDED.origin_system,
    public_text = EXCLUDED.public_text, province_code = EXCLUDED.province_code
WHERE (complaint_texts.case_id, complaint_texts.channel, complaint_texts.origin_system,
       complaint_texts.public_text, complaint_texts.province_code)
   IS DISTINCT FROM (EXCLUDED.case_id, EXCLUDED.channel, EXCLUDED.origin_system,
                     EXCLUDED.public_text, EXCLUDED.province_code)
"""
TEXTS_GONE = """
DELETE FROM complaint_texts t WHERE t.case_id = ANY(:ids) AND NOT EXISTS (
    SELECT 1 FROM complaints c WHERE c.id = t.complaint_id AND c.case_id = t.case_id)
"""
PARTIES_UPSERT = """
INSERT INTO index_parties (case_id, agency, reported_at)
SELECT DISTINCT p.case_id, p.agency, c.reported_at
FROM case_parties p JOIN cases c ON c.id = p.case_id
WHERE {where} {order}
ON CONFLICT (case_id, agency) DO UPDATE SET reported_at = EXCLUDED.reported_at
WHERE index_parties.reported_at IS DISTINCT FROM EXCLUDED.reported_at
"""
PARTIES_GONE = """
DELETE FROM index_parties i WHERE i.case_id = ANY(:ids) AND NOT EXISTS (
    SELECT 1 FROM case_parties p WHERE p.case_id = i.case_id AND p.agency = i.agency)
"""


def rebuild_search(conn: Connection) -> None:
    """Every complaint's text row and every case's parties (migration 0009, bulk loads)."""
    conn.execute(text("TRUNCATE complaint_texts, index_parties"))
    conn.execute(text(TEXTS_UPSERT.format(where="TRUE", order="ORDER BY t.case_id")))
    order = "ORDER BY p.agency, c.reported_at"
    conn.execute(text(PARTIES_UPSERT.format(where="TRUE", order=order)))


def rebuild_rollups(conn: Connection) -> None:
    """``index_rollup`` and ``index_times`` from every case's facts (migration 0010)."""
    conn.execute(text("TRUNCATE index_rollup, index_times"))
    conn.execute(text(ROLLUP_DELTA.format(sign=1, where="TRUE")))
    conn.execute(text(TIMES_DELTA.format(source=TIMES_EVERY_CASE)))


def rebuild(conn: Connection) -> None:
    """Every case's facts and the whole cube, set-based (migration 0007, bulk loads), and
    the search tables and time summaries when they exist (from 0009, 0010 on)."""
    conn.execute(text("DELETE FROM index_dirty"))
    tables = set(inspect(conn).get_table_names())
    if "complaint_texts" in tables:
        rebuild_search(conn)
    conn.execute(text("TRUNCATE case_facts, index_cube"))
    # stored by province and owner: a province's cases share pages, and the per-owner
    # table reads the owner index in heap order instead of jumping about
    conn.execute(
        text(
            f"INSERT INTO case_facts ({FACTS_COLUMNS}) "
            + FACTS_SELECT.format(cases="TRUE", complaints="TRUE")
            + " ORDER BY c.province_code, c.owner, c.reported_at"
        )
    )
    conn.execute(text(CUBE_DELTA.format(sign=1, where="TRUE")))
    if "index_times" in tables:
        rebuild_rollups(conn)


def refresh(session: Session) -> int:
    """Fold the queue into the facts and the cube; returns how many cases were refolded.

    Runs on its own connection and commits (a reader's rollback must not undo it) unless
    the session is bound to a connection, whose transaction it then joins."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return 0
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return fold(conn)
    return fold(session.connection())


def fold(conn: Connection, *, limit: int | None = None, wait: bool = True) -> int:
    """Fold the queue (at most ``limit`` queued entries, oldest first) in ``conn``'s
    transaction; returns how many cases were refolded. ``wait=False`` gives up at once
    when another fold holds the lock (a background round then simply skips)."""
    if not conn.execute(select(exists().select_from(IndexDirty))).scalar():
        return 0
    if wait:
        conn.execute(select(text(f"pg_advisory_xact_lock({LOCK_KEY})")))
    elif not conn.execute(select(text(f"pg_try_advisory_xact_lock({LOCK_KEY})"))).scalar():
        return 0
    taken = delete(IndexDirty)
    if limit is not None:
        oldest = select(IndexDirty.id).order_by(IndexDirty.id).limit(limit)
        taken = taken.where(IndexDirty.id.in_(oldest.scalar_subquery()))
    ids = sorted(set(conn.scalars(taken.returning(IndexDirty.case_id))))
    if not ids:
        return 0  # another reader folded them while this one waited for the lock
    params: dict[str, Any] = {"ids": ids}
    mine = "case_id = ANY(:ids)"
    conn.execute(text(TEXTS_GONE), params)
    conn.execute(text(TEXTS_UPSERT.format(where="t.case_id = ANY(:ids)", order="")), params)
    conn.execute(text(PARTIES_GONE), params)
    conn.execute(text(PARTIES_UPSERT.format(where="p.case_id = ANY(:ids)", order="")), params)
    conn.execute(text(TIMES_DELTA.format(source=TIMES_CHANGE)), params)
    conn.execute(text("DELETE FROM index_times WHERE cases = 0"))
    for delta, _, _ in SUMMARIES:
        conn.execute(text(delta.format(sign=-1, where=mine)), params)
    conn.execute(text(f"DELETE FROM case_facts WHERE {mine}"), params)
    conn.execute(
        text(
            f"INSERT INTO case_facts ({FACTS_COLUMNS}) "
            + FACTS_SELECT.format(cases="c.id = ANY(:ids)", complaints=mine)
        ),
        params,
    )
    for delta, table, empty in SUMMARIES:
        conn.execute(text(delta.format(sign=1, where=mine)), params)
        conn.execute(text(f"DELETE FROM {table} WHERE {empty}"))
    return len(ids)


def fold_in_batches(engine: Engine, *, batch: int, stop: Callable[[], bool] = lambda: False) -> int:
    """Fold the whole queue, ``batch`` entries per transaction (each holds the lock only
    that long, so a reader waiting for it waits for one batch, not for a whole import);
    stops early when another fold holds the lock or ``stop()`` says so. Returns how many
    cases were refolded."""
    if engine.dialect.name != "postgresql":
        return 0
    done = 0
    while not stop():
        with engine.begin() as conn:
            n = fold(conn, limit=batch, wait=False)
        if n == 0:  # nothing left, or another fold holds the lock (it will finish)
            return done
        done += n
    return done


# --------------------------------------------------------------------------- the queue


def touched_cases(session: Session) -> set[str]:
    """Ids of the cases whose facts this flush may change: cases added or changed (and
    the cases a merge or unmerge moved complaints between), the cases of complaints
    added, changed or moved, and the cases that gained or lost a party."""
    ids: set[str] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Case):
            ids.add(obj.id)
        elif isinstance(obj, Complaint | CaseParty) and obj.case_id:
            ids.add(obj.case_id)
    for obj in session.dirty:  # only a changed row has a former value (cheap to skip)
        if isinstance(obj, Case):
            ids.update(_history(obj, "merged_into"))
        elif isinstance(obj, Complaint):
            ids.update(_history(obj, "case_id"))
    ids.discard("")
    return ids


def _history(obj: Any, attr: str) -> Iterable[str]:
    hist = inspect(obj).attrs[attr].history
    return (v for v in chain(hist.added or (), hist.deleted or ()) if isinstance(v, str))


@event.listens_for(Session, "after_flush")
def _queue_touched(session: Session, _ctx: Any) -> None:
    """Every writer (API, workers, CLI, adapters) flushes through a Session: one INSERT
    of the touched case ids, in the writer's own transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = touched_cases(session)
    if ids:
        session.connection().execute(insert(IndexDirty), [{"case_id": i} for i in sorted(ids)])

"""The PostgreSQL fast path (``case_facts``, ``index_cube``, ``complaint_texts``,
``index_parties``) gives the live definition's answers: random case histories, written
through the ORM like every writer, then changed (statuses, breaches, parties added and
removed, a complaint's text edited, a merge moving complaints with a Core UPDATE as
``hub.caseflow`` does), must give the same statistics, map, counts and search pages (an
oversight body's and an agency's own) from both paths after every step."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from hub import index, index_times
from hub.cases import CLOSED
from hub.db import make_engine, make_sessionmaker
from hub.exchange.tokens import Principal
from hub.index import Filters
from hub.index_facts import LOCK_KEY, fold, fold_in_batches, refresh
from hub.index_fast import Window, month_start, text_count, wants_texts
from hub.models import (
    OPEN_PREDICATE,
    Agency,
    Case,
    CaseFacts,
    CaseParty,
    Complaint,
    ComplaintText,
    IndexDirty,
    IndexParty,
)
from tests.conftest import truncate

pytestmark = pytest.mark.postgres

OVERSIGHT = Principal("ombudsman", frozenset({"oversight"}), "oversight")
AGENCIES = ("ag-a", "ag-b", "ag-c")
OWN = Principal("ag-a", frozenset({"submit", "receive"}), "local_government")
TEXTS = ("ถนนพัง", "ไฟดับทั้งซอย", "น้ำท่วม 50% ถนน", "ท่อ_แตก")
STATUSES = ("offered", "accepted", "in_progress", "resolved", "rejected", "merged", "reopened")
# Bangkok month ends on both sides, so ranges cut months and the cube's edges are exercised
T0 = datetime(2026, 8, 30, 20, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

hours = st.floats(min_value=0.0, max_value=2000.0, allow_nan=False).map(lambda h: round(h, 3))
years_back = st.floats(min_value=-800 * 24, max_value=-30 * 24, allow_nan=False)
a_case = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "owner": st.sampled_from((*AGENCIES, None)),
        "category": st.sampled_from(("road", "light", "flood")),
        "area": st.sampled_from((("10", "1003"), ("10", "1005"), ("50", "5001"), (None, None))),
        # hours after T0, or back in 2024 and 2025: ranges then hold whole Bangkok years
        "at": st.floats(min_value=0, max_value=80 * 24, allow_nan=False) | years_back,
        "accept": st.none() | hours,
        "resolve": st.none() | hours,
        "breached": st.booleans(),
        "reopens": st.integers(0, 2),
        "where": st.none() | st.tuples(st.sampled_from((13.7, 13.81, 18.79)), st.just(100.5)),
        "complaints": st.lists(
            st.tuples(
                st.sampled_from(("traffy_fondue", "hotline_1111", "line")),
                st.sampled_from(("traffy_fondue", "ops1111")),
                st.none() | st.integers(1, 5),
                st.floats(min_value=0, max_value=48, allow_nan=False),  # hours earlier
                st.sampled_from(TEXTS),
            ),
            max_size=3,
        ),
    }
)
a_time = (st.floats(min_value=-24, max_value=82 * 24, allow_nan=False) | years_back).map(
    lambda h: T0 + timedelta(hours=h)
)
boundary = st.sampled_from(  # a Bangkok month's and year's first instant, an hour before one
    (
        month_start(datetime(2026, 10, 5, tzinfo=UTC), up=False),
        datetime(2026, 9, 30, 16, tzinfo=UTC),
        month_start(datetime(2025, 1, 5, tzinfo=UTC), up=False),
        month_start(datetime(2026, 1, 5, tzinfo=UTC), up=False),
    )
)


def sometimes(*values: Any) -> st.SearchStrategy[Any]:
    """Mostly no condition: a few random conditions together already match few cases."""
    return st.sampled_from(((), (), (), *values))


a_filter = st.builds(
    Filters,
    province=sometimes(("10",), ("50",)),
    category=sometimes(("road",), ("road", "flood")),
    status=sometimes(("resolved",), tuple(sorted(set(STATUSES) - CLOSED))),
    owner=sometimes(("ag-a",)),
    channel=sometimes(("hotline_1111",), ("line", "traffy_fondue")),
    origin=sometimes(("ops1111",)),
    reported_from=st.none() | st.none() | a_time | boundary,
    reported_to=st.none() | st.none() | a_time | boundary,
    sla_breached=st.sampled_from((None, None, True, False)),
    merged=st.sampled_from((None, None, True, False)),
    q=st.sampled_from((None, None, None, "ถนน", "ไฟดับ", "50%", "_", "ท่อ_")),
)
GROUPINGS = (
    ("province", "category"),
    ("month",),
    ("status", "month"),
    ("agency",),
    ("channel",),
    ("channel", "province"),
    ("agency", "province"),
)


@pytest.fixture(scope="module")
def sessions(postgres_url: str) -> Any:
    engine = make_engine(postgres_url)
    maker = make_sessionmaker(engine)
    maker.kw["info"] = {"url": postgres_url}
    yield maker
    engine.dispose()
    truncate(postgres_url)


def _write(sessions: Any, cases: list[dict[str, Any]]) -> list[str]:
    truncate(sessions.kw["info"]["url"])
    ids = []
    with sessions() as s, s.begin():
        s.add_all(Agency(code=a, name_th=a, kind="local_government") for a in AGENCIES)
        s.flush()
        for i, spec in enumerate(cases):
            ids.append(_case(s, i, spec))
    return ids


def _case(s: Any, i: int, spec: dict[str, Any]) -> str:
    opened = T0 + timedelta(hours=spec["at"])
    province, amphoe = spec["area"]
    lat, lon = spec["where"] or (None, None)
    case = Case(
        id=f"case-{i:03d}",
        status=spec["status"],
        owner=spec["owner"],
        category=spec["category"],
        province_code=province,
        amphoe_code=amphoe,
        opened_at=opened,
        accepted_at=None if spec["accept"] is None else opened + timedelta(hours=spec["accept"]),
        resolved_at=None if spec["resolve"] is None else opened + timedelta(hours=spec["resolve"]),
        accept_breached_at=opened if spec["breached"] else None,
        reopen_count=spec["reopens"],
        lat=lat,
        lon=lon,
    )
    s.add(case)
    if spec["owner"]:
        s.add(CaseParty(case_id=case.id, agency=spec["owner"], role="owner", since=opened))
    for j, (channel, system, star, earlier, words) in enumerate(spec["complaints"]):
        s.add(_complaint(case.id, f"{i}-{j}", channel, system, star, opened, earlier, words))
    s.flush()
    return case.id


def _complaint(
    case_id: str,
    ref: str,
    channel: str,
    system: str,
    star: int | None,
    opened: datetime,
    h: float,
    words: str,
) -> Complaint:
    return Complaint(
        id=f"{system}:{ref}",
        origin_agency="ag-a",
        origin_system=system,
        origin_ref=ref,
        channel=channel,
        category="road",
        subject="เรื่องร้องเรียน",
        description=words,
        reported_at=opened - timedelta(hours=h),
        record={"extensions": {system: {"star": star}}},
        case_id=case_id,
        tracking_code=f"TRK-{ref}",
    )


def _change(sessions: Any, ids: list[str], data: Any) -> None:
    """Statuses and breaches moved through the ORM, parties added and removed, texts
    edited; one case merged into another (its complaints moved by a Core UPDATE, as
    ``hub.caseflow._merge`` does)."""
    with sessions() as s, s.begin():
        for case_id in data.draw(st.lists(st.sampled_from(ids), max_size=4, unique=True)):
            case = s.get(Case, case_id)
            case.status = data.draw(st.sampled_from(STATUSES))
            case.resolve_breached_at = NOW if data.draw(st.booleans()) else None
            if data.draw(st.booleans()):  # a case moved province: its texts' copy follows
                case.province_code = data.draw(st.sampled_from(("10", "50", None)))
        # a party change alone (no change to the case row) must reach the agency's view
        for case_id in data.draw(st.lists(st.sampled_from(ids), max_size=2, unique=True)):
            row = s.get(CaseParty, (case_id, "ag-a", "owner"))
            if row is None:
                s.add(CaseParty(case_id=case_id, agency="ag-a", role="assist", since=NOW))
            else:
                s.delete(row)
        s.flush()
        for complaint in s.scalars(select(Complaint).order_by(Complaint.id).limit(1)):
            complaint.description = data.draw(st.sampled_from(TEXTS))
        if len(ids) >= 2:
            pair = st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True)
            gone, into = data.draw(pair)
            s.execute(update(Complaint).where(Complaint.case_id == gone).values(case_id=into))
            s.get(Case, gone).merged_into = into


def _same_features(fast: dict[str, Any], live: dict[str, Any]) -> None:
    """Means are summed in another order, so a coordinate may differ in its last bit before
    rounding; everything else must be equal."""
    assert len(fast["features"]) == len(live["features"])
    for a, b in zip(fast["features"], live["features"], strict=True):
        assert a["properties"] == b["properties"]
        if a["geometry"] is None or b["geometry"] is None:
            assert a["geometry"] == b["geometry"]
            continue
        for x, y in zip(a["geometry"]["coordinates"], b["geometry"]["coordinates"], strict=True):
            assert math.isclose(x, y, abs_tol=0.0011)


def _compare(sessions: Any, f: Filters, group_by: tuple[str, ...]) -> None:
    with sessions() as s:
        exact = index.stats(s, f, viewer=OVERSIGHT, group_by=group_by, now=NOW, percentiles="exact")
        live = index.stats(s, f, viewer=OVERSIGHT, group_by=group_by, now=NOW, live=True)
        assert exact == live
        approx = index.stats(s, f, viewer=OVERSIGHT, group_by=group_by, now=NOW)
        if index_times.answers(f, OVERSIGHT):
            _within_bound(approx, live)
        else:  # no histograms kept for these filters: the exact answer, said so
            assert approx == live
        # the cells the fold keeps hold what bucketing the matching cases again gives
        kept = index_times.performance(s, f, OVERSIGHT)
        assert kept == index_times.performance(s, f, OVERSIGHT, cells=False)
        for level in ("province", "amphoe"):
            _same_features(
                index.map_geojson(s, f, viewer=OVERSIGHT, level=level),
                index.map_geojson(s, f, viewer=OVERSIGHT, level=level, live=True),
            )
        for viewer in (OVERSIGHT, OWN):
            live_count = index.count(s, f, viewer=viewer, live=True)
            assert index.count(s, f, viewer=viewer) == live_count
            if wants_texts(f):  # the trigram-first shortcut, with caps the data can pass
                for cap in range(4):
                    found = text_count(s, f, viewer, cap)
                    assert found is None or found == min(live_count["total"], cap + 1)
            for sort in ("-reported_at", "reported_at"):
                assert _pages(s, f, viewer, sort, live=False) == _pages(s, f, viewer, sort, True)


TIMES = ("accept_median_h", "accept_p90_h", "resolve_median_h", "resolve_p90_h")


def _within_bound(approx: dict[str, Any], exact: dict[str, Any]) -> None:
    """Everything equal but the times, each within the stated bound of the exact one."""
    tables = ("by_agency", "by_province", "percentiles")
    assert {k: v for k, v in approx.items() if k not in tables} == {
        k: v for k, v in exact.items() if k not in tables
    }
    bound = approx["percentiles"]
    assert bound["method"] == "approx" and exact["percentiles"] == {"method": "exact"}
    for table in tables[:2]:
        assert len(approx[table]) == len(exact[table])
        for got, want in zip(approx[table], exact[table], strict=True):
            assert {k: v for k, v in got.items() if k not in TIMES} == {
                k: v for k, v in want.items() if k not in TIMES
            }
            for name in TIMES:
                if want[name] is None:
                    assert got[name] is None
                    continue
                limit = bound["relative_error"] * abs(want[name]) + bound["absolute_error_h"]
                assert abs(got[name] - want[name]) <= limit * (1 + 1e-9), (table, name)


def _pages(s: Any, f: Filters, viewer: Principal, sort: str, live: bool) -> list[str]:
    """Every matching case id, three to a page, following the cursors."""
    seen: list[str] = []
    cursor = None
    while True:
        page = index.search(s, f, viewer=viewer, sort=sort, limit=3, cursor=cursor, live=live)
        seen += [item["case_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cases=st.lists(a_case, min_size=3, max_size=16),
    filters=st.lists(a_filter, min_size=1, max_size=3),
    group_by=st.sampled_from(GROUPINGS),
    data=st.data(),
)
def test_fast_path_matches_live_definition(
    sessions: Any, cases: list[dict[str, Any]], filters: list[Filters], group_by: Any, data: Any
) -> None:
    ids = _write(sessions, cases)
    for f in filters:
        _compare(sessions, f, group_by)
    _change(sessions, ids, data)
    for f in filters:
        _compare(sessions, f, group_by)
    with sessions() as s:  # folded: the queue is empty, the facts are every case
        assert s.scalar(select(func.count()).select_from(IndexDirty)) == 0
        assert s.scalar(select(func.count()).select_from(CaseFacts)) == len(ids)
        _same_search_tables(s)


def _same_search_tables(s: Any) -> None:
    """``complaint_texts`` and ``index_parties`` hold exactly what the live tables say."""
    texts = select(
        Complaint.id, Complaint.case_id, Complaint.channel, Complaint.origin_system,
        Complaint.public_text, Case.province_code,
    ).join(Case, Case.id == Complaint.case_id)  # fmt: skip
    kept = select(
        ComplaintText.complaint_id, ComplaintText.case_id, ComplaintText.channel,
        ComplaintText.origin_system, ComplaintText.public_text, ComplaintText.province_code,
    )  # fmt: skip
    assert set(s.execute(texts)) == set(s.execute(kept))
    parties = select(CaseParty.case_id, CaseParty.agency, Case.reported_at).join(
        Case, Case.id == CaseParty.case_id
    )
    kept_parties = select(IndexParty.case_id, IndexParty.agency, IndexParty.reported_at)
    assert set(s.execute(parties)) == set(s.execute(kept_parties))


def test_writers_queue_cases_and_readers_fold_them(sessions: Any) -> None:
    ids = _write(sessions, [_plain(), _plain()])
    with sessions() as s:
        queued = set(s.scalars(select(IndexDirty.case_id)))
        assert queued == set(ids)
        assert refresh(s) == 2
        assert s.scalar(select(func.count()).select_from(IndexDirty)) == 0
        assert refresh(s) == 0
    with sessions() as s:  # the fold was committed on its own connection
        facts = s.get(CaseFacts, ids[0])
        assert facts is not None and facts.channels == ["line"]


def _plain() -> dict[str, Any]:
    return {
        "status": "offered",
        "owner": "ag-a",
        "category": "road",
        "area": ("10", "1003"),
        "at": 1.0,
        "accept": None,
        "resolve": None,
        "breached": False,
        "reopens": 0,
        "where": None,
        "complaints": [("line", "traffy_fondue", None, 0.0, TEXTS[0])],
    }


def test_open_predicate_is_the_closed_statuses() -> None:
    """The partial index serves the backlog only while it names exactly ``CLOSED``."""
    expected = f"status NOT IN ({', '.join(repr(s) for s in sorted(CLOSED))})"
    assert expected == OPEN_PREDICATE


@given(when=a_time)
def test_window_edges_meet_whole_months(when: datetime) -> None:
    """The cube's months and the facts' edges cover the range exactly once."""
    w = Window.of(Filters(reported_from=when, reported_to=when + timedelta(days=45)))
    if w.empty:
        return
    assert w.low is not None and w.high is not None
    assert when <= w.low < w.high <= when + timedelta(days=45)
    assert month_start(w.low, up=False) == w.low == month_start(w.low, up=True)
    assert month_start(w.high, up=False) == w.high
    assert w.low - when < timedelta(days=31)


def test_a_bounded_fold_takes_the_oldest_and_leaves_the_rest(sessions: Any) -> None:
    """``fold(limit=n)`` folds the n oldest queue entries; the batches together fold them
    all, each in its own transaction, and the result is what one whole fold gives."""
    ids = _write(sessions, [_plain() for _ in range(5)])
    engine = sessions.kw["bind"]
    with engine.begin() as conn:
        assert fold(conn, limit=2) == 2
    with sessions() as s:
        assert set(s.scalars(select(CaseFacts.case_id))) == set(ids[:2])
        assert set(s.scalars(select(IndexDirty.case_id))) == set(ids[2:])
    assert fold_in_batches(engine, batch=2) == 3
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(IndexDirty)) == 0
        assert set(s.scalars(select(CaseFacts.case_id))) == set(ids)
        _same_search_tables(s)
        f = Filters()
        one_by_one = index.stats(
            s, f, viewer=OVERSIGHT, group_by=("status",), now=NOW, percentiles="exact"
        )
        assert one_by_one == index.stats(
            s, f, viewer=OVERSIGHT, group_by=("status",), now=NOW, live=True
        )


def test_a_background_fold_skips_while_another_holds_the_lock(sessions: Any) -> None:
    """The background round never waits behind a reader's fold: it leaves the queue alone
    and the next round (or the reader) takes it."""
    ids = _write(sessions, [_plain(), _plain()])
    engine = sessions.kw["bind"]
    with engine.begin() as holder:
        holder.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        assert fold_in_batches(engine, batch=10) == 0
        with sessions() as s:
            assert set(s.scalars(select(IndexDirty.case_id))) == set(ids)
    assert fold_in_batches(engine, batch=10) == 2

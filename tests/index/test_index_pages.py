"""PostgreSQL search pages read from ``case_facts`` (and ``index_parties`` for one agency)
give the live definition's pages: the same cases in the same order, page after page through
the cursors, for every sort (with the NULLs of ``resolved_at``), the agency, area and
resolved-range filters the fast-path test leaves out, an oversight body's view and an
agency's own. Counts answered from the cube agree with counting the cases, also when the
cube's shortcut is cut short (small caps, few rows allowed)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import index
from hub.exchange.tokens import Principal
from hub.index import SORTS, Filters
from hub.index_facts import refresh
from hub.index_fast import cube_answers
from tests.index.test_index_fast_path import (
    OVERSIGHT,
    OWN,
    _change,
    _write,
    a_case,
    a_time,
    boundary,
    sessions,  # noqa: F401  (the module-scoped PostgreSQL sessions fixture)
    sometimes,
)

pytestmark = pytest.mark.postgres

ALL_SORTS = tuple(s for key in SORTS for s in (key, f"-{key}"))
OTHER = Principal("ag-b", frozenset({"submit", "receive"}), "local_government")

a_page_filter = st.builds(
    Filters,
    province=sometimes(("10",), ("50",)),
    amphoe=sometimes(("1003",), ("1003", "5001")),
    category=sometimes(("road",), ("road", "flood")),
    status=sometimes(("resolved",), ("offered", "accepted", "in_progress", "reopened")),
    owner=sometimes(("ag-a",)),
    agency=sometimes(("ag-a",), ("ag-b",), ("ag-a", "ag-c")),
    channel=sometimes(("hotline_1111",)),
    reported_from=st.none() | st.none() | a_time | boundary,
    resolved_from=st.none() | st.none() | st.none() | a_time,
    resolved_to=st.none() | st.none() | st.none() | a_time,
    sla_breached=st.sampled_from((None, None, True, False)),
    merged=st.sampled_from((None, None, True, False)),
    q=st.sampled_from((None, None, None, None, "ถนน")),
)


def _pages(s: Any, f: Filters, viewer: Principal, sort: str, limit: int, live: bool) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = index.search(s, f, viewer=viewer, sort=sort, limit=limit, cursor=cursor, live=live)
        assert len(page["items"]) <= limit
        seen += [item["case_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def _same_pages(sessions: Any, f: Filters, limit: int) -> None:  # noqa: F811
    with sessions() as s:
        for viewer in (OVERSIGHT, OWN, OTHER):
            for sort in ALL_SORTS:
                fast = _pages(s, f, viewer, sort, limit, live=False)
                assert fast == _pages(s, f, viewer, sort, limit, live=True), (viewer, sort)
            assert index.count(s, f, viewer=viewer) == index.count(s, f, viewer=viewer, live=True)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cases=st.lists(a_case, min_size=3, max_size=16),
    filters=st.lists(a_page_filter, min_size=1, max_size=3),
    limit=st.integers(1, 4),
    data=st.data(),
)
def test_pages_from_the_facts_are_the_live_pages(
    sessions: Any,  # noqa: F811
    cases: list[dict[str, Any]],
    filters: list[Filters],
    limit: int,
    data: Any,
) -> None:
    ids = _write(sessions, cases)
    for f in filters:
        _same_pages(sessions, f, limit)
    _change(sessions, ids, data)  # statuses, parties, texts moved; one case merged
    for f in filters:
        _same_pages(sessions, f, limit)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cases=st.lists(a_case, min_size=3, max_size=16),
    f=st.builds(
        Filters,
        province=sometimes(("10",), ("50",)),
        category=sometimes(("road",)),
        status=sometimes(("resolved",)),
        reported_from=st.none() | a_time | boundary,
        reported_to=st.none() | a_time,
        sla_breached=st.sampled_from((None, True, False)),
    ),
    rows=st.integers(1, 5),
)
def test_a_cube_count_is_the_count_of_the_cases(
    sessions: Any,  # noqa: F811
    cases: list[dict[str, Any]],
    f: Filters,
    rows: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With caps and a row allowance the data can pass, the shortcut answers exactly or
    says it cannot tell; ``count`` then still gives the live answer."""
    _write(sessions, cases)
    assert cube_answers(f, OVERSIGHT)
    with sessions() as s:
        refresh(s)  # what count() does first
        live = index.count(s, f, viewer=OVERSIGHT, live=True)["total"]
        monkeypatch.setattr(index, "CUBE_COUNT_ROWS", rows)
        for cap in range(5):
            found = index._cube_count(s, f, OVERSIGHT, cap)
            assert found is None or found == min(live, cap + 1)
        assert index.count(s, f, viewer=OVERSIGHT)["total"] == live


def test_a_resolved_sort_pages_through_missing_values_on_both_paths(sessions: Any) -> None:  # noqa: F811
    """Open cases have no ``resolved_at``: newest-resolved first lists them first, oldest
    first lists them last; tie-broken by case id on both paths."""
    spec = {
        "status": "resolved",
        "owner": "ag-a",
        "category": "road",
        "area": ("10", "1003"),
        "at": 1.0,
        "accept": 1.0,
        "resolve": None,
        "breached": False,
        "reopens": 0,
        "where": None,
        "complaints": [("line", "traffy_fondue", None, 0.0, "ถนนพัง")],
    }
    # opened at T0 + 0, 1, 2, 3 h; resolved 6 h (case 1) and 5 h (case 3) after T0; 0, 2 open
    cases = [{**spec, "resolve": r, "at": float(i)} for i, r in enumerate((None, 5.0, None, 2.0))]
    ids = _write(sessions, cases)
    with sessions() as s:
        for live in (False, True):
            newest = _pages(s, Filters(), OVERSIGHT, "-resolved_at", 1, live=live)
            oldest = _pages(s, Filters(), OVERSIGHT, "resolved_at", 3, live=live)
            assert newest == [ids[2], ids[0], ids[1], ids[3]]
            assert oldest == [ids[3], ids[1], ids[0], ids[2]]

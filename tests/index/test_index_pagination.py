"""Keyset pagination, as a property: following ``next_cursor`` from the first page yields
every matching case exactly once, in the sort order — also when cases are inserted between
pages (before and after the cursor), with many ties on the sort key and missing values.

Cases are written straight to the database (hundreds per run; signing each would only slow
the search for counter-examples); every page is read through the API with a signed token.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from hub.models import (
    Case,
    CaseFacts,
    CaseParty,
    ComplaintText,
    IndexCube,
    IndexDirty,
    IndexParty,
)
from tests.index.world import get, ok_json

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SORTS = ("-reported_at", "reported_at", "-resolved_at", "resolved_at")
_serial = itertools.count()

# few distinct times: ties on the sort key are the rule, not the exception
times = st.integers(0, 6).map(lambda h: T0 + timedelta(hours=h))
rows = st.tuples(
    times,  # reported_at
    st.none() | times,  # resolved_at
    st.sampled_from(["10", "50"]),  # province
    st.booleans(),  # bma is on the case
)


def _insert(hub, specs) -> list[str]:
    made = []
    with hub.transaction() as s:
        for reported, resolved, province, bma in specs:
            case_id = f"C{next(_serial):06d}"
            s.add(
                Case(
                    id=case_id,
                    status="resolved" if resolved else "accepted",
                    category="road",
                    province_code=province,
                    opened_at=reported,
                    updated_at=reported,
                    reported_at=reported,
                    resolved_at=resolved,
                )
            )
            if bma:
                s.add(CaseParty(case_id=case_id, agency="bma", role="owner", since=reported))
            made.append(case_id)
    return made


def _order_key(sort: str, case: Case) -> tuple:
    """The documented order: NULL is the largest value; the case id breaks ties."""
    value = getattr(case, sort.removeprefix("-"))
    missing = value is None
    return (missing, value or T0, case.id)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(rows, max_size=14),
    sort=st.sampled_from(SORTS),
    limit=st.integers(1, 5),
    provinces=st.sampled_from([(), ("10",), ("50",), ("10", "50")]),
    reader=st.sampled_from(["ombudsman", "bma"]),
    inserts=st.lists(st.lists(rows, max_size=3), max_size=4),
)
def test_paging_yields_every_matching_case_once_in_order(
    client, hub, cast, initial, sort, limit, provinces, reader, inserts
):
    with hub.transaction() as s:  # the last example's cases, and what the fold made of them
        for table in (IndexParty, ComplaintText, CaseFacts, IndexCube, IndexDirty, CaseParty, Case):
            s.execute(delete(table))
    original = _insert(hub, initial)
    params = {"sort": sort, "limit": limit, **({"province": list(provinces)} if provinces else {})}

    seen: list[str] = []
    cursor, later = None, iter(inserts)
    most_pages = len(initial) + sum(map(len, inserts)) + 2
    for _ in range(most_pages):
        body = ok_json(
            get(client, cast[reader], "/v1/index/complaints", **params, **_cursor(cursor))
        )
        assert len(body["items"]) <= limit
        seen += [i["case_id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        _insert(hub, next(later, []))  # new cases arrive between pages
    else:
        raise AssertionError("the cursor never reached the end")

    with hub.transaction() as s:
        everything = {c.id: c for c in s.scalars(select(Case))}
        on_case = set(s.scalars(select(CaseParty.case_id).where(CaseParty.agency == "bma")))

    def matches(case: Case) -> bool:
        visible = reader == "ombudsman" or case.id in on_case
        return visible and (not provinces or case.province_code in provinces)

    assert len(seen) == len(set(seen)), "a case was repeated"
    assert {c for c in original if matches(everything[c])} <= set(seen), "a case was skipped"
    assert all(matches(everything[c]) for c in seen), "a case outside the filters"
    keys = [_order_key(sort, everything[c]) for c in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-")), "out of order"


def _cursor(cursor: str | None) -> dict[str, str]:
    return {"cursor": cursor} if cursor else {}

"""Hypothesis strategies for 1111 ``GetCase`` records (the conformance kit's property run).

Generated cases stay inside what CoreService sends: ids from the adapter's own tables and the
fixture code lists (areas joined with their names the way the client joins them), contacts
present or blank (``""``, ``"-"``, null), citizen ids plain or dashed, times Bangkok-local in
the common or Buddhist era or as .NET ``/Date(ms)/``, and operatings by known organisations.
Hypothesis is imported here only, so the adapter itself does not need it at run time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from adapters.ops1111.codelists import snapshot, with_area_names
from adapters.ops1111.mapping import BANGKOK, BUDDHIST_ERA, TABLES

_THAI = st.text(
    st.characters(min_codepoint=0x0E01, max_codepoint=0x0E4C) | st.sampled_from(" 0123456789\n"),
    min_size=1,
    max_size=300,
).filter(str.strip)
_BLANK = st.sampled_from(["", "-", None])
_MOMENT = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2026, 12, 31))


def _ids(section: str) -> st.SearchStrategy[int]:
    return st.sampled_from(sorted(int(k) for k in TABLES[section]))


def _areas() -> list[dict[str, Any]]:
    lists = snapshot()
    out: list[dict[str, Any]] = [{"province_id": None}]
    for sub in lists.lists["GetSubdistricts"]:
        district = lists.row("GetDistricts", sub["district_id"])
        ids = {"province_id": district["province_id"], "district_id": district["id"]}
        out += [ids, ids | {"subdistrict_id": sub["id"]}]
    return out


@st.composite
def times(draw: st.DrawFn) -> str:
    """A 1111 time in one of the forms it is written."""
    moment = draw(_MOMENT).replace(microsecond=0)
    form = draw(st.sampled_from(["ce", "be", "dotnet"]))
    if form == "dotnet":
        millis = int(moment.replace(tzinfo=BANGKOK).astimezone(UTC).timestamp() * 1000)
        return f"/Date({millis})/"
    year = moment.year + (BUDDHIST_ERA if form == "be" else 0)
    return f"{year}{moment.isoformat(sep=' ')[4:]}"


@st.composite
def citizen_ids(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=13, max_size=13))
    if draw(st.booleans()):
        return digits
    return f"{digits[0]}-{digits[1:5]}-{digits[5:10]}-{digits[10:12]}-{digits[12]}"


@st.composite
def operatings(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "operating_id": draw(st.integers(1, 10**7)),
        "terminal_org_id": draw(_ids("organization")),
        "terminal_owner_id": draw(st.one_of(st.none(), st.integers(1, 99999))),
        "severity_id": draw(_ids("severity")),
        "secret_id": draw(_ids("secret")),
        "detail": draw(_THAI),
        "date_opened": draw(times()),
        "date_closed": draw(st.one_of(st.none(), times())),
        "attachments": [],
    }


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """One GetCase record, joined with its area names as the client joins them."""
    area = draw(st.sampled_from(_areas()))
    case = {
        "case_id": draw(st.integers(1, 10**9)),
        "case_code": draw(st.from_regex(r"\A[0-9]{4}-[0-9]{6}\Z")),
        "type_id": draw(_ids("case_type")),
        "status_id": draw(_ids("status")),
        "organization_id": draw(_ids("organization")),
        "channel_id": draw(_ids("channel")),
        "detail": draw(_THAI),
        "subdistrict_id": None,
        "district_id": None,
        "contact_citizen_id": draw(st.one_of(_BLANK, citizen_ids())),
        "contact_name": draw(st.one_of(_BLANK, _THAI.map(lambda t: t.strip()[:40]))),
        "contact_lastname": draw(st.one_of(_BLANK, _THAI.map(lambda t: t.strip()[:40]))),
        "contact_telephone": draw(
            st.one_of(_BLANK, st.from_regex(r"\A0[0-9]{1,2}-[0-9]{3}-[0-9]{4}\Z"))
        ),
        "created_date": draw(times()),
        "updated_date": draw(times()),
        "operatings": draw(st.lists(operatings(), max_size=3)),
        "summary": None,
    } | area
    return with_area_names(case, snapshot())

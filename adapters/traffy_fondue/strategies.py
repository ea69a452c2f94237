"""Hypothesis strategies for Traffy partner-API records (the conformance kit's property run).

Generated records stay inside what Traffy really sends: labels from the adapter's own tables,
real Bangkok khwaeng/khet names (both spellings of the province), 1555 and year-prefixed
tickets, organisation names with commas inside parentheses, times with and without a zone.
Hypothesis is imported here only, so the adapter itself does not need it at run time.
"""

from __future__ import annotations

import string
from datetime import datetime
from functools import cache
from typing import Any

from hypothesis import strategies as st

from adapters.traffy_fondue.mapping import TABLES
from hub.vocab import area, find_area

_TICKET = st.one_of(
    st.builds(
        lambda y, s: f"{y}-{s}",
        st.integers(2019, 2026),
        st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=6, max_size=6),
    ),
    st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=6, max_size=6),  # 1555 imports
)
_THAI = st.text(
    st.characters(min_codepoint=0x0E01, max_codepoint=0x0E4C) | st.sampled_from(" 0123456789"),
    min_size=1,
    max_size=200,
).filter(str.strip)
_ORG = st.one_of(
    _THAI.map(lambda t: t[:40]),
    st.builds(
        lambda a, b: f"{a} ({b}, HQ)",
        _THAI.map(lambda t: t[:20]),
        st.text(string.ascii_letters + " -", min_size=1, max_size=30),
    ),
)


@cache
def _bangkok_places() -> tuple[tuple[str, str], ...]:
    """(khet, khwaeng) names of every current Bangkok khwaeng that resolves back to itself."""
    found = []
    for code in (f"10{a:02d}{t:02d}" for a in range(1, 51) for t in range(1, 13)):
        tambon = area(code)
        amphoe = area(code[:4])
        if tambon and amphoe and not tambon.abolished and not amphoe.abolished:
            hit = find_area("กรุงเทพมหานคร", amphoe.name_th, tambon.name_th)
            if hit is not None and hit.code == code:
                found.append((amphoe.name_th, tambon.name_th))
    return tuple(found)


def _time(moment: datetime, zoned: bool) -> str:
    return moment.isoformat(sep=" ") + ("+07:00" if zoned else "")


@st.composite
def api_records(draw: st.DrawFn) -> dict[str, Any]:
    """One get-issue/v1 record as the partner API could send it."""
    district, subdistrict = draw(st.sampled_from(_bangkok_places()))
    state = draw(st.sampled_from(sorted(TABLES["state"])))
    comment = draw(_THAI) + draw(st.sampled_from(["", " #1555"]))
    orgs = draw(st.lists(_ORG, min_size=0, max_size=4))
    when = draw(st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2026, 12, 31)))
    return {
        "ticket_id": draw(_TICKET),
        "type": draw(st.lists(st.sampled_from(sorted(TABLES["category"])), max_size=3)),
        "description": comment,
        "latitude": draw(st.floats(13.49, 13.96)),
        "longitude": draw(st.floats(100.32, 100.94)),
        "address": draw(st.one_of(st.just(""), _THAI)),
        "province": draw(st.sampled_from(["กรุงเทพมหานคร", "จังหวัดกรุงเทพมหานคร"])),
        "district": district,
        "subdistrict": subdistrict,
        "photo": draw(
            st.lists(
                st.builds(
                    lambda h: (
                        f"https://storage.googleapis.com/traffy_public_bucket/attachment/{h}.jpg"
                    ),
                    st.text("0123456789abcdef", min_size=40, max_size=40),
                ),
                max_size=2,
            )
        ),
        "photo_after": draw(
            st.lists(
                st.sampled_from(["https://example.org/after.jpg", "https://example.org/after.mp4"]),
                max_size=2,
            )
        ),
        "timestamp": _time(when, draw(st.booleans())),
        "state": state,
        "state_type": TABLES["state_to_type"][state],
        "star": draw(st.one_of(st.none(), st.integers(1, 5))),
        "count_reopen": draw(st.integers(0, 20)),
        "orgs": [
            {
                "org_id": i + 1,
                "org": name,
                "status": state,
                "status_type": TABLES["state_to_type"][state],
            }
            for i, name in enumerate(orgs)
        ],
        "timeline": [],
    }

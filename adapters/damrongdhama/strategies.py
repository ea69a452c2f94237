"""Hypothesis strategies for reference-layout centre records (the kit's property run).

Labels come from the adapter's own field map; places are real DOPA names at every level,
spelled with and without level words; dates are Buddhist-era, with and without a time;
contact details are optional and, when present, well-formed (citizen ids with a valid check
digit). Hypothesis is imported here only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from adapters.damrongdhama.mapping import REFERENCE, format_date

COLUMNS = REFERENCE.columns
PLACES = (  # (province, amphoe, tambon) as centres write them
    ("เชียงใหม่", "", ""),
    ("จังหวัดเชียงใหม่", "อำเภอเมืองเชียงใหม่", ""),
    ("เชียงใหม่", "เมืองเชียงใหม่", "ศรีภูมิ"),
    ("เชียงใหม่", "จอมทอง", "บ้านหลวง"),
    ("เชียงใหม่", "หางดง", "หนองแก๋ว"),
    ("ขอนแก่น", "เมืองขอนแก่น", "ในเมือง"),
    ("สงขลา", "หาดใหญ่", "คอหงส์"),
    ("กรุงเทพมหานคร", "เขตหนองจอก", "กระทุ่มราย"),
)
_THAI = st.text(
    st.characters(min_codepoint=0x0E01, max_codepoint=0x0E4C) | st.sampled_from(" 0123456789"),
    min_size=1,
    max_size=300,
).filter(str.strip)


def _citizen_id(body: str) -> str:
    check = (11 - sum(int(d) * (13 - i) for i, d in enumerate(body)) % 11) % 10
    return body + str(check)


def _level(place: tuple[str, str, str]) -> list[str]:
    levels = ["จังหวัด"] + (["อำเภอ"] if place[1] else []) + (["ตำบล"] if place[2] else [])
    return levels


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """One record of the reference layout (export row or API record)."""
    place = draw(st.sampled_from(PLACES))
    when = draw(st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31)))
    stamp = format_date(when.isoformat() + "+07:00")
    record = {
        COLUMNS["ref"]: f"DC{draw(st.integers(10, 999999))}-{draw(st.integers(2558, 2573))}-"
        f"{draw(st.integers(1, 99999)):05d}",
        COLUMNS["received_at"]: draw(st.sampled_from([stamp, stamp[:10]])),
        COLUMNS["channel"]: draw(st.sampled_from(["", *REFERENCE.tables["channel"]])),
        COLUMNS["category"]: draw(st.sampled_from(sorted(REFERENCE.tables["category"]))),
        COLUMNS["description"]: draw(_THAI),
        COLUMNS["province"]: place[0],
        COLUMNS["amphoe"]: place[1],
        COLUMNS["tambon"]: place[2],
        COLUMNS["status"]: draw(st.sampled_from(sorted(REFERENCE.tables["status"]))),
        COLUMNS["level"]: draw(st.sampled_from(_level(place))),
        COLUMNS["forwarded_to"]: ",".join(draw(st.lists(_THAI.map(lambda t: t[:40]), max_size=3))),
    }
    if draw(st.booleans()):
        record[COLUMNS["phone"]] = draw(
            st.from_regex(r"0[689][0-9]-[0-9]{3}-[0-9]{4}", fullmatch=True)
        )
        record[COLUMNS["national_id"]] = _citizen_id(
            draw(st.from_regex(r"[1-8][0-9]{11}", fullmatch=True))
        )
        record[COLUMNS["name"]] = draw(_THAI.map(lambda t: t[:60]))
    return record

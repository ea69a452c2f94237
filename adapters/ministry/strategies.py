"""Hypothesis strategies for any configured ministry's native records (the kit's property run).

Built from the ministry's own config: labels from its tables, times in its time convention,
places as codes or names as its field map wants, contact details optional and well-formed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from adapters.ministry.config import Ministry
from adapters.ministry.mapping import format_time, set_path

PLACES = (("50", "5001", "500101"), ("40", "4001", "400101"), ("90", "9011", "901104"))
NAMES = {
    "50": "เชียงใหม่", "5001": "เมืองเชียงใหม่", "500101": "ศรีภูมิ",
    "40": "ขอนแก่น", "4001": "เมืองขอนแก่น", "400101": "ในเมือง",
    "90": "สงขลา", "9011": "หาดใหญ่", "901104": "คอหงส์",
}  # fmt: skip
_THAI = st.text(
    st.characters(min_codepoint=0x0E01, max_codepoint=0x0E4C) | st.sampled_from(" 0123456789"),
    min_size=1,
    max_size=300,
).filter(str.strip)


def _citizen_id(body: str) -> str:
    return body + str((11 - sum(int(d) * (13 - i) for i, d in enumerate(body)) % 11) % 10)


def records(m: Ministry) -> st.SearchStrategy[dict[str, Any]]:
    """Native records of ministry ``m``."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        when = draw(st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31)))
        values: dict[str, Any] = {
            "ref": draw(st.from_regex(r"[A-Z]{2,4}-[0-9]{4}-[0-9]{3,6}", fullmatch=True)),
            "reported_at": format_time(m, when.isoformat() + "+07:00"),
            "category": draw(st.sampled_from(sorted(m.tables["category"]))),
            "description": draw(_THAI),
            "status": draw(st.sampled_from(sorted(m.tables["status"]))),
        }
        if "channel" in m.tables:
            values["channel"] = draw(st.sampled_from(sorted(m.tables["channel"])))
        for level, code in zip(
            ("province", "amphoe", "tambon"), draw(st.sampled_from(PLACES)), strict=True
        ):
            values |= {f"{level}_code": code, level: NAMES[code]}
        if draw(st.booleans()):
            values["phone"] = draw(st.from_regex(r"0[689][0-9]-[0-9]{3}-[0-9]{4}", fullmatch=True))
            values["national_id"] = _citizen_id(
                draw(st.from_regex(r"[1-8][0-9]{11}", fullmatch=True))
            )
        record: dict[str, Any] = {}
        for name, value in values.items():
            if name in m.fields:
                set_path(record, m.fields[name], value)
        return record

    return build()

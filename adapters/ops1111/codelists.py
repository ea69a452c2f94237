"""1111's code lists (``ListOfValues.asmx``) and the run-time join of area ids with names.

1111 numbers provinces, districts and subdistricts its own way, so a case's
``province_id``/``district_id``/``subdistrict_id`` mean nothing to the hub until they are
joined with the names ListOfValues gives; the names then resolve to DOPA codes through
:func:`hub.vocab.find_area`. The client builds a :class:`CodeLists` from the live service and
attaches ``area_names`` to every case it hands out (:func:`with_area_names`); the mapping reads
only those names. :func:`snapshot` is the fixture copy that the simulator serves.

Pure: no I/O except :func:`snapshot` reading its JSON file once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from adapters.base import Table
from hub.vocab import UnmappedValue, find_area

SYSTEM = "ops1111"
LIST_OPERATIONS = (
    "GetCaseTypes",
    "GetCaseStatuses",
    "GetChannels",
    "GetOrganizations",
    "GetProvinces",
    "GetDistricts",
    "GetSubdistricts",
)
# ListOfValues operation → the tables.json section its ids must all be in
CHECKED = {
    "GetCaseTypes": "case_type",
    "GetCaseStatuses": "status",
    "GetChannels": "channel",
    "GetOrganizations": "organization",
}
_LEVELS: tuple[tuple[str, str, str | None], ...] = (
    ("province", "GetProvinces", None),
    ("district", "GetDistricts", "province_id"),
    ("subdistrict", "GetSubdistricts", "district_id"),
)
Row = Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class CodeLists:
    """Every ListOfValues list, as rows ``{"id", "name", [parent id]}`` by operation name."""

    lists: Mapping[str, Sequence[Row]]
    _by_id: dict[str, dict[str, Row]] = field(init=False, repr=False)
    _by_code: dict[str, dict[str, int]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_id = {op: {str(r["id"]): r for r in rows} for op, rows in self.lists.items()}
        object.__setattr__(self, "_by_id", by_id)

    def row(self, operation: str, value: Any) -> Row:
        """The row with this id; UnmappedValue when ListOfValues does not know it."""
        try:
            return self._by_id[operation][str(value).strip()]
        except KeyError:
            raise UnmappedValue(SYSTEM, operation, str(value)) from None

    def knows(self, operation: str, value: Any) -> bool:
        return str(value).strip() in self._by_id.get(operation, {})

    def area_names(self, record: Mapping[str, Any]) -> dict[str, str]:
        """``{"province", "district", "subdistrict"}`` names of the case's ids (those it has).

        A child must belong to the parent the case names; else UnmappedValue.
        """
        names: dict[str, str] = {}
        parent: str | None = None
        for level, operation, parent_key in _LEVELS:
            value = record.get(f"{level}_id")
            if value in (None, "", 0):
                break
            row = self.row(operation, value)
            if parent_key and str(row.get(parent_key)) != parent:
                raise UnmappedValue(SYSTEM, f"{level}_id", f"{value} is not in {parent}")
            names[level], parent = str(row["name"]), str(row["id"])
        return names

    def ids_for(self, code: str) -> dict[str, int]:
        """1111's ``{province_id, district_id, subdistrict_id}`` for a DOPA area code."""
        if not self._by_code:
            self._by_code.update(_reverse(self))
        try:
            return dict(self._by_code[code])
        except KeyError:
            raise UnmappedValue(SYSTEM, "area", code) from None

    def unmapped(self, tables: Mapping[str, Table]) -> list[str]:
        """Ids ListOfValues offers that ``tables.json`` does not map (empty: all mapped)."""
        return [
            f"{section} {row['id']} ({row.get('name')})"
            for operation, section in CHECKED.items()
            for row in self.lists.get(operation, ())
            if str(row["id"]) not in tables[section]
        ]


def _reverse(lists: CodeLists) -> dict[str, dict[str, int]]:
    """DOPA code → 1111 ids, for every area of the lists whose names resolve."""
    out: dict[str, dict[str, int]] = {}
    for sub in lists.lists.get("GetSubdistricts", ()):
        district = lists.row("GetDistricts", sub["district_id"])
        province = lists.row("GetProvinces", district["province_id"])
        chain = ((province, "province"), (district, "district"), (sub, "subdistrict"))
        names = [str(row["name"]) for row, _ in chain]
        for depth in range(1, 4):
            hit = find_area(*names[:depth])
            if hit is not None:
                out.setdefault(hit.code, {f"{lv}_id": int(r["id"]) for r, lv in chain[:depth]})
    return out


def with_area_names(record: Mapping[str, Any], lists: CodeLists) -> dict[str, Any]:
    """The case record joined with its area names (the shape the mapping reads)."""
    return dict(record) | {"area_names": lists.area_names(record)}


@cache
def snapshot() -> CodeLists:
    """The fixture code lists (what the simulator serves)."""
    path = Path(__file__).resolve().parent / "fixtures" / "list_of_values.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    return CodeLists({op: tuple(doc[op]) for op in LIST_OPERATIONS})

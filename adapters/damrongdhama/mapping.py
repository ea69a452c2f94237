"""Damrongdhama centre records → hub complaints, driven by a field map (``fieldmap.json``).

Pure: the field map is read once per file, and every unknown label raises
:class:`~hub.vocab.UnmappedValue` instead of defaulting. A native record is a flat dict of
column → text: one row of a CSV/spreadsheet export, or one record of the REST API (same
Thai keys). Which column holds what, the date convention (Buddhist-era ``15/03/2567 10:30``
in the reference layout) and the value tables (category, status, centre level, channel) all
come from the :class:`FieldMap`; see ``format.md``.

Personal data (name, phone, citizen id) goes to ``reporter.contact`` and nowhere else — not
into ``extensions``, not into error messages (a bad citizen id is reported without its digits).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import Table, load_tables
from adapters.damrongdhama import REFERENCE_FIELDMAP
from adapters.damrongdhama.centres import centre_code
from hub.vocab import UnmappedValue, find_area

SYSTEM = "damrongdhama"
ID_PREFIX = "damrongdhama:"
BANGKOK = ZoneInfo("Asia/Bangkok")
BUDDHIST_OFFSET = 543
SUBJECT_LENGTH = 80
_SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


@dataclass(frozen=True)
class FieldMap:
    """One export layout: hub field → native column, date convention, value tables."""

    layout: str
    columns: Mapping[str, str]
    required: frozenset[str]
    era: str
    formats: tuple[str, ...]
    yes: frozenset[str]
    separator: str
    tables: Mapping[str, Table]

    def column(self, field: str) -> str | None:
        return self.columns.get(field)


@cache
def load_fieldmap(path: Path = REFERENCE_FIELDMAP) -> FieldMap:
    """A field map file (cached per path); tables are ``level``, ``channel``, ``category``..."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc["dates"]["era"] not in ("buddhist", "common"):
        raise ValueError(f"{path}: dates.era must be buddhist or common")
    return FieldMap(
        layout=doc["layout"],
        columns=dict(doc["columns"]),
        required=frozenset(doc["required"]),
        era=doc["dates"]["era"],
        formats=tuple(doc["dates"]["formats"]),
        yes=frozenset(doc.get("yes", ())),
        separator=doc.get("list_separator", ","),
        tables=load_tables(path, SYSTEM),
    )


REFERENCE = load_fieldmap()


def cell(row: Mapping[str, Any], field: str, fmap: FieldMap = REFERENCE) -> str:
    """The stripped text of ``field``'s column; a required field left empty raises."""
    column = fmap.column(field)
    text = str(row.get(column) or "").strip() if column else ""
    if not text and field in fmap.required:
        raise UnmappedValue(SYSTEM, field, f"column {column!r} is empty or missing")
    return text


def parse_date(text: str, fmap: FieldMap = REFERENCE) -> str:
    """A native date as RFC 3339 (Bangkok local; Buddhist years less 543 when the era says so)."""
    shifted = text.strip()
    if fmap.era == "buddhist":
        shifted = _YEAR.sub(lambda m: str(int(m.group(1)) - BUDDHIST_OFFSET), shifted, count=1)
    for fmt in fmap.formats:
        try:
            return datetime.strptime(shifted, fmt).replace(tzinfo=BANGKOK).isoformat()
        except ValueError:
            continue
    raise UnmappedValue(SYSTEM, "received_at", text)


def format_date(rfc3339: str, fmap: FieldMap = REFERENCE) -> str:
    """A hub time as the layout writes it (first format, Bangkok local, era applied)."""
    local = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(BANGKOK)
    text = local.strftime(fmap.formats[0])
    if fmap.era == "buddhist":
        year = str(local.year)
        text = text.replace(year, str(local.year + BUDDHIST_OFFSET), 1)
    return text


def complaint_id(ref: str) -> str:
    """``damrongdhama:<ref>``; a ref with Thai letters or slashes gets a stable digest instead."""
    if _SAFE_REF.match(ref):
        return ID_PREFIX + ref
    return ID_PREFIX + "x-" + hashlib.sha256(ref.encode()).hexdigest()[:24]


def national_id(text: str) -> str:
    """13 digits with a valid check digit; the digits are never put in the error."""
    digits = re.sub(r"[\s-]", "", text)
    if not (len(digits) == 13 and digits.isdigit()):
        raise UnmappedValue(SYSTEM, "national_id", "not 13 digits (value withheld)")
    check = (11 - sum(int(d) * (13 - i) for i, d in enumerate(digits[:12])) % 11) % 10
    if check != int(digits[12]):
        raise UnmappedValue(SYSTEM, "national_id", "check digit wrong (value withheld)")
    return digits


def phone(text: str) -> str:
    if not _PHONE.match(text):
        raise UnmappedValue(SYSTEM, "phone", "not a phone number (value withheld)")
    return text


def reporter(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> dict[str, Any]:
    """``{"anonymous", "contact"?}``: the only place personal data goes."""
    contact: dict[str, str] = {}
    if name := cell(row, "name", fmap):
        contact["name"] = name
    if number := cell(row, "phone", fmap):
        contact["phone"] = phone(number)
    if citizen := cell(row, "national_id", fmap):
        contact["national_id"] = national_id(citizen)
    anonymous = cell(row, "anonymous", fmap) in fmap.yes or not contact
    return {"anonymous": anonymous, **({"contact": contact} if contact else {})}


def location(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> dict[str, Any]:
    """DOPA codes from the names (as deep as given), plus address and coordinates if any."""
    names = [cell(row, f, fmap) for f in ("province", "amphoe", "tambon")]
    tambon = names[2] if names[1] else ""  # a tambon is only found inside its amphoe
    found = find_area(names[0], names[1] or None, tambon or None)
    if found is None:
        raise UnmappedValue(SYSTEM, "area", "/".join(n for n in names if n))
    codes = {"province_code": found.code[:2]}
    if len(found.code) >= 4:
        codes["amphoe_code"] = found.code[:4]
    if len(found.code) == 6:
        codes["tambon_code"] = found.code
    place: dict[str, Any] = {}
    lat, lon = cell(row, "lat", fmap), cell(row, "lon", fmap)
    if lat and lon:
        place |= {"lat": float(lat), "lon": float(lon)}
    if address := cell(row, "address", fmap):
        place["address"] = address
    return place | codes


def _area_code(place: Mapping[str, Any]) -> str:
    return str(place.get("tambon_code") or place.get("amphoe_code") or place["province_code"])


def _subject(text: str) -> str:
    first = text.strip().splitlines()[0].strip()
    return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"


def to_hub(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> dict[str, Any]:
    """One centre record (export row or API record) as a hub complaint."""
    ref = cell(row, "ref", fmap)
    level = fmap.tables["level"][cell(row, "level", fmap)]
    place = location(row, fmap)
    try:
        centre = centre_code(level, _area_code(place))
    except ValueError:
        raise UnmappedValue(SYSTEM, "level", f"{level} centre needs a {level} name") from None
    category_label = cell(row, "category", fmap)
    description = cell(row, "description", fmap)
    channel, status = cell(row, "channel", fmap), cell(row, "status", fmap)
    forwarded = [a.strip() for a in cell(row, "forwarded_to", fmap).split(fmap.separator)]
    return {
        "id": complaint_id(ref),
        "origin": {"agency": centre, "system": SYSTEM, "ref": ref},
        "channel": fmap.tables["channel"][channel] if channel else "damrongdhama_1567",
        "category": fmap.tables["category"][category_label],
        "subject": cell(row, "subject", fmap) or _subject(description),
        "description": description,
        "location": place,
        "reporter": reporter(row, fmap),
        "reported_at": parse_date(cell(row, "received_at", fmap), fmap),
        "language": "th",
        "extensions": {
            SYSTEM: {
                "layout": fmap.layout,
                "level": level,
                "centre": centre,
                "status": status,
                "hub_status": fmap.tables["status"][status],
                "category_label": category_label,
                "forwarded_to": [a for a in forwarded if a],
            }
        },
    }


def status_of(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> str:
    """Hub status of the record's status label."""
    return fmap.tables["status"][cell(row, "status", fmap)]


def ref_of(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> str:
    """The centre's own เลขที่เรื่อง (the origin ref)."""
    return cell(row, "ref", fmap)

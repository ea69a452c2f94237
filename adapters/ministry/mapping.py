"""Ministry records ↔ hub complaints, driven by one ministry's config (:mod:`.config`).

Pure. Fields are dotted paths into the native JSON (``complainant.mobile``); labels go
through the ministry's tables and raise :class:`~hub.vocab.UnmappedValue` when unknown. Places
are DOPA codes or names, whichever the ministry's field map gives. Personal data (name,
phone, e-mail, citizen id) goes to ``reporter.contact`` only.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.ministry.config import Ministry
from hub.vocab import UnmappedValue, area, find_area

BANGKOK = ZoneInfo("Asia/Bangkok")
BUDDHIST_OFFSET = 543
SUBJECT_LENGTH = 80
CONTACT = ("name", "phone", "email", "national_id")
_SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None when any step is missing."""
    value: Any = record
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def set_path(record: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path, creating the objects on the way."""
    *parents, last = path.split(".")
    for step in parents:
        record = record.setdefault(step, {})
    record[last] = value


def field(m: Ministry, record: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    """The text at hub field ``name``'s path ('' when unmapped or empty)."""
    path = m.fields.get(name)
    value = get_path(record, path) if path else None
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise UnmappedValue(m.system, name, f"{path or name} is missing")
    return text


def parse_time(m: Ministry, value: str) -> str:
    """A native time as RFC 3339 (a time without a zone is Bangkok local)."""
    kind = m.time["kind"]
    try:
        if kind == "epoch_ms":
            return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat()
        if kind == "iso":
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)).isoformat()
    except ValueError:
        raise UnmappedValue(m.system, "reported_at", value) from None
    shifted = value
    if m.time.get("era") == "buddhist":
        shifted = _YEAR.sub(lambda y: str(int(y.group(1)) - BUDDHIST_OFFSET), value, count=1)
    for fmt in m.time["formats"]:
        try:
            return datetime.strptime(shifted, fmt).replace(tzinfo=BANGKOK).isoformat()
        except ValueError:
            continue
    raise UnmappedValue(m.system, "reported_at", value)


def format_time(m: Ministry, rfc3339: str) -> Any:
    """A hub time as the ministry writes it."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    if m.time["kind"] == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if m.time["kind"] == "iso":
        return moment.isoformat()
    local = moment.astimezone(BANGKOK)
    text = local.strftime(m.time["formats"][0])
    if m.time.get("era") == "buddhist":
        text = text.replace(str(local.year), str(local.year + BUDDHIST_OFFSET), 1)
    return text


def complaint_id(m: Ministry, ref: str) -> str:
    """``<code>:<ref>``; a ref outside the id alphabet gets a stable digest."""
    if _SAFE_REF.match(ref):
        return f"{m.code}:{ref}"
    return f"{m.code}:x-{hashlib.sha256(ref.encode()).hexdigest()[:24]}"


def _location(m: Ministry, record: Mapping[str, Any]) -> dict[str, Any]:
    place: dict[str, Any] = {}
    codes = [field(m, record, f"{lvl}_code") for lvl in ("province", "amphoe", "tambon")]
    if codes[0]:
        code = next(c for c in reversed(codes) if c)
        if area(code) is None:
            raise UnmappedValue(m.system, "area", code)
    else:
        names = [field(m, record, lvl) for lvl in ("province", "amphoe", "tambon")]
        found = find_area(names[0], names[1] or None, (names[2] or None) if names[1] else None)
        if names[0] and found is None:
            raise UnmappedValue(m.system, "area", "/".join(n for n in names if n))
        code = found.code if found else ""
    for digits, key in ((2, "province_code"), (4, "amphoe_code"), (6, "tambon_code")):
        if len(code) >= digits:
            place[key] = code[:digits]
    lat, lon = field(m, record, "lat"), field(m, record, "lon")
    if lat and lon:
        place |= {"lat": float(lat), "lon": float(lon)}
    if address := field(m, record, "address"):
        place["address"] = address
    return place


def _reporter(m: Ministry, record: Mapping[str, Any]) -> dict[str, Any]:
    contact = {k: v for k in CONTACT if (v := field(m, record, k))}
    if "national_id" in contact:
        contact["national_id"] = re.sub(r"[\s-]", "", contact["national_id"])
    return {"anonymous": not contact, **({"contact": contact} if contact else {})}


def to_hub(m: Ministry, record: Mapping[str, Any]) -> dict[str, Any]:
    """One native record of ministry ``m`` as a hub complaint."""
    ref = field(m, record, "ref", required=True)
    description = field(m, record, "description", required=True)
    label = field(m, record, "category", required=True)
    channel = field(m, record, "channel")
    status = field(m, record, "status", required=True)
    first = description.splitlines()[0].strip()
    subject = field(m, record, "subject") or (
        first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"
    )
    complaint: dict[str, Any] = {
        "id": complaint_id(m, ref),
        "origin": {"agency": m.agency, "system": m.system, "ref": ref},
        "channel": m.tables["channel"][channel] if "channel" in m.tables else m.channel,
        "category": m.tables["category"][label],
        "subject": subject,
        "description": description,
        "reporter": _reporter(m, record),
        "reported_at": parse_time(m, field(m, record, "reported_at", required=True)),
        "language": "th",
        "extensions": {
            m.system: {
                "status": status,
                "hub_status": m.tables["status"][status],
                "category_label": label,
            }
        },
    }
    if place := _location(m, record):
        complaint["location"] = place
    return complaint


def status_of(m: Ministry, record: Mapping[str, Any]) -> str:
    return m.tables["status"][field(m, record, "status", required=True)]


def ref_of(m: Ministry, record: Mapping[str, Any]) -> str:
    return field(m, record, "ref", required=True)


def native_label(m: Ministry, table: str, code: str) -> str:
    """The first native label of a hub code in one of ``m``'s tables."""
    for label, hub_code in m.tables[table].items():
        if hub_code == code:
            return label
    raise UnmappedValue(m.system, table, code)


def to_native(m: Ministry, complaint: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The record ministry ``m`` would hold for ``complaint`` in hub ``status``."""
    place = complaint.get("location") or {}
    values: dict[str, Any] = {
        "ref": complaint["origin"]["ref"],
        "reported_at": format_time(m, complaint["reported_at"]),
        "category": native_label(m, "category", complaint["category"]),
        "subject": complaint.get("subject"),
        "description": complaint["description"],
        "status": native_label(m, "status", status),
        "address": place.get("address"),
        "lat": place.get("lat"),
        "lon": place.get("lon"),
    }
    if "channel" in m.tables:
        values["channel"] = native_label(m, "channel", complaint["channel"])
    for level in ("province", "amphoe", "tambon"):
        code = place.get(f"{level}_code")
        values[f"{level}_code"] = code
        found = area(code) if code else None
        values[level] = found.name_th if found else None
    values |= (complaint.get("reporter") or {}).get("contact") or {}
    record: dict[str, Any] = {}
    for name, value in values.items():
        if value not in (None, "") and name in m.fields:
            set_path(record, m.fields[name], copy.deepcopy(value))
    return record

"""Traffy Fondue records → hub complaints: the public CSV export and the partner API shapes.

Pure: no I/O beyond reading ``tables.json`` once at import, and every unknown label raises
:class:`~hub.vocab.UnmappedValue` rather than defaulting, so a new Traffy label is noticed
the first time it arrives. Two native shapes exist (see ``fixtures/``):

- a row of the public CSV export (``coords`` "lon,lat", UTC times with a zone, ``type`` as a
  PostgreSQL array literal) — :func:`row_to_complaint`, whose output other tests pin;
- a partner API record (get-issues/v2, get-issue/v1 with ``orgs[]`` and ``timeline[]``;
  latitude/longitude, Bangkok-local times often without a zone) — :func:`api_to_complaint`.

:func:`to_hub` takes either. Hub → Traffy lives in :mod:`.updates`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import load_tables
from hub.schema import UnmappedValue, find_area

SYSTEM = "traffy_fondue"
SUBJECT_LENGTH = 80
BANGKOK = ZoneInfo("Asia/Bangkok")
TABLES = load_tables(Path(__file__).with_name("tables.json"), SYSTEM)
_YEAR_PREFIX = re.compile(r"^\d{4}-")
_CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "mp4": "video/mp4"}


def parse_pg_array(text: str) -> list[str]:
    """``{ถนน,"a,b"}`` → ``["ถนน", "a,b"]``; ``{}`` → ``[]`` (PostgreSQL array literal)."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise UnmappedValue(SYSTEM, "type", text)
    items = re.findall(r'"((?:[^"\\]|\\.)*)"|([^,]+)', inner[1:-1])
    return [(quoted or bare).strip() for quoted, bare in items if (quoted or bare).strip()]


def split_organizations(text: str) -> list[str]:
    """Split the handoff trail on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


def agency_code(organizations: list[str], province_code: str) -> str:
    """``bma`` for Bangkok; elsewhere a stable placeholder derived from the first organisation.

    The real adapter will look the organisation up in the trust registry instead.
    """
    if province_code == "10" or not organizations:
        return "bma"
    return "traffy-org-" + hashlib.sha256(organizations[0].encode()).hexdigest()[:12]


def to_rfc3339(timestamp: str) -> str:
    """``2023-05-12 13:27:54.482138+00`` → ``2023-05-12T13:27:54.482138+00:00``; zone required."""
    parsed = datetime.fromisoformat(timestamp.strip())
    if parsed.tzinfo is None:
        raise UnmappedValue(SYSTEM, "timestamp", timestamp)
    return parsed.isoformat()


def bangkok_time(timestamp: str) -> str:
    """A partner-API time as RFC 3339: a time without a zone is Bangkok local (+07:00)."""
    try:
        parsed = datetime.fromisoformat(str(timestamp).strip())
    except ValueError:
        raise UnmappedValue(SYSTEM, "timestamp", str(timestamp)) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)).isoformat()


def category(labels: list[str]) -> str:
    """The first Traffy type decides; no type at all is ``uncategorised`` (not a guess)."""
    return TABLES["category"][labels[0]] if labels else "uncategorised"


def hub_status(label: str | None, state_type: str | None = None) -> str:
    """Hub status of a Traffy state: its label when known, else its central machine type.

    Organisations may add custom labels on top of the central ones; the machine type
    (``finish``...) still says where the ticket is. Both unknown: UnmappedValue.
    """
    if label and label.strip() in TABLES["state"]:
        return TABLES["state"][label]
    if state_type:
        return TABLES["state_type"][state_type]
    return TABLES["state"][label or ""]


def _media(url: str, phase: str) -> dict[str, str]:
    item = {"url": url, "phase": phase}
    content_type = _CONTENT_TYPES.get(url.rsplit(".", 1)[-1].lower())
    if content_type:
        item["content_type"] = content_type
    return item


def _codes(province: str, district: str, subdistrict: str) -> dict[str, str]:
    found = find_area(province, district, subdistrict)
    if found is None or found.level != "tambon" or found.parent is None:
        raise UnmappedValue(SYSTEM, "subdistrict", f"{subdistrict}/{district}")
    return {"province_code": found.code[:2], "amphoe_code": found.parent, "tambon_code": found.code}


def _location(row: dict[str, str]) -> dict[str, Any]:
    lon, lat = (float(v) for v in row["coords"].split(","))
    location: dict[str, Any] = {"lat": lat, "lon": lon}
    if row["address"].strip():
        location["address"] = row["address"].strip()
    return location | _codes(row["province"], row["district"], row["subdistrict"])


def _subject(comment: str) -> str:
    first_line = comment.strip().splitlines()[0].removesuffix("#1555").strip()
    if len(first_line) <= SUBJECT_LENGTH:
        return first_line
    return first_line[: SUBJECT_LENGTH - 1] + "…"


def _channel(ticket: str, comment: str) -> str:
    """Bangkok's 1555 call-centre imports: no year prefix, comment ending ``#1555``."""
    from_1555 = comment.endswith("#1555") or not _YEAR_PREFIX.match(ticket)
    return "call_1555" if from_1555 else "traffy_fondue"


def row_to_complaint(row: dict[str, str]) -> dict[str, Any]:
    """One row of Traffy's public CSV export as a hub complaint (see module docstring)."""
    ticket = row["ticket_id"].strip()
    labels = parse_pg_array(row["type"])
    organizations = split_organizations(row["organization"])
    location = _location(row)
    comment = row["comment"].strip()
    media = [_media(row["photo"], "before")] if row["photo"].strip() else []
    if row["photo_after"].strip():
        media.append(_media(row["photo_after"].strip(), "after"))
    return {
        "id": f"traffy:{ticket}",
        "origin": {
            "agency": agency_code(organizations, location["province_code"]),
            "system": SYSTEM,
            "ref": ticket,
        },
        "channel": _channel(ticket, comment),
        "category": category(labels),
        "subject": _subject(comment),
        "description": comment,
        "location": location,
        "media": media,
        "reported_at": to_rfc3339(row["timestamp"]),
        "language": "th",
        "extensions": {
            SYSTEM: {
                "state": row["state"],
                "star": int(row["star"]) if row["star"].strip() else None,
                "count_reopen": int(row["count_reopen"] or 0),
                "organization": organizations,
                "type_labels": labels,
            }
        },
    }


def _labels(value: Any) -> list[str]:
    """The API's ``type``: a list, a PostgreSQL literal or one bare label."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "").strip()
    return parse_pg_array(text) if text.startswith("{") else ([text] if text else [])


def _urls(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(u).strip() for u in items if u and str(u).strip()]


def _api_location(record: Mapping[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = {"lat": float(record["latitude"]), "lon": float(record["longitude"])}
    if str(record.get("address") or "").strip():
        location["address"] = str(record["address"]).strip()
    if record.get("province"):
        names = (record["province"], record.get("district", ""), record.get("subdistrict", ""))
        location |= _codes(*names)
    return location


def _handoffs(orgs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``orgs[]`` in order: every agency that held the ticket, with its own status."""
    return [
        {
            "org_id": o.get("org_id"),
            "org": o["org"],
            "status": hub_status(o.get("status"), o.get("status_type")),
        }
        for o in orgs
    ]


def api_to_complaint(record: Mapping[str, Any], *, agency: str | None = None) -> dict[str, Any]:
    """One partner-API issue (get-issues/v2 or get-issue/v1) as a hub complaint."""
    ticket = str(record["ticket_id"]).strip()
    labels = _labels(record.get("type"))
    comment = str(record.get("description") or "").strip()
    location = _api_location(record)
    handoffs = _handoffs(list(record.get("orgs") or []))
    organizations = [h["org"] for h in handoffs] or split_organizations(
        str(record.get("organization") or "")
    )
    media = [_media(u, "before") for u in _urls(record.get("photo"))]
    media += [_media(u, "after") for u in _urls(record.get("photo_after"))]
    star = record.get("star")
    complaint: dict[str, Any] = {
        "id": f"traffy:{ticket}",
        "origin": {
            "agency": agency or agency_code(organizations, location.get("province_code", "")),
            "system": SYSTEM,
            "ref": ticket,
        },
        "channel": _channel(ticket, comment),
        "category": category(labels),
        "description": comment,
        "location": location,
        "media": media,
        "reported_at": bangkok_time(record["timestamp"]),
        "language": "th",
        "extensions": {
            SYSTEM: {
                "state": record.get("state"),
                "star": int(star) if star not in (None, "") else None,
                "count_reopen": int(record.get("count_reopen") or 0),
                "organization": organizations,
                "handoffs": handoffs,
                "type_labels": labels,
            }
        },
    }
    if comment:
        complaint["subject"] = _subject(comment)
    return complaint


def to_hub(native: Mapping[str, Any]) -> dict[str, Any]:
    """Either Traffy shape as a complaint: a CSV row has ``coords``, an API record does not."""
    if "coords" in native:
        return row_to_complaint(dict(native))
    return api_to_complaint(native)


def status_of(native: Mapping[str, Any]) -> str:
    """Hub status of either shape (CSV ``state`` label; API label or ``state_type``)."""
    return hub_status(native.get("state"), native.get("state_type"))


def ref_of(native: Mapping[str, Any]) -> str:
    """The Traffy ticket id (the origin ref)."""
    return str(native["ticket_id"]).strip()

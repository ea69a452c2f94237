"""Traffy Fondue CSV row → hub complaint: the first, deliberately simple, mapping.

Why it exists now: the shared schema must carry real Traffy records, and the only way to
know is to map the real sample and validate every row; the demo plays the same rows. The full
adapter (issue 6) grows from here: partner API shapes, reporter contact, media hashing.
Pure: no I/O, and unknown labels raise :class:`~hub.schema.UnmappedValue` rather than default.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from hub.schema import UnmappedValue, category_for_traffy, find_area

SYSTEM = "traffy_fondue"
SUBJECT_LENGTH = 80
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


def _media(url: str, phase: str) -> dict[str, str]:
    item = {"url": url, "phase": phase}
    content_type = _CONTENT_TYPES.get(url.rsplit(".", 1)[-1].lower())
    if content_type:
        item["content_type"] = content_type
    return item


def _location(row: dict[str, str]) -> dict[str, Any]:
    lon, lat = (float(v) for v in row["coords"].split(","))
    found = find_area(row["province"], row["district"], row["subdistrict"])
    if found is None or found.level != "tambon" or found.parent is None:
        raise UnmappedValue(SYSTEM, "subdistrict", f"{row['subdistrict']}/{row['district']}")
    location: dict[str, Any] = {"lat": lat, "lon": lon}
    if row["address"].strip():
        location["address"] = row["address"].strip()
    location |= {
        "province_code": found.code[:2],
        "amphoe_code": found.parent,
        "tambon_code": found.code,
    }
    return location


def _subject(comment: str) -> str:
    first_line = comment.strip().splitlines()[0].removesuffix("#1555").strip()
    if len(first_line) <= SUBJECT_LENGTH:
        return first_line
    return first_line[: SUBJECT_LENGTH - 1] + "…"


def row_to_complaint(row: dict[str, str]) -> dict[str, Any]:
    """One row of Traffy's public CSV export as a hub complaint (see module docstring)."""
    ticket = row["ticket_id"].strip()
    labels = parse_pg_array(row["type"])
    organizations = split_organizations(row["organization"])
    location = _location(row)
    comment = row["comment"].strip()
    from_1555 = comment.endswith("#1555") or not _YEAR_PREFIX.match(ticket)
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
        "channel": "call_1555" if from_1555 else "traffy_fondue",
        "category": category_for_traffy(labels[0]) if labels else "uncategorised",
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

"""1111 cases → hub complaints: the decoded ``GetCase`` JSON, joined with area names.

Pure: no I/O beyond reading ``tables.json`` once. A case is the JSON string inside
``<GetCaseResult>``, decoded, plus the ``area_names`` the client joins in from ListOfValues
(:func:`adapters.ops1111.codelists.with_area_names`). Code-list ids (case types, statuses,
channels, organisations, severities, secrecy levels) map through ``tables.json`` and raise
:class:`~hub.vocab.UnmappedValue` when unknown.

Personal data: the citizen id (``contact_citizen_id``) is personal data of the highest class.
It goes to ``reporter.contact.national_id`` and nowhere else (the hub seals
``reporter.contact``); any 13-digit id in the citizen's own words is masked before it becomes
the description, and every error about it carries :func:`mask` of the value, never the value.

Times: 1111 writes Bangkok local time without a zone (``2024-11-03 09:15:22``), sometimes in
the Buddhist era (``2567-11-03``) or as a .NET ``/Date(ms)/``; all become RFC 3339.
Hub → 1111 lives in :mod:`.updates`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import load_tables
from hub.vocab import UnmappedValue, find_area

SYSTEM = "ops1111"
AGENCY = "opm1111"
ID_PREFIX = "ops1111"
SUBJECT_LENGTH = 80
BUDDHIST_ERA = 543
BANGKOK = ZoneInfo("Asia/Bangkok")
TABLES = load_tables(Path(__file__).with_name("tables.json"), SYSTEM)
_DOTNET = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_BE_YEAR = re.compile(r"^(\d{4})(?=-)")
_CITIZEN_ID = re.compile(r"(?<!\d)\d(?:[ -]?\d){12}(?!\d)")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_ABSENT = ("", "-", "0", "null", "None")


def mask(value: object) -> str:
    """A personal value fit for a log or an error: all but the last three digits hidden."""
    text = re.sub(r"\D", "", str(value))
    return "*" * (len(text) - 3) + text[-3:] if len(text) >= 10 else "*" * len(text)


def redact(text: str) -> str:
    """``text`` with every citizen-id-shaped number (13 digits, dashes allowed) masked."""
    return _CITIZEN_ID.sub(lambda m: mask(m.group()), text)


def parse_time(value: object, field: str = "date") -> datetime:
    """A 1111 time as an aware datetime (zone-less = Bangkok; BE years; ``/Date(ms)/``)."""
    text = str(value or "").strip()
    if found := _DOTNET.match(text):
        return datetime.fromtimestamp(int(found[1]) / 1000, UTC).astimezone(BANGKOK)
    year = _BE_YEAR.match(text)
    if year and int(year[1]) > 2400:
        text = f"{int(year[1]) - BUDDHIST_ERA}{text[4:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UnmappedValue(SYSTEM, field, str(value)) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BANGKOK)


def bangkok_time(value: object, field: str = "date") -> str:
    """RFC 3339 of a 1111 time."""
    return parse_time(value, field).isoformat()


def _present(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if text in _ABSENT else text


def national_id(value: object) -> str | None:
    """13 digits (dashes and spaces dropped), None when absent; UnmappedValue (masked) else."""
    text = _present(value)
    if text is None:
        return None
    digits = re.sub(r"[ -]", "", text)
    if not re.fullmatch(r"\d{13}", digits):
        raise UnmappedValue(SYSTEM, "contact_citizen_id", mask(text))
    return digits


def reporter(record: Mapping[str, Any]) -> dict[str, Any]:
    """``reporter`` with the contact fields 1111 holds; anonymous when it holds none."""
    contact: dict[str, str] = {}
    name = " ".join(
        n
        for n in (_present(record.get("contact_name")), _present(record.get("contact_lastname")))
        if n
    )
    if name:
        contact["name"] = name
    phone = _present(record.get("contact_telephone"))
    if phone is not None:
        if not _PHONE.match(phone):
            raise UnmappedValue(SYSTEM, "contact_telephone", mask(phone))
        contact["phone"] = phone
    if (citizen := national_id(record.get("contact_citizen_id"))) is not None:
        contact["national_id"] = citizen
    return {"anonymous": False, "contact": contact} if contact else {"anonymous": True}


def location(record: Mapping[str, Any]) -> dict[str, str]:
    """DOPA codes of the case's area, from the joined names; ``{}`` for a case without one."""
    if record.get("province_id") in (None, "", 0):
        return {}
    names = record.get("area_names")
    if not isinstance(names, Mapping) or "province" not in names:
        raise UnmappedValue(SYSTEM, "area_names", "ids not joined with ListOfValues names")
    given = [str(names[k]) for k in ("province", "district", "subdistrict") if k in names]
    found = find_area(*given)
    if found is None:
        raise UnmappedValue(SYSTEM, "area", "/".join(given))
    codes = {"province_code": found.code[:2]}
    if len(found.code) >= 4:
        codes["amphoe_code"] = found.code[:4]
    if len(found.code) == 6:
        codes["tambon_code"] = found.code
    return codes


def handoffs(operatings: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Operatings in order: every organisation that handled the case, and how (no free text)."""
    out = []
    for op in operatings:
        closed = op.get("date_closed")
        out.append(
            {
                "operating_id": op.get("operating_id"),
                "org_id": op["terminal_org_id"],
                "agency": TABLES["organization"][str(op["terminal_org_id"])],
                "priority": TABLES["severity"][str(op.get("severity_id", ""))],
                "secrecy": TABLES["secret"][str(op.get("secret_id", ""))],
                "opened_at": bangkok_time(op["date_opened"], "date_opened"),
                "closed_at": bangkok_time(closed, "date_closed") if closed else None,
                "letters": [
                    {"letter_no": a.get("letter_no"), "letter_date": a.get("letter_date")}
                    for a in op.get("attachments") or []
                ],
            }
        )
    return out


def _subject(description: str) -> str:
    first = description.strip().splitlines()[0].strip()
    return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"


def case_to_complaint(record: Mapping[str, Any]) -> dict[str, Any]:
    """One 1111 case (GetCase JSON + ``area_names``) as a hub complaint."""
    code = str(record["case_code"]).strip()
    description = redact(str(record.get("detail") or "").strip())
    if not description:
        raise UnmappedValue(SYSTEM, "detail", f"case {code} has no detail")
    summary = record.get("summary") or {}
    complaint: dict[str, Any] = {
        "id": f"{ID_PREFIX}:{code}",
        "origin": {"agency": AGENCY, "system": SYSTEM, "ref": code},
        "channel": TABLES["channel"][str(record["channel_id"])],
        "category": TABLES["case_type"][str(record["type_id"])],
        "subject": _subject(description),
        "description": description,
        "reporter": reporter(record),
        "reported_at": bangkok_time(record["created_date"], "created_date"),
        "language": "th",
        "extensions": {
            SYSTEM: {
                "case_id": record.get("case_id"),
                "type_id": record["type_id"],
                "status_id": record["status_id"],
                "channel_id": record["channel_id"],
                "organization_id": record.get("organization_id"),
                "updated_at": bangkok_time(record["updated_date"], "updated_date")
                if record.get("updated_date")
                else None,
                "handoffs": handoffs(list(record.get("operatings") or [])),
                "summary_status_id": summary.get("status_id"),
            }
        },
    }
    if where := location(record):
        complaint["location"] = where
    return complaint


def to_hub(native: Mapping[str, Any]) -> dict[str, Any]:
    """The adapter contract's name for :func:`case_to_complaint`."""
    return case_to_complaint(native)


def status_of(native: Mapping[str, Any]) -> str:
    """Hub status of a case's ``status_id``."""
    return TABLES["status"][str(native["status_id"])]


def ref_of(native: Mapping[str, Any]) -> str:
    """The 1111 case code (the origin ref)."""
    return str(native["case_code"]).strip()

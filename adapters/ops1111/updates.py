"""Hub → 1111: case events as CoreService calls, and the no-loop rule.

Pure, like :mod:`.mapping`. :func:`from_hub` turns a hub message payload (``{"type", "id",
"issuer", "body"[, "issued_at"]}``) about case ``ref`` (a 1111 ``case_code``) into
``{"op", "case_code", "payload"}`` following the ``event`` rules of ``tables.json``:

- a handling step (accept, status, decline, assist, forward, escalate, unmerge) →
  ``AddOperating`` by the organisation that acted (the event's issuer, or its ``to``);
- the end of the case, or its undoing (resolve, merge, reopen) → ``SetOrgSummaryResult``
  with a 1111 status id and the result text;
- ``complaint.submit`` from another system → ``AddCase`` with ``case_code`` ``HUB-<id>``,
  plus ``area_code`` (a DOPA code) that the client turns into 1111's area ids at run time.

1111 addresses cases by ``case_id``; the client looks it up from ``case_code`` when it pushes.

No loop: everything this adapter sends to the hub has a message id starting
:data:`MESSAGE_PREFIX` and complaints keep ``origin.system`` ``ops1111``; :func:`from_hub`
raises :class:`~adapters.base.LoopRefused` for either. The other way, cases whose code starts
:data:`CASE_PREFIX` were made by the hub and are never polled back.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.base import LoopRefused, came_from
from adapters.ops1111.codelists import snapshot
from adapters.ops1111.mapping import BANGKOK, SYSTEM, TABLES
from hub.vocab import UnmappedValue

MESSAGE_PREFIX = "ops1111-"
CASE_PREFIX = "HUB-"
NEW_CASE_STATUS = 1
_DOC = json.loads(Path(__file__).with_name("tables.json").read_text(encoding="utf-8"))
EVENT_RULES: dict[str, dict[str, str]] = {
    k: v for k, v in _DOC["event"].items() if not k.startswith("$")
}
ORG_OF_AGENCY = {agency: int(org) for org, agency in reversed(list(TABLES["organization"].items()))}


def message_id(native: Mapping[str, Any], kind: str = "case") -> str:
    """The hub message id for a 1111 case: derived from its code (idempotent, marked)."""
    return f"{MESSAGE_PREFIX}{kind}-{str(native['case_code']).strip()}"


def came_from_1111(message: Mapping[str, Any]) -> bool:
    """True for a hub message this adapter made out of a 1111 case (never sent back)."""
    return came_from(message, prefix=MESSAGE_PREFIX, system=SYSTEM)


def created_by_hub(case: Mapping[str, Any]) -> bool:
    """True for a 1111 case the hub created through AddCase (never polled back)."""
    return str(case.get("case_code") or "").startswith(CASE_PREFIX)


def local_time(rfc3339: str) -> str:
    """A hub time as 1111 writes it: Bangkok local, no zone, whole seconds."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(BANGKOK)
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def from_hub(event: Mapping[str, Any], ref: str) -> dict[str, Any]:
    """The 1111 call that records ``event`` on case ``ref`` (see module docstring)."""
    if came_from_1111(event):
        raise LoopRefused(SYSTEM, f"message {event.get('id')!r} came from 1111; not sent back")
    kind, body = str(event["type"]), dict(event["body"])
    if kind == "complaint.submit":
        return add_case(body)
    rule = _rule(kind)
    note = body.get(rule["note"]) or rule.get("default_note")
    if not note:
        raise UnmappedValue(SYSTEM, "detail", f"{kind} without {rule['note']}")
    if rule["op"] == "SetOrgSummaryResult":
        status = rule["status"]
        if status == "by_outcome":
            status = TABLES["outcome_to_1111"][body["outcome"]]
        payload: dict[str, Any] = {"status_id": int(status), "result": note}
    else:
        payload = _operating(rule, event, body, note)
    return {"op": rule["op"], "case_code": ref, "payload": payload}


def _operating(
    rule: Mapping[str, str], event: Mapping[str, Any], body: Mapping[str, Any], note: str
) -> dict[str, Any]:
    agency = str(body.get("to") if rule["org"] == "to" else event.get("issuer", ""))
    org = ORG_OF_AGENCY.get(agency)
    if org is None:  # an agency 1111 does not know acts through the hub's own 1111 account
        org, note = int(TABLES["hub_org"]["org_id"]), f"[{agency}] {note}"
    opened = local_time(str(event["issued_at"])) if event.get("issued_at") else None
    return {
        "terminal_org_id": org,
        "terminal_owner_id": None,
        "severity_id": int(rule["severity"]),
        "secret_id": int(rule["secret"]),
        "detail": note,
        "date_opened": opened,
        "date_closed": opened if rule["closed"] == "yes" else None,
    }


def _rule(kind: str) -> dict[str, str]:
    try:
        return EVENT_RULES[kind]
    except KeyError:
        raise UnmappedValue(SYSTEM, "event", kind) from None


def _area_code(location: Mapping[str, Any]) -> str | None:
    return (
        location.get("tambon_code") or location.get("amphoe_code") or location.get("province_code")
    )


def _contact_fields(complaint: Mapping[str, Any]) -> dict[str, Any]:
    contact = (complaint.get("reporter") or {}).get("contact") or {}
    first, _, last = str(contact.get("name", "")).partition(" ")
    return {
        "contact_citizen_id": contact.get("national_id"),
        "contact_name": first or None,
        "contact_lastname": last or None,
        "contact_telephone": contact.get("phone"),
    }


def add_case(complaint: Mapping[str, Any]) -> dict[str, Any]:
    """``AddCase`` for a complaint from another system; ``HUB-<id>`` marks it as ours."""
    when = local_time(complaint["reported_at"])
    payload = {
        "case_code": CASE_PREFIX + complaint["id"],
        "type_id": int(TABLES["category_to_1111"][complaint["category"]]),
        "status_id": NEW_CASE_STATUS,
        "organization_id": int(TABLES["hub_org"]["org_id"]),
        "channel_id": int(TABLES["channel_to_1111"][complaint["channel"]]),
        "detail": complaint["description"],
        "created_date": when,
        "updated_date": when,
    } | _contact_fields(complaint)
    return {
        "op": "AddCase",
        "payload": payload,
        "area_code": _area_code(complaint.get("location") or {}),
    }


def to_native(complaint: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The GetCase record 1111 (the simulator's code lists) would show in hub ``status``."""
    ref = complaint["origin"]["ref"]
    added = add_case(complaint)
    record: dict[str, Any] = added["payload"] | {
        "case_id": zlib.crc32(ref.encode()),
        "case_code": ref,
        "status_id": int(TABLES["status_to_1111"][status]),
        "organization_id": 1,
        "operatings": [],
        "summary": None,
    }
    if added["area_code"]:
        record |= snapshot().ids_for(added["area_code"])
    record["area_names"] = snapshot().area_names(record)
    return record

"""Hub → Traffy Fondue: case events as partner-API payloads, and Traffy's no-loop rule.

Pure, like :mod:`.mapping`. :func:`from_hub` turns a hub message payload (``{"type", "id",
"issuer", "body"}``) into ``{"op": <partner API operation>, "payload": {...}}``:

- ``case.*`` events → ``update-issue/v1`` (``state_name`` and the required ``note``), or
  ``join-forward/v1`` (scenario 1 = invite to co-handle, 2 = forward) when the target agency
  has a Traffy ``org_id`` in this deployment's ``org_ids``;
- ``complaint.submit`` from another system → ``new-issue/v1`` with ``hub/<complaint id>``
  as ``client_ticket_id`` (Traffy's idempotency key, and our mark on issues we created).

The no-loop rule (Traffy's own): a payload that came from Traffy is never fed back into
new-issue or update-issue. Everything this adapter sends to the hub carries a message id
starting :data:`MESSAGE_PREFIX`, and complaints keep ``origin.system``; :func:`from_hub`
raises :class:`~adapters.base.LoopRefused` for either. The other way round, issues whose
``client_ticket_id`` starts ``hub/`` are never polled back into the hub.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.base import LoopRefused, came_from
from adapters.traffy_fondue.mapping import BANGKOK, SYSTEM, TABLES
from hub.schema import UnmappedValue, area

MESSAGE_PREFIX = "traffy-"
CLIENT_PREFIX = "hub/"
RECURSION_START = 1
_DOC = json.loads(Path(__file__).with_name("tables.json").read_text(encoding="utf-8"))
EVENT_RULES: dict[str, dict[str, str]] = {
    k: v for k, v in _DOC["event"].items() if not k.startswith("$")
}
JOIN_SCENARIO: dict[str, int] = _DOC["join_scenario"]


def message_id(native: Mapping[str, Any], kind: str = "issue") -> str:
    """The hub message id for a Traffy record: derived from the ticket (idempotent, marked)."""
    return f"{MESSAGE_PREFIX}{kind}-{str(native['ticket_id']).strip()}"


def came_from_traffy(message: Mapping[str, Any]) -> bool:
    """True for a hub message made out of a Traffy record or webhook (never sent back)."""
    return came_from(message, prefix=MESSAGE_PREFIX, system=SYSTEM)


def created_by_hub(record: Mapping[str, Any]) -> bool:
    """True for a Traffy issue the hub created through new-issue (never imported back)."""
    return str(record.get("client_ticket_id") or "").startswith(CLIENT_PREFIX)


def local_time(rfc3339: str) -> str:
    """A hub time as the partner API writes it: Bangkok local, no zone."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return moment.astimezone(BANGKOK).replace(tzinfo=None).isoformat(sep=" ")


def from_hub(
    event: Mapping[str, Any], ref: str, *, org_ids: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The Traffy call that applies ``event`` to ticket ``ref`` (see module docstring)."""
    if came_from_traffy(event):
        raise LoopRefused(SYSTEM, f"message {event.get('id')!r} came from Traffy; not sent back")
    kind, body = str(event["type"]), dict(event["body"])
    if kind == "complaint.submit":
        return {"op": "new-issue/v1", "payload": new_issue(body)}
    org_id = (org_ids or {}).get(str(body.get("to", "")))
    if kind in JOIN_SCENARIO and org_id is not None:
        return {"op": "join-forward/v1", "payload": _join(kind, body, ref, org_id)}
    return {"op": "update-issue/v1", "payload": _update(kind, body, ref)}


def _update(kind: str, body: Mapping[str, Any], ref: str) -> dict[str, Any]:
    rule = _rule(kind)
    state = rule["state"]
    if state == "by_outcome":
        state = TABLES["outcome_to_state"][body["outcome"]]
    note = body.get(rule["note"]) or rule.get("default_note")
    if not note:
        raise UnmappedValue(SYSTEM, "note", f"{kind} without {rule['note']}")
    payload: dict[str, Any] = {"ticket_id": ref, "state_name": state, "note": note}
    after = [m["url"] for m in body.get("media", []) if m.get("phase") == "after"]
    if after:
        payload["photo_after"] = [{"url": url, "note": note} for url in after]
    return payload


def _join(kind: str, body: Mapping[str, Any], ref: str, org_id: int) -> dict[str, Any]:
    return {
        "ticket_id": ref,
        "destination_group": [org_id],
        "scenario": int(JOIN_SCENARIO[kind]),
        "note": body.get(_rule(kind)["note"]),
        "recursive_counter": RECURSION_START,
    }


def _rule(kind: str) -> dict[str, str]:
    try:
        return EVENT_RULES[kind]
    except KeyError:
        raise UnmappedValue(SYSTEM, "event", kind) from None


def _category_label(code: str) -> list[str]:
    if code == "uncategorised":
        return []
    for label, hub_code in TABLES["category"].items():
        if hub_code == code:
            return [label]
    raise UnmappedValue(SYSTEM, "category", code)


def new_issue(complaint: Mapping[str, Any], *, org_id: int | None = None) -> dict[str, Any]:
    """``new-issue/v1`` for a complaint from another system; our id is ``client_ticket_id``."""
    location = complaint.get("location") or {}
    if "lat" not in location:
        raise UnmappedValue(SYSTEM, "location", "Traffy needs latitude and longitude")
    labels = _category_label(complaint["category"])
    payload: dict[str, Any] = {
        "latitude": location["lat"],
        "longitude": location["lon"],
        "client_ticket_id": CLIENT_PREFIX + complaint["id"],
        "client_timestamp": local_time(complaint["reported_at"]),
        "extra_detail": complaint["description"],
        "photo": [m["url"] for m in complaint.get("media", []) if m["phase"] == "before"],
    }
    if labels:
        payload["category_name_th"] = labels[0]
    if location.get("address"):
        payload["address"] = location["address"]
    if org_id is not None:
        payload["org_id"] = org_id
    return payload


def to_native(complaint: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The get-issue/v1 record Traffy would show for ``complaint`` in hub ``status``."""
    location = complaint.get("location") or {}
    state = TABLES["status_to_state"][status]
    ext = (complaint.get("extensions") or {}).get(SYSTEM, {})
    record: dict[str, Any] = {
        "ticket_id": complaint["origin"]["ref"],
        "type": _category_label(complaint["category"]),
        "description": complaint["description"],
        "latitude": location["lat"],
        "longitude": location["lon"],
        "timestamp": local_time(complaint["reported_at"]),
        "state": state,
        "state_type": TABLES["state_to_type"][state],
        "photo": [m["url"] for m in complaint.get("media", []) if m["phase"] == "before"],
        "photo_after": [m["url"] for m in complaint.get("media", []) if m["phase"] == "after"],
        "star": ext.get("star"),
        "count_reopen": ext.get("count_reopen", 0),
        "orgs": [],
        "timeline": [],
    }
    if location.get("address"):
        record["address"] = location["address"]
    if "tambon_code" in location:
        tambon, amphoe = area(location["tambon_code"]), area(location["amphoe_code"])
        province = area(location["province_code"])
        assert tambon and amphoe and province, "codes in a valid complaint are known areas"
        record |= {
            "province": province.name_th,
            "district": amphoe.name_th,
            "subdistrict": tambon.name_th,
        }
    return record

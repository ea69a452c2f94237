"""Hub → Damrongdhama centre: a complaint as the centre shows it, case events as updates.

Pure, like :mod:`.mapping`. :func:`from_hub` turns a hub message payload (``{"type", "id",
"issuer", "body"}``) into ``{"op", "ref", "payload"}`` for the REST API
(:class:`~adapters.damrongdhama.client.DamrongdhamaClient.push`):

- ``case.*`` → ``{"op": "update"}``: the status label the field map's ``event`` table names,
  and the body's note / reason / task / summary as ผลการดำเนินการ;
- ``complaint.submit`` from another system → ``{"op": "create"}``: the record as the centre
  would hold it, with ``hub/<complaint id>`` as เลขที่อ้างอิงศูนย์กลาง (the API's
  idempotency key, and our mark on records the hub created: never polled back).

No loop: messages this adapter sends carry ids starting :data:`MESSAGE_PREFIX`, complaints
keep ``origin.system``; :func:`from_hub` raises :class:`~adapters.base.LoopRefused` for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import LoopRefused, Table, came_from
from adapters.damrongdhama.centres import level_of
from adapters.damrongdhama.mapping import (
    ID_PREFIX,
    REFERENCE,
    SYSTEM,
    FieldMap,
    complaint_id,
    format_date,
    ref_of,
)
from hub.vocab import UnmappedValue, area

MESSAGE_PREFIX = "damrongdhama-"
HUB_REF_PREFIX = "hub/"
NOTE_FIELDS = ("note", "reason", "task", "summary")


def message_id(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> str:
    """The hub message id for a centre record: derived from its ref (idempotent, marked)."""
    safe = complaint_id(ref_of(row, fmap)).removeprefix(ID_PREFIX)
    return f"{MESSAGE_PREFIX}{fmap.layout}-{safe}"


def came_from_centre(message: Mapping[str, Any]) -> bool:
    return came_from(message, prefix=MESSAGE_PREFIX, system=SYSTEM)


def created_by_hub(row: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> bool:
    column = fmap.column("hub_ref")
    return column is not None and str(row.get(column) or "").startswith(HUB_REF_PREFIX)


def native_label(table: Table, code: str) -> str:
    """The first native label of a hub code (the one this adapter writes)."""
    for label, hub_code in table.items():
        if hub_code == code:
            return label
    raise UnmappedValue(SYSTEM, table.field, code)


def from_hub(event: Mapping[str, Any], ref: str, fmap: FieldMap = REFERENCE) -> dict[str, Any]:
    """The REST call that applies ``event`` to record ``ref`` (see the module docstring)."""
    if came_from_centre(event):
        raise LoopRefused(SYSTEM, f"message {event.get('id')!r} came from a centre; not sent back")
    kind, body = str(event["type"]), dict(event["body"])
    if kind == "complaint.submit":
        return {"op": "create", "ref": None, "payload": new_record(body, fmap)}
    status = fmap.tables["event"][kind]
    payload = {_col(fmap, "status"): status}
    note = next((str(body[f]) for f in NOTE_FIELDS if body.get(f)), "")
    if note and fmap.column("note"):
        payload[_col(fmap, "note")] = note
    if kind in ("case.forward", "case.escalate") and body.get("to"):
        payload[_col(fmap, "forwarded_to")] = str(body["to"])
    return {"op": "update", "ref": ref, "payload": payload}


def new_record(complaint: Mapping[str, Any], fmap: FieldMap = REFERENCE) -> dict[str, Any]:
    """A complaint from another system as a record the centre's API creates (no ref yet)."""
    record = to_native(complaint, "offered", fmap)
    record.pop(_col(fmap, "ref"), None)
    record[_col(fmap, "hub_ref")] = HUB_REF_PREFIX + str(complaint["id"])
    return record


def _col(fmap: FieldMap, field: str) -> str:
    column = fmap.column(field)
    if column is None:
        raise UnmappedValue(SYSTEM, "column", f"layout {fmap.layout} has no {field} column")
    return column


def _level(complaint: Mapping[str, Any]) -> str:
    ext = (complaint.get("extensions") or {}).get(SYSTEM) or {}
    if ext.get("level"):
        return str(ext["level"])
    origin = str((complaint.get("origin") or {}).get("agency", ""))
    try:
        return level_of(origin)
    except ValueError:
        return "province"  # a record for a centre that is not the origin: its province takes it


def to_native(
    complaint: Mapping[str, Any], status: str, fmap: FieldMap = REFERENCE
) -> dict[str, Any]:
    """The record a centre would hold for ``complaint`` in hub ``status`` (flat, Thai keys)."""
    place = complaint.get("location") or {}
    values: dict[str, Any] = {
        "ref": complaint["origin"]["ref"],
        "received_at": format_date(complaint["reported_at"], fmap),
        "channel": native_label(fmap.tables["channel"], complaint["channel"]),
        "category": native_label(fmap.tables["category"], complaint["category"]),
        "subject": complaint.get("subject", ""),
        "description": complaint["description"],
        "address": place.get("address", ""),
        "status": fmap.tables["status_to_native"][status],
        "level": native_label(fmap.tables["level"], _level(complaint)),
    }
    for field, key in (("province", "province_code"), ("amphoe", "amphoe_code")):
        values[field] = _name(place.get(key))
    values["tambon"] = _name(place.get("tambon_code"))
    if "lat" in place:
        values |= {"lat": str(place["lat"]), "lon": str(place["lon"])}
    contact = (complaint.get("reporter") or {}).get("contact") or {}
    values |= {k: contact[k] for k in ("name", "phone", "national_id") if k in contact}
    ext = (complaint.get("extensions") or {}).get(SYSTEM) or {}
    values["forwarded_to"] = fmap.separator.join(ext.get("forwarded_to") or [])
    return {fmap.columns[f]: v for f, v in values.items() if f in fmap.columns}


def _name(code: object) -> str:
    found = area(str(code)) if code else None
    return found.name_th if found else ""

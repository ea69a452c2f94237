"""Hub → ministry: case events as native updates, complaints as native records; no loops.

Pure. :func:`from_hub` returns ``{"op": "update", "ref", "payload"}`` — the ministry's own
status label for the event's hub status (``event_status`` in ``ministries.json``, then the
ministry's status table read backwards) and the body's note at the ``note`` path — or, for a
``complaint.submit`` from another system, ``{"op": "create", "payload": record}`` carrying
``hub/<complaint id>`` at the ``hub_ref`` path (idempotency key; never polled back).

No loop: this adapter's message ids start ``ministry-<code>-``; complaints keep
``origin.system`` = ``ministry_<code>``. Both are refused with LoopRefused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import LoopRefused
from adapters.base import came_from as base_came_from
from adapters.ministry.config import Ministry
from adapters.ministry.mapping import (
    complaint_id,
    field,
    native_label,
    ref_of,
    set_path,
    to_native,
)
from hub.vocab import UnmappedValue

HUB_REF_PREFIX = "hub/"
NOTE_FIELDS = ("note", "reason", "task", "summary")


def message_id(m: Ministry, record: Mapping[str, Any]) -> str:
    """Hub message id of a ministry record: derived from its ref (idempotent, marked)."""
    return f"ministry-{m.code}-{complaint_id(m, ref_of(m, record)).split(':', 1)[1]}"


def came_from(m: Ministry, message: Mapping[str, Any]) -> bool:
    return base_came_from(message, prefix=f"ministry-{m.code}-", system=m.system)


def created_by_hub(m: Ministry, record: Mapping[str, Any]) -> bool:
    return field(m, record, "hub_ref").startswith(HUB_REF_PREFIX)


def from_hub(m: Ministry, event: Mapping[str, Any], ref: str) -> dict[str, Any]:
    """The native call that applies ``event`` to record ``ref`` (see the module docstring)."""
    if came_from(m, event):
        raise LoopRefused(m.system, f"message {event.get('id')!r} came from {m.code}")
    kind, body = str(event["type"]), dict(event["body"])
    if kind == "complaint.submit":
        record = to_native(m, body, "offered")
        record.pop(m.fields["ref"].split(".")[0], None)
        set_path(record, m.fields["hub_ref"], HUB_REF_PREFIX + str(body["id"]))
        return {"op": "create", "ref": None, "payload": record}
    if kind not in m.event_status:
        raise UnmappedValue(m.system, "event", kind)
    payload: dict[str, Any] = {}
    set_path(payload, m.fields["status"], native_label(m, "status", m.event_status[kind]))
    note = next((str(body[f]) for f in NOTE_FIELDS if body.get(f)), "")
    if note and "note" in m.fields:
        set_path(payload, m.fields["note"], note)
    return {"op": "update", "ref": ref, "payload": payload}

"""A Damrongdhama centre as a service: its reference REST API polled, hub case events
written back as record updates, complaints routed to the centre created in it.

The reference API (``format.md``) lists every record and has no "changed since" filter, so
the per-record watermark is a fingerprint of each listed record: only new or changed ones
are read again (``GET /api/v1/cases/<ref>``) and compared with what the service kept.

Settings: ``DAMRONGDHAMA_URL`` (or ``--native-url``), ``DAMRONGDHAMA_API_KEY``,
``DAMRONGDHAMA_FIELDMAP`` (another layout's field map file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from adapters.base import Native
from adapters.damrongdhama.adapter import ADAPTER
from adapters.damrongdhama.client import DamrongdhamaClient
from adapters.damrongdhama.mapping import REFERENCE, FieldMap, load_fieldmap, ref_of, status_of
from adapters.damrongdhama.mapping import to_hub as map_to_hub
from adapters.damrongdhama.updates import created_by_hub, from_hub, message_id
from adapters.service.changes import Reading
from adapters.service.source import BaseSource, Found, Known, fingerprint


class DamrongdhamaSource(BaseSource):
    def __init__(self, client: DamrongdhamaClient, agency: str) -> None:
        super().__init__(ADAPTER, agency)
        self.client, self.fmap = client, client.fmap

    def scan(self, known: Known) -> Iterator[Found]:
        for record in self.client.cases():
            ref, digest = ref_of(record, self.fmap), fingerprint(record)
            if known(ref) != digest:
                yield Found(ref, digest)

    def fetch(self, ref: str) -> Native:
        return self.client.case(ref)

    def reading(self, native: Native) -> Reading:
        note_column = self.fmap.column("note")
        note = str(native.get(note_column) or "") if note_column else ""
        return Reading(status=status_of(native, self.fmap), note=note or None)

    def born_here(self, native: Native) -> bool:
        return not created_by_hub(native, self.fmap)

    def complaint(self, native: Native) -> dict[str, Any]:
        body = map_to_hub(native, self.fmap)
        body["origin"] = {**body["origin"], "agency": self.agency}
        return body

    def message_id(self, native: Native) -> str:
        return message_id(native, self.fmap)

    def from_hub(self, message: Mapping[str, Any], ref: str) -> dict[str, Any]:
        return from_hub(message, ref, self.fmap)

    def push(self, update: Mapping[str, Any]) -> str | None:
        item = self.client.push(update)
        return ref_of(item, self.fmap) if update.get("op") == "create" else None

    def expected(self, update: Mapping[str, Any]) -> str | None:
        label = (update.get("payload") or {}).get(self.fmap.columns["status"])
        return self.fmap.tables["status"][str(label)] if label else None

    def applied(self, native: Native, update: Mapping[str, Any]) -> bool:
        payload = dict(update.get("payload") or {})
        return update.get("op") == "update" and all(native.get(k) == v for k, v in payload.items())


def build(*, agency: str, native_url: str | None, options: Mapping[str, str]) -> DamrongdhamaSource:
    """The source for one centre's API (see the module docstring for the settings)."""
    url = native_url or os.environ["DAMRONGDHAMA_URL"]
    layout = os.environ.get("DAMRONGDHAMA_FIELDMAP")
    fmap: FieldMap = load_fieldmap(Path(layout)) if layout else REFERENCE
    client = DamrongdhamaClient(
        httpx.Client(base_url=url, timeout=30),
        api_key=os.environ["DAMRONGDHAMA_API_KEY"],
        fmap=fmap,
    )
    return DamrongdhamaSource(client, agency)

"""A ministry system as a service: one configured ministry (``ministries.json``) polled,
hub case events written back through its ``update`` path, complaints routed to it created
through its ``intake`` path.

Pull ministries are polled here. A push ministry POSTs each new or changed record to the
service's ``/webhooks/ministry`` (``--listen``): the service reads that record again by its
ref (never trusting the pushed body as is) and handles it at once; the same poll of its
``records`` path is the reconciliation that catches what a push missed. Listings are
compared per record by fingerprint; only new or changed records are read again.

Settings: ``MINISTRY_<CODE>_URL`` (or ``--native-url``), ``MINISTRY_<CODE>_TOKEN``. The
adapter name picks the ministry: ``hub adapters run ministry:moph``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from adapters.base import Native
from adapters.ministry.adapter import load
from adapters.ministry.client import MinistryClient
from adapters.ministry.config import Ministry, ministry
from adapters.ministry.mapping import get_path, ref_of
from adapters.ministry.updates import created_by_hub
from adapters.service.changes import Reading
from adapters.service.source import BaseSource, Found, Known, fingerprint


class MinistrySource(BaseSource):
    def __init__(self, client: MinistryClient, agency: str) -> None:
        super().__init__(load(client.m.code), agency)
        self.client, self.m = client, client.m

    def scan(self, known: Known) -> Iterator[Found]:
        for record in self.client.records():
            ref, digest = ref_of(self.m, record), fingerprint(record)
            if known(ref) != digest:
                yield Found(ref, digest)

    def fetch(self, ref: str) -> Native:
        return self.client.record(ref)

    def reading(self, native: Native) -> Reading:
        note = get_path(native, self.m.fields["note"]) if "note" in self.m.fields else None
        return Reading(status=self.status(native), note=str(note) if note else None)

    def born_here(self, native: Native) -> bool:
        return not created_by_hub(self.m, native)

    def push(self, update: Mapping[str, Any]) -> str | None:
        item = self.client.push(update)
        return ref_of(self.m, item) if update.get("op") == "create" else None

    def expected(self, update: Mapping[str, Any]) -> str | None:
        label = get_path(dict(update.get("payload") or {}), self.m.fields["status"])
        return self.m.tables["status"][str(label)] if label else None

    def webhook(self, payload: Any) -> list[str]:
        """The refs of the records a push ministry posted (one record, or a list)."""
        items = payload if isinstance(payload, list) else [payload]
        refs = [str(get_path(i, self.m.fields["ref"]) or "") for i in items if isinstance(i, dict)]
        return [r for r in dict.fromkeys(refs) if r]

    def applied(self, native: Native, update: Mapping[str, Any]) -> bool:
        if update.get("op") != "update":
            return False
        payload = dict(update.get("payload") or {})
        paths = [self.m.fields["status"]]
        if "note" in self.m.fields and get_path(payload, self.m.fields["note"]) is not None:
            paths.append(self.m.fields["note"])
        return all(get_path(native, p) == get_path(payload, p) for p in paths)


def build(*, agency: str, native_url: str | None, options: Mapping[str, str]) -> MinistrySource:
    """The source for the ministry named by the option ``ministry`` (from ``ministry:CODE``)."""
    m: Ministry = ministry(options["ministry"])
    client = MinistryClient(
        httpx.Client(base_url=native_url or m.url(), timeout=30),
        m,
        token=os.environ[f"MINISTRY_{m.code.upper()}_TOKEN"],
    )
    return MinistrySource(client, agency)

"""1111 as a service: CoreService polled with ``GetCases`` from a persisted cursor, hub
case events written back as ``AddOperating`` / ``SetOrgSummaryResult``, complaints routed
to 1111 from elsewhere created with ``AddCase``.

The cursor is the client's :class:`~adapters.ops1111.client.Cursor` (the newest
``updated_date`` seen and the case ids seen at that time), saved with every case handled,
so a restart asks GetCases from exactly where the last run stopped. The session token is
released when the service stops.

Settings: ``OPS1111_URL`` (or ``--native-url``), ``OPS1111_USER``, ``OPS1111_PASS``.
Option (``--option``): ``page_size`` (``take``, default 100).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from adapters.base import Native
from adapters.ops1111.adapter import ADAPTER
from adapters.ops1111.client import Cursor, Ops1111Client
from adapters.ops1111.mapping import TABLES
from adapters.ops1111.updates import ORG_OF_AGENCY, created_by_hub
from adapters.service.changes import Reading
from adapters.service.source import BaseSource, Found, Known, fingerprint

HUB_ORG = int(TABLES["hub_org"]["org_id"])
OPEN_TO_IN_PROGRESS = {"received", "routed", "offered", "accepted", "in_progress", "reopened"}
AGENCY_OF_ORG = {org: agency for agency, org in ORG_OF_AGENCY.items()}


class Ops1111Source(BaseSource):
    def __init__(self, client: Ops1111Client, agency: str) -> None:
        super().__init__(ADAPTER, agency)
        self.client = client

    def scan(self, known: Known) -> Iterator[Found]:
        self.client.cursor = Cursor.from_json(self.cursor)
        for summary in self.client.cases_since():
            self.cursor = self.client.cursor.as_json()
            yield Found(str(summary["case_code"]), fingerprint(summary))
        self.cursor = self.client.cursor.as_json()

    def check_cursor(self, cursor: Mapping[str, Any]) -> None:
        Cursor.from_json(cursor)

    def fetch(self, ref: str) -> Native:
        return self.client.case(ref)

    def reading(self, native: Native) -> Reading:
        operatings = list(native.get("operatings") or [])
        summary = native.get("summary") or {}
        last = operatings[-1] if operatings else {}
        note = summary.get("result") or last.get("detail")
        org = last.get("terminal_org_id")
        return Reading(
            status=self.status(native),
            note=str(note) if note else None,
            forward_to=AGENCY_OF_ORG.get(int(org)) if org not in (None, "", HUB_ORG) else None,
        )

    def born_here(self, native: Native) -> bool:
        return not created_by_hub(native)

    def push(self, update: Mapping[str, Any]) -> str | None:
        self.client.push(update)
        if update.get("op") == "AddCase":
            return str(update["payload"]["case_code"])
        return None

    def expected(self, update: Mapping[str, Any]) -> str | None:
        """SetOrgSummaryResult sets the status; an operating puts an open case in progress
        (status 5, as CoreService does); AddCase makes a new case (status 1)."""
        payload = update.get("payload") or {}
        match update.get("op"):
            case "SetOrgSummaryResult":
                return TABLES["status"][str(payload.get("status_id"))]
            case "AddOperating":
                return TABLES["status"]["5"]
            case "AddCase":
                return TABLES["status"][str(payload.get("status_id", 1))]
        return None

    def applied(self, native: Native, update: Mapping[str, Any]) -> bool:
        payload = update.get("payload") or {}
        if update.get("op") == "AddOperating":
            return any(
                o.get("detail") == payload.get("detail")
                and o.get("terminal_org_id") == payload.get("terminal_org_id")
                for o in native.get("operatings") or []
            )
        if update.get("op") == "SetOrgSummaryResult":
            summary = native.get("summary") or {}
            return (summary.get("status_id"), summary.get("result")) == (
                payload.get("status_id"),
                payload.get("result"),
            )
        return False  # AddCase is idempotent on case_code

    def close(self) -> None:
        self.client.release()


def build(*, agency: str, native_url: str | None, options: Mapping[str, str]) -> Ops1111Source:
    """The source for 1111's CoreService (see the module docstring for the settings)."""
    url = native_url or os.environ["OPS1111_URL"]
    client = Ops1111Client(
        httpx.Client(base_url=url.rstrip("/") + "/", timeout=60),
        username=os.environ["OPS1111_USER"],
        password=os.environ["OPS1111_PASS"],
        page_size=int(options.get("page_size", 100)),
    )
    return Ops1111Source(client, agency)

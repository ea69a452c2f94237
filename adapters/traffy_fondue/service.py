"""Traffy Fondue as a service: the partner Exchange API polled, its webhooks heard, hub
updates written back with update-issue / join-forward / new-issue.

Incremental polling: the partner API has no "changed since" filter, only ``duration``
(today, 3days, all). So the service lists ``3days`` and compares each summary with the
fingerprint it kept for that ticket (the per-ticket watermark): only new or changed tickets
are read in full (get-issue/v1). A ticket created earlier but changed now may not be in the
3-day list, so every ``full_sweep_hours`` — and whenever the last poll is older than
``window_hours``, e.g. after the service was down — it lists ``all``. Webhooks make a
change visible at once; the poll makes sure none is missed.

Settings: ``TRAFFY_API_URL`` (or ``--native-url``), ``TRAFFY_USER``, ``TRAFFY_PASS``,
``TRAFFY_ORG_IDS`` (this deployment's org ids, comma-separated: the listing filter),
``TRAFFY_AGENCY_ORGS`` (``mwa=2002,mea=2003``: hub agencies that are Traffy organisations —
a hub forward to them becomes join-forward, a Traffy forward to them a hub case.forward),
``TRAFFY_WEBHOOK_SECRET``. Options (``--option``): ``duration`` (default 3days),
``full_sweep_hours`` (24), ``window_hours`` (48).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.base import Native
from adapters.service.changes import Reading
from adapters.service.source import BaseSource, Found, Known, fingerprint
from adapters.traffy_fondue.adapter import ADAPTER
from adapters.traffy_fondue.client import TraffyClient
from adapters.traffy_fondue.mapping import TABLES, bangkok_time
from adapters.traffy_fondue.updates import created_by_hub, from_hub
from hub.vocab import UnmappedValue

Clock = Callable[[], datetime]
DURATIONS = ("today", "3days", "all")


def _now() -> datetime:
    return datetime.now(UTC)


class TraffySource(BaseSource):
    def __init__(
        self,
        client: TraffyClient,
        agency: str,
        *,
        duration: str = "3days",
        full_sweep: timedelta = timedelta(hours=24),
        window: timedelta = timedelta(hours=48),
        agency_orgs: Mapping[str, int] | None = None,
        clock: Clock = _now,
    ) -> None:
        super().__init__(ADAPTER, agency)
        if duration not in DURATIONS:
            raise ValueError(f"duration must be one of {', '.join(DURATIONS)}, not {duration!r}")
        self.client, self.duration, self.full_sweep, self.window = (
            client,
            duration,
            full_sweep,
            window,
        )
        self.agency_orgs = dict(agency_orgs or {})
        self.org_agencies = {org: agency for agency, org in self.agency_orgs.items()}
        self.clock = clock

    # -- native → hub ------------------------------------------------------------------------

    def scan(self, known: Known) -> Iterator[Found]:
        now = self.clock()
        full = self._sweep_due(now)
        summaries = self.client.issues(duration="all" if full else self.duration)
        summaries.sort(key=lambda s: (_activity(s), str(s.get("ticket_id"))))
        for summary in summaries:
            ref, digest = str(summary["ticket_id"]).strip(), fingerprint(summary)
            if known(ref) != digest:
                self._note_activity(summary)
                yield Found(ref, digest)
        self.cursor["last_scan"] = now.isoformat()
        if full:
            self.cursor["last_full"] = now.isoformat()

    def _note_activity(self, summary: Mapping[str, Any]) -> None:
        """Keep the newest activity seen in the cursor (for the report; not a filter)."""
        try:
            seen = bangkok_time(_activity(summary))
        except UnmappedValue:
            return
        newest = self.cursor.get("newest_activity")
        if newest is None or datetime.fromisoformat(seen) > datetime.fromisoformat(str(newest)):
            self.cursor["newest_activity"] = seen

    def _sweep_due(self, now: datetime) -> bool:
        try:
            last_full = datetime.fromisoformat(self.cursor["last_full"])
            last_scan = datetime.fromisoformat(self.cursor["last_scan"])
        except (KeyError, TypeError, ValueError):
            return True
        return now - last_full >= self.full_sweep or now - last_scan >= self.window

    def check_cursor(self, cursor: Mapping[str, Any]) -> None:
        for key in ("last_full", "last_scan", "newest_activity"):
            if key in cursor:
                datetime.fromisoformat(str(cursor[key]))  # ValueError if damaged

    def fetch(self, ref: str) -> Native:
        return self.client.issue(ref)

    def reading(self, native: Native) -> Reading:
        notes = [str(t.get("note") or "") for t in native.get("timeline") or []]
        orgs = [o.get("org_id") for o in native.get("orgs") or []]
        return Reading(
            status=self.status(native),
            note=next((n for n in reversed(notes) if n.strip()), None),
            after=self.after_media(native),
            reopens=int(native.get("count_reopen") or 0),
            forward_to=self.org_agencies.get(orgs[-1]) if orgs and orgs[-1] is not None else None,
        )

    def born_here(self, native: Native) -> bool:
        return not created_by_hub(native)

    # -- hub → native ------------------------------------------------------------------------

    def from_hub(self, message: Mapping[str, Any], ref: str) -> dict[str, Any]:
        return from_hub(message, ref, org_ids=self.agency_orgs)

    def push(self, update: Mapping[str, Any]) -> str | None:
        result = self.client.push(update)
        return str(result) if update.get("op") == "new-issue/v1" else None

    def expected(self, update: Mapping[str, Any]) -> str | None:
        payload = update.get("payload") or {}
        match update.get("op"):
            case "update-issue/v1":
                return TABLES["state"][str(payload.get("state_name"))]
            case "join-forward/v1":
                label = "เชิญร่วม" if payload.get("scenario") == 1 else "ส่งต่อ"
                return TABLES["state"][label]
            case "new-issue/v1":
                return TABLES["state"]["รอรับเรื่อง"]
        return None

    def applied(self, native: Native, update: Mapping[str, Any]) -> bool:
        payload = update.get("payload") or {}
        if update.get("op") == "update-issue/v1":
            return any(
                t.get("status") == payload.get("state_name")
                and t.get("note") == payload.get("note")
                for t in native.get("timeline") or []
            )
        if update.get("op") == "join-forward/v1":
            wanted = set(payload.get("destination_group") or [])
            return bool(wanted & {o.get("org_id") for o in native.get("orgs") or []})
        return False  # new-issue is idempotent on client_ticket_id: pushing again is safe

    def webhook(self, payload: Any) -> list[str]:
        """Ticket ids in a Traffy webhook call (new issue, status change, chat or rating):
        ``ticket_id`` at the top, or in ``data`` / ``issue`` / ``results``, or a list."""
        items = payload if isinstance(payload, list) else [payload]
        found: list[str] = []
        for item in items:
            if not isinstance(item, Mapping):
                continue
            for where in (item, item.get("data"), item.get("issue"), item.get("results")):
                if isinstance(where, Mapping) and where.get("ticket_id"):
                    found.append(str(where["ticket_id"]).strip())
                    break
        return list(dict.fromkeys(found))


def _activity(summary: Mapping[str, Any]) -> str:
    return str(summary.get("last_activity") or summary.get("timestamp") or "")


def _pairs(text: str) -> dict[str, int]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {agency.strip(): int(org) for agency, org in pairs}


def build(*, agency: str, native_url: str | None, options: Mapping[str, str]) -> TraffySource:
    """The source for one Traffy deployment (see the module docstring for the settings)."""
    url = native_url or os.environ["TRAFFY_API_URL"]
    orgs = [int(o) for o in os.environ.get("TRAFFY_ORG_IDS", "").split(",") if o.strip()]
    client = TraffyClient(
        httpx.Client(base_url=url, timeout=30),
        user=os.environ["TRAFFY_USER"],
        password=os.environ["TRAFFY_PASS"],
        org_ids=orgs,
    )
    return TraffySource(
        client,
        agency,
        duration=options.get("duration", "3days"),
        full_sweep=timedelta(hours=float(options.get("full_sweep_hours", 24))),
        window=timedelta(hours=float(options.get("window_hours", 48))),
        agency_orgs=_pairs(os.environ.get("TRAFFY_AGENCY_ORGS", "")),
    )

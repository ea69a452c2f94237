"""What an adapter gives the service: a :class:`Source` over its native client.

The service never speaks a native API itself. A source lists what changed (``scan``, with
the cursor it keeps in :attr:`Source.cursor`), reads one record in full (``fetch``), says
what a record means in hub terms (``reading``), and applies hub updates (``push``) — telling
the service which status the native record will show afterwards (``expected``), so that
the service does not take its own update for a native change and send it back, and whether
an update is already there (``applied``), so that a push interrupted by a crash is not made
twice.

:class:`BaseSource` implements the parts every adapter shares through the
:class:`~adapters.base.Adapter` descriptor; each ``adapters/<name>/service.py`` subclasses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import Adapter, Native
from adapters.service.changes import Reading

Known = Callable[[str], str | None]


@dataclass(frozen=True)
class Found:
    """A native record that is new or changed since its fingerprint ``digest`` was seen."""

    ref: str
    digest: str | None = None


def fingerprint(item: Mapping[str, Any]) -> str:
    """A stable digest of what a listing shows of a record (key order does not matter)."""
    text = json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Source:
    """The native side of a service (see the module docstring). Not thread-safe on its own:
    the service calls it under one lock."""

    name: str
    adapter: Adapter
    agency: str
    cursor: dict[str, Any]

    def scan(self, known: Known) -> Iterator[Found]:
        raise NotImplementedError

    def fetch(self, ref: str) -> Native:
        raise NotImplementedError

    def reading(self, native: Native) -> Reading:
        raise NotImplementedError

    def born_here(self, native: Native) -> bool:
        raise NotImplementedError

    def complaint(self, native: Native) -> dict[str, Any]:
        raise NotImplementedError

    def message_id(self, native: Native) -> str:
        raise NotImplementedError

    def from_hub(self, message: Mapping[str, Any], ref: str) -> dict[str, Any]:
        raise NotImplementedError

    def push(self, update: Mapping[str, Any]) -> str | None:
        """Apply ``update``; the native id of the record it created, if it created one."""
        raise NotImplementedError

    def expected(self, update: Mapping[str, Any]) -> str | None:
        """The hub status the native record shows once ``update`` is applied (None: as is)."""
        raise NotImplementedError

    def applied(self, native: Native, update: Mapping[str, Any]) -> bool:
        """Does ``native`` already carry ``update`` (a push interrupted after it landed)?"""
        raise NotImplementedError

    def webhook(self, payload: Any) -> list[str]:
        """The native ids a webhook call names (sources without webhooks: none)."""
        return []

    def check_cursor(self, cursor: Mapping[str, Any]) -> None:
        """Raise ValueError if a saved cursor is not one this source wrote (checked at start,
        so a damaged watermark stops the service with a clear message, not every cycle)."""

    def close(self) -> None:
        """Release the native session, if there is one."""


class BaseSource(Source):
    """The parts of a source that come straight from the adapter descriptor."""

    def __init__(self, adapter: Adapter, agency: str) -> None:
        self.adapter, self.agency, self.name = adapter, agency, adapter.name
        self.cursor = {}

    def complaint(self, native: Native) -> dict[str, Any]:
        """The adapter's complaint, its origin agency being the agency this service signs as."""
        body = self.adapter.to_hub(native)
        body["origin"] = {**body["origin"], "agency": self.agency}
        return body

    def message_id(self, native: Native) -> str:
        return self.adapter.message_id(native)

    def from_hub(self, message: Mapping[str, Any], ref: str) -> dict[str, Any]:
        return self.adapter.from_hub(message, ref)

    def status(self, native: Native) -> str:
        return self.adapter.status_of(native)

    def after_media(self, native: Native) -> tuple[dict[str, Any], ...]:
        media = self.adapter.to_hub(native).get("media") or []
        return tuple(m for m in media if m.get("phase") == "after")

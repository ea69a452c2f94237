"""The adapter contract: what every external system's package gives the hub.

An adapter is a package ``adapters/<name>/`` with

- a pure **mapping** (native record → hub complaint, hub case event → native update), whose
  category and state tables are *data* (``tables.json``) read through :class:`Table`, which
  raises :class:`~hub.vocab.UnmappedValue` on an unknown value instead of defaulting;
- a **client** for the native API with ONE method that does HTTP through an injectable
  ``httpx.Client`` and raises only the :class:`AdapterError` tree below;
- a **simulator**: a small Flask app that behaves like the native API, so the conformance
  kit and tests can run the whole loop without the real system;
- **fixtures** of native payloads, named for what they show.

The package exposes one :class:`Adapter` descriptor as ``ADAPTER``; :func:`load` finds it.
Signing and sending to the hub always go through :class:`hub.exchange.client.HubClient`.

Error tree (one per adapter family; nothing from httpx escapes a client)::

    AdapterError                 system, status, message
    ├── Unavailable              network failure, timeout, 5xx
    ├── AuthFailed               credentials or token refused
    ├── Refused                  the system answered "no" (4xx, status "fail")
    ├── BadAnswer                an answer that cannot be understood
    └── LoopRefused              pure: sending this back would make a loop
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from hub.vocab import UnmappedValue

if TYPE_CHECKING:
    from flask import Flask
    from hypothesis.strategies import SearchStrategy

Native = dict[str, Any]


class AdapterError(Exception):
    """Something went wrong talking to, or translating for, an external system."""

    def __init__(self, system: str, message: str, *, status: int = 0) -> None:
        super().__init__(f"{system}: {message}")
        self.system, self.status = system, status


class Unavailable(AdapterError):
    """The system could not be reached, timed out, or failed on its side (5xx)."""


class AuthFailed(AdapterError):
    """The system refused our credentials or token."""


class Refused(AdapterError):
    """The system understood the request and said no."""


class BadAnswer(AdapterError):
    """The answer is not what the system's API promises."""


class LoopRefused(AdapterError):
    """The update came from this system in the first place; sending it back would loop."""


class Table(Mapping[str, str]):
    """A read-only mapping table that fails loudly: ``table[x]`` raises UnmappedValue."""

    def __init__(self, system: str, field: str, rows: Mapping[str, str]) -> None:
        self.system, self.field = system, field
        self._rows = {k: v for k, v in rows.items() if not k.startswith("$")}

    def __getitem__(self, value: str) -> str:
        try:
            return self._rows[value.strip()]
        except (KeyError, AttributeError):
            raise UnmappedValue(self.system, self.field, str(value)) from None

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value.strip() in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def load_tables(path: Path, system: str) -> dict[str, Table]:
    """Every flat section of a ``tables.json`` as a :class:`Table` named after its key."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Table(system, name, rows)
        for name, rows in doc.items()
        if isinstance(rows, dict) and all(isinstance(v, str) for v in rows.values())
    }


class NativeClient(Protocol):
    """What the conformance kit needs from an adapter's wire client."""

    def poll(self) -> Iterable[Native]:
        """Every native record the system offers now, in full."""
        ...

    def fetch(self, ref: str) -> Native:
        """One native record by its native id."""
        ...

    def push(self, update: Mapping[str, Any]) -> Any:
        """Apply an update made by the adapter's ``from_hub``."""
        ...


@dataclass(frozen=True, slots=True)
class Adapter:
    """One external system, described for the hub, the importer and the conformance kit.

    ``from_hub(event, ref)`` turns a hub message payload (``{"type", "id", "issuer",
    "body"}``) about the native record ``ref`` into a native update. ``to_native(complaint,
    status)`` renders a complaint as the native system would show it in that hub status (the
    round trip and the simulators use it); ``status_of`` reads the hub status back.
    ``map_state`` / ``map_category`` are the raw tables (one native value → one hub code,
    UnmappedValue otherwise), so the kit can prove them total over ``native_states`` /
    ``native_categories``.
    """

    name: str
    system: str
    to_hub: Callable[[Mapping[str, Any]], dict[str, Any]]
    from_hub: Callable[[Mapping[str, Any], str], dict[str, Any]]
    to_native: Callable[[Mapping[str, Any], str], Native]
    status_of: Callable[[Mapping[str, Any]], str]
    ref_of: Callable[[Mapping[str, Any]], str]
    map_state: Callable[[str], str]
    map_category: Callable[[str], str]
    fixtures: Callable[[], Iterable[tuple[str, Native]]]
    tables: Mapping[str, Table]
    native_states: tuple[str, ...]
    native_categories: tuple[str, ...]
    round_trip_statuses: tuple[str, ...]
    generate_native: Callable[[], SearchStrategy[Native]]
    simulator: Callable[[], Flask]
    client: Callable[[httpx.Client], NativeClient]
    message_id: Callable[[Mapping[str, Any]], str]

    def natives(self) -> list[Native]:
        """Every fixture record (the names are for reports)."""
        return [record for _, record in self.fixtures()]

    def round_trip(self, complaint: Mapping[str, Any], status: str) -> dict[str, Any]:
        """hub → native → hub: the complaint as the native system would hand it back."""
        return self.to_hub(self.to_native(complaint, status))


def came_from(message: Mapping[str, Any], *, prefix: str, system: str) -> bool:
    """The no-loop rule: True for a hub message an adapter made out of its own system's
    record — its id carries the adapter's prefix, or its body names that system as origin.
    Such a message is never sent back (Traffy's own rule for webhooks, kept by all)."""
    body = message.get("body") or {}
    origin = body.get("origin") if isinstance(body, Mapping) else None
    return str(message.get("id", "")).startswith(prefix) or (
        isinstance(origin, Mapping) and origin.get("system") == system
    )


def load(name: str) -> Adapter:
    """The adapter called ``name``: ``adapters.<name>.ADAPTER``, or for a package that
    serves several systems, ``<package>:<variant>`` picks ``ADAPTERS[variant]``
    (``ministry:moph``). KeyError if there is none."""
    package, _, variant = name.partition(":")
    try:
        module = importlib.import_module(f"adapters.{package}")
    except ModuleNotFoundError as exc:
        raise KeyError(f"no adapter package adapters.{package}") from exc
    if variant:
        adapter = getattr(module, "ADAPTERS", {}).get(variant)
    else:
        adapter = getattr(module, "ADAPTER", None)
    if not isinstance(adapter, Adapter):
        raise KeyError(f"adapters.{package} has no adapter {variant or 'ADAPTER'!r}")
    return adapter

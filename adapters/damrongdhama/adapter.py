"""The Damrongdhama :class:`~adapters.base.Adapter` descriptor, ``damrongdhama.ADAPTER``.

It speaks the reference layout (``fieldmap.json``). Deployment specifics come from the
environment when a real client is built: ``DAMRONGDHAMA_API_KEY`` (the centre API's key; its
URL is the ``httpx.Client``'s base URL) and ``DAMRONGDHAMA_FIELDMAP`` (another layout's file).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from adapters.base import Adapter, Native
from adapters.damrongdhama import FIXTURES, SAMPLE_CSV
from adapters.damrongdhama.client import DamrongdhamaClient
from adapters.damrongdhama.mapping import (
    REFERENCE,
    SYSTEM,
    load_fieldmap,
    ref_of,
    status_of,
    to_hub,
)
from adapters.damrongdhama.updates import from_hub, message_id, to_native

if TYPE_CHECKING:
    from flask import Flask
    from hypothesis.strategies import SearchStrategy

SIMULATOR_KEY = "centre-secret"


def fixtures() -> Iterator[tuple[str, Native]]:
    """Every row of the reference sample export and every API record."""
    with SAMPLE_CSV.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), start=1):
            yield f"{SAMPLE_CSV.name}#{number}", dict(row)
    for path in sorted((FIXTURES / "api").glob("*.json")):
        yield f"api/{path.name}", json.loads(path.read_text(encoding="utf-8"))


def simulator() -> Flask:
    """The reference REST API, seeded with the sample export."""
    from adapters.damrongdhama.simulator import create_simulator

    return create_simulator([r for n, r in fixtures() if not n.startswith("api/")])


def client(http: httpx.Client) -> DamrongdhamaClient:
    """A wire client; against the simulator when ``http`` points at it."""
    if str(http.base_url).startswith("http://simulator"):
        return DamrongdhamaClient(http, api_key=SIMULATOR_KEY)
    layout = os.environ.get("DAMRONGDHAMA_FIELDMAP")
    fmap = load_fieldmap(Path(layout)) if layout else REFERENCE
    return DamrongdhamaClient(http, api_key=os.environ["DAMRONGDHAMA_API_KEY"], fmap=fmap)


def generate_native() -> SearchStrategy[Native]:
    from adapters.damrongdhama.strategies import records

    return records()


def _to_hub(native: Mapping[str, Any]) -> dict[str, Any]:
    return to_hub(native)


def _from_hub(event: Mapping[str, Any], ref: str) -> dict[str, Any]:
    return from_hub(event, ref)


def _to_native(complaint: Mapping[str, Any], status: str) -> dict[str, Any]:
    return to_native(complaint, status)


def _status_of(native: Mapping[str, Any]) -> str:
    return status_of(native)


def _ref_of(native: Mapping[str, Any]) -> str:
    return ref_of(native)


def _message_id(native: Mapping[str, Any]) -> str:
    return message_id(native)


TABLES = REFERENCE.tables
ADAPTER = Adapter(
    name="damrongdhama",
    system=SYSTEM,
    to_hub=_to_hub,
    from_hub=_from_hub,
    to_native=_to_native,
    status_of=_status_of,
    ref_of=_ref_of,
    map_state=TABLES["status"].__getitem__,
    map_category=TABLES["category"].__getitem__,
    fixtures=fixtures,
    tables=TABLES,
    native_states=tuple(TABLES["status"]),
    native_categories=tuple(TABLES["category"]),
    round_trip_statuses=tuple(TABLES["status_to_native"]),
    generate_native=generate_native,
    simulator=simulator,
    client=client,
    message_id=_message_id,
)

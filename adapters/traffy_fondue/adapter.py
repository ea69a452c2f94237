"""The Traffy Fondue :class:`~adapters.base.Adapter` descriptor, ``traffy_fondue.ADAPTER``.

Deployment specifics (the partner API's URL and account, this deployment's Traffy org ids)
come from the environment when a real client is built, never from code:
``TRAFFY_API_URL``, ``TRAFFY_USER``, ``TRAFFY_PASS``, ``TRAFFY_ORG_IDS`` (comma-separated).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from adapters.base import Adapter, Native
from adapters.traffy_fondue import FIXTURES, SAMPLE_CSV
from adapters.traffy_fondue.client import TraffyClient
from adapters.traffy_fondue.mapping import SYSTEM, TABLES, ref_of, status_of, to_hub
from adapters.traffy_fondue.updates import from_hub, message_id, to_native

if TYPE_CHECKING:
    from flask import Flask
    from hypothesis.strategies import SearchStrategy

SIMULATOR_USER = {"hub": "hub-secret"}


def fixtures() -> Iterator[tuple[str, Native]]:
    """Every CSV row of the sample (``bangkok_sample.csv#<row>``) and every API record."""
    with SAMPLE_CSV.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), start=1):
            yield f"{SAMPLE_CSV.name}#{number}", dict(row)
    for path in sorted((FIXTURES / "api").glob("get-issue-v1_*.json")):
        yield f"api/{path.name}", json.loads(path.read_text(encoding="utf-8"))


def api_fixtures() -> list[Native]:
    return [record for name, record in fixtures() if name.startswith("api/")]


def simulator() -> Flask:
    """The partner API simulator, seeded with the API-shaped fixtures."""
    from adapters.traffy_fondue.simulator import create_simulator

    return create_simulator(api_fixtures(), users=SIMULATOR_USER)


def client(http: httpx.Client) -> TraffyClient:
    """A wire client; against the simulator when ``http`` points at it."""
    if str(http.base_url).startswith("http://simulator"):
        user, password = next(iter(SIMULATOR_USER.items()))
        return TraffyClient(http, user=user, password=password)
    org_ids = [int(o) for o in os.environ.get("TRAFFY_ORG_IDS", "").split(",") if o.strip()]
    return TraffyClient(
        http, user=os.environ["TRAFFY_USER"], password=os.environ["TRAFFY_PASS"], org_ids=org_ids
    )


def generate_native() -> SearchStrategy[Native]:
    from adapters.traffy_fondue.strategies import api_records

    return api_records()


def _from_hub(event: Mapping[str, Any], ref: str) -> dict[str, Any]:
    return from_hub(event, ref)


ADAPTER = Adapter(
    name="traffy_fondue",
    system=SYSTEM,
    to_hub=to_hub,
    from_hub=_from_hub,
    to_native=to_native,
    status_of=status_of,
    ref_of=ref_of,
    map_state=TABLES["state"].__getitem__,
    map_category=TABLES["category"].__getitem__,
    fixtures=fixtures,
    tables=TABLES,
    native_states=tuple(TABLES["state"]),
    native_categories=tuple(TABLES["category"]),
    round_trip_statuses=tuple(TABLES["status_to_state"]),
    generate_native=generate_native,
    simulator=simulator,
    client=client,
    message_id=message_id,
)

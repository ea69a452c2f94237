"""The 1111 :class:`~adapters.base.Adapter` descriptor, ``ops1111.ADAPTER``.

Deployment specifics come from the environment when a real client is built, never from
code: ``OPS1111_USER`` and ``OPS1111_PASS`` (the CoreService account); the CoreService base
URL is the ``httpx.Client``'s ``base_url`` (e.g. from ``OPS1111_URL``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from adapters.base import Adapter, Native
from adapters.ops1111 import FIXTURES
from adapters.ops1111.client import Ops1111Client
from adapters.ops1111.codelists import snapshot, with_area_names
from adapters.ops1111.mapping import SYSTEM, TABLES, ref_of, status_of, to_hub
from adapters.ops1111.updates import from_hub, message_id, to_native

if TYPE_CHECKING:
    from flask import Flask
    from hypothesis.strategies import SearchStrategy

SIMULATOR_USER = {"hub": "hub-secret"}


def raw_cases() -> Iterator[tuple[str, Native]]:
    """Every fixture case as ``GetCase`` gives it (the decoded JSON, no names joined)."""
    for path in sorted((FIXTURES / "cases").glob("GetCase_*.json")):
        yield f"cases/{path.name}", json.loads(path.read_text(encoding="utf-8"))


def fixtures() -> Iterator[tuple[str, Native]]:
    """Every fixture case joined with its area names, as the client hands cases out."""
    for name, case in raw_cases():
        yield name, with_area_names(case, snapshot())


def simulator() -> Flask:
    """The CoreService simulator, seeded with the fixture cases."""
    from adapters.ops1111.simulator import create_simulator

    return create_simulator([case for _, case in raw_cases()], users=SIMULATOR_USER)


def client(http: httpx.Client) -> Ops1111Client:
    """A wire client; against the simulator when ``http`` points at it."""
    if str(http.base_url).startswith("http://simulator"):
        username, password = next(iter(SIMULATOR_USER.items()))
        return Ops1111Client(http, username=username, password=password)
    return Ops1111Client(
        http, username=os.environ["OPS1111_USER"], password=os.environ["OPS1111_PASS"]
    )


def generate_native() -> SearchStrategy[Native]:
    from adapters.ops1111.strategies import cases

    return cases()


def _from_hub(event: Mapping[str, Any], ref: str) -> dict[str, Any]:
    return from_hub(event, ref)


ADAPTER = Adapter(
    name="ops1111",
    system=SYSTEM,
    to_hub=to_hub,
    from_hub=_from_hub,
    to_native=to_native,
    status_of=status_of,
    ref_of=ref_of,
    map_state=TABLES["status"].__getitem__,
    map_category=TABLES["case_type"].__getitem__,
    fixtures=fixtures,
    tables=TABLES,
    native_states=tuple(TABLES["status"]),
    native_categories=tuple(TABLES["case_type"]),
    round_trip_statuses=tuple(TABLES["status_to_1111"]),
    generate_native=generate_native,
    simulator=simulator,
    client=client,
    message_id=message_id,
)

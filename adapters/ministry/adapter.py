"""One :class:`~adapters.base.Adapter` per configured ministry (``ADAPTERS[code]``).

``ADAPTER`` is ``ADAPTERS[$MINISTRY]`` (default: the first in ``ministries.json``), so the
unchanged loader can check one ministry: ``MINISTRY=moph hub adapters check ministry``.
With a loader that understands ``package:variant`` it is ``ministry:moph`` (see
:func:`load`). A real client takes its base URL from ``Ministry.url()`` and its credential
from ``MINISTRY_<CODE>_TOKEN``. Push-mode ministries hand records to :func:`receive`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from adapters.base import Adapter, Native
from adapters.ministry import FIXTURES
from adapters.ministry.client import MinistryClient
from adapters.ministry.config import Ministry, ministry
from adapters.ministry.config import load as load_config
from adapters.ministry.mapping import ref_of, status_of, to_hub, to_native
from adapters.ministry.updates import from_hub, message_id

if TYPE_CHECKING:
    from flask import Flask
    from hypothesis.strategies import SearchStrategy

    from hub.exchange.client import HubClient, Receipt

SIMULATOR_TOKEN = "ministry-secret"


def fixtures(m: Ministry) -> Iterator[tuple[str, Native]]:
    """``fixtures/<code>_*.json``: the ministry's records, named for what they show."""
    for path in sorted(FIXTURES.glob(f"{m.code}_*.json")):
        yield path.name, json.loads(path.read_text(encoding="utf-8"))


def simulator(m: Ministry) -> Flask:
    from adapters.ministry.simulator import create_simulator

    return create_simulator(m, [r for _, r in fixtures(m)], token=SIMULATOR_TOKEN)


def client(m: Ministry, http: httpx.Client) -> MinistryClient:
    """A wire client; against the simulator when ``http`` points at it."""
    if str(http.base_url).startswith("http://simulator"):
        return MinistryClient(http, m, token=SIMULATOR_TOKEN)
    return MinistryClient(http, m, token=os.environ[f"MINISTRY_{m.code.upper()}_TOKEN"])


def generate_native(m: Ministry) -> SearchStrategy[Native]:
    from adapters.ministry.strategies import records

    return records(m)


def receive(m: Ministry, record: Mapping[str, Any], hub: HubClient) -> Receipt:
    """Push mode: a record the ministry posted, mapped and sent to the hub (idempotent id)."""
    return hub.send("complaint.submit", to_hub(m, record), id=message_id(m, record))


def build(m: Ministry) -> Adapter:
    """The adapter descriptor of one ministry."""
    return Adapter(
        name=f"ministry:{m.code}",
        system=m.system,
        to_hub=partial(to_hub, m),
        from_hub=partial(from_hub, m),
        to_native=partial(to_native, m),
        status_of=partial(status_of, m),
        ref_of=partial(ref_of, m),
        map_state=m.tables["status"].__getitem__,
        map_category=m.tables["category"].__getitem__,
        fixtures=partial(fixtures, m),
        tables=m.tables,
        native_states=tuple(m.tables["status"]),
        native_categories=tuple(m.tables["category"]),
        round_trip_statuses=tuple(dict.fromkeys(m.tables["status"].values())),
        generate_native=partial(generate_native, m),
        simulator=partial(simulator, m),
        client=partial(client, m),
        message_id=partial(message_id, m),
    )


ADAPTERS: dict[str, Adapter] = {code: build(m) for code, m in load_config().items()}
ADAPTER = ADAPTERS[os.environ.get("MINISTRY") or next(iter(ADAPTERS))]


def load(code: str) -> Adapter:
    """``ADAPTERS[code]``; KeyError naming the configured ministries otherwise."""
    ministry(code)  # the helpful KeyError
    return ADAPTERS[code]

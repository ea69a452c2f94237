"""Service levels as data (``schemas/vocab/sla.json``): deadlines to accept and to resolve.

A category override applies at normal priority and below; urgent and high priorities keep
the tighter of the two, so a category can never make an urgent case slower.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hub.vocab import load_json


@dataclass(frozen=True, slots=True)
class Deadlines:
    accept: timedelta
    resolve: timedelta


@functools.cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = load_json("vocab/sla.json")
    return data


def deadlines(category: str, priority: str = "normal") -> Deadlines:
    data = _data()
    base = data["default"].get(priority, data["default"]["normal"])
    over = data["categories"].get(category, {})
    accept = min(base["accept_hours"], over.get("accept_hours", base["accept_hours"]))
    resolve = min(base["resolve_hours"], over.get("resolve_hours", base["resolve_hours"]))
    if priority == "low" and over:
        accept, resolve = over.get("accept_hours", accept), over.get("resolve_hours", resolve)
    return Deadlines(timedelta(hours=accept), timedelta(hours=resolve))


def forward_accept() -> timedelta:
    """How long the receiver of a ``case.forward`` has to accept before it returns."""
    return timedelta(hours=_data()["forward_accept_hours"])


def reopen_window() -> timedelta:
    """How long after resolution an origin may still reopen a case."""
    return timedelta(days=_data()["reopen_window_days"])

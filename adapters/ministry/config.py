"""``ministries.json`` read once into :class:`Ministry` objects (pure data, no I/O after)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from adapters.base import Table
from adapters.ministry import CONFIG

MODES = ("push", "pull")


@dataclass(frozen=True)
class Ministry:
    """One ministry's system: who it is, how to reach it, how its records read."""

    code: str
    agency: str
    name_th: str
    name_en: str
    mode: str
    endpoint: str
    auth_header: str
    auth_prefix: str
    paths: Mapping[str, str]
    time: Mapping[str, Any]
    fields: Mapping[str, str]
    channel: str | None
    tables: Mapping[str, Table]
    event_status: Mapping[str, str]

    @property
    def system(self) -> str:
        """``origin.system`` of its complaints: ``ministry_<code>``."""
        return f"ministry_{self.code}"

    def url(self) -> str:
        """The base URL: ``MINISTRY_<CODE>_URL`` or the configured placeholder."""
        return os.environ.get(f"MINISTRY_{self.code.upper()}_URL", self.endpoint)


def _ministry(code: str, entry: Mapping[str, Any], event_status: Mapping[str, str]) -> Ministry:
    if entry["mode"] not in MODES:
        raise ValueError(f"ministry {code}: mode must be push or pull, not {entry['mode']!r}")
    system = f"ministry_{code}"
    tables = {name: Table(system, name, rows) for name, rows in entry["tables"].items()}
    if "channel" not in tables and not entry.get("channel"):
        raise ValueError(f"ministry {code}: needs a channel table or a fixed channel")
    return Ministry(
        code=code,
        agency=entry["agency"],
        name_th=entry["name_th"],
        name_en=entry["name_en"],
        mode=entry["mode"],
        endpoint=entry["endpoint"],
        auth_header=entry["auth"]["header"],
        auth_prefix=entry["auth"].get("prefix", ""),
        paths=dict(entry["paths"]),
        time=dict(entry["time"]),
        fields=dict(entry["fields"]),
        channel=entry.get("channel"),
        tables=tables,
        event_status=dict(event_status),
    )


@cache
def load(path: Path = CONFIG) -> dict[str, Ministry]:
    """Every configured ministry by code (cached per file)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    events = {k: v for k, v in doc["event_status"].items() if not k.startswith("$")}
    return {code: _ministry(code, entry, events) for code, entry in doc["ministries"].items()}


def ministry(code: str, path: Path = CONFIG) -> Ministry:
    """One ministry; KeyError naming the configured ones otherwise."""
    found = load(path)
    if code not in found:
        raise KeyError(f"no ministry {code!r}; configured: {', '.join(found)}")
    return found[code]

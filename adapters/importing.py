"""What every bulk importer shares: the run summary, the resumable state file, and
sending batches to the hub with the same bytes on retry.

An importer maps rows to signed envelopes (its own part) and hands them to :func:`flush`
with the row numbers; this module counts what the hub answered, per row, and records the
last row done only after the hub answered for it. See the Traffy importer for the why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hub.exchange.client import HubClient, HubClientError, Receipt

RETRIES = 3
Progress = Callable[[int], None]


@dataclass
class Summary:
    """What one run did; ``already`` rows were done by an earlier run."""

    read: int = 0
    imported: int = 0
    refused: int = 0
    already: int = 0
    errors_by_row: dict[int, str] = field(default_factory=dict)

    def line(self) -> str:
        text = f"rows read {self.read}, imported {self.imported}, refused {self.refused}"
        return text + (f" ({self.already} already imported)" if self.already else "")


class ImportAborted(Exception):
    """The hub stayed unreachable; ``summary`` is what was done, and the state file is saved."""

    def __init__(self, message: str, summary: Summary) -> None:
        super().__init__(message)
        self.summary = summary


def last_row(state_file: Path, source: Path) -> int:
    if not state_file.exists():
        return 0
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if state.get("source") != str(source.resolve()):
        raise ValueError(f"{state_file} belongs to the import of {state.get('source')}")
    return int(state["last_row"])


def _save(state_file: Path, source: Path, last_row: int) -> None:
    tmp = state_file.with_suffix(state_file.suffix + ".tmp")
    tmp.write_text(json.dumps({"source": str(source.resolve()), "last_row": last_row}))
    tmp.replace(state_file)  # atomic: a crash leaves the old state or the new, never half


def flush(
    client: HubClient,
    pending: list[tuple[int, str]],
    summary: Summary,
    state_file: Path,
    source: Path,
    last_row: int,
) -> None:
    if pending:
        results = _send(client, [jws for _, jws in pending], summary)
        for (number, _), result in zip(pending, results, strict=True):
            _count(number, result, summary)
        pending.clear()
    _save(state_file, source, last_row)


def _send(client: HubClient, items: list[str], summary: Summary) -> list[Receipt | HubClientError]:
    """One batch, retried with the same bytes while the hub is unreachable or busy."""
    for attempt in range(1, RETRIES + 1):
        try:
            return client.send_batch(items)
        except HubClientError as exc:
            transient = exc.status == 0 or exc.status >= 500 or exc.status == 429
            if not transient or attempt == RETRIES:
                raise ImportAborted(f"hub refused the batch: {exc}", summary) from exc
    raise AssertionError("unreachable")


def _count(number: int, result: Receipt | HubClientError, summary: Summary) -> None:
    if isinstance(result, Receipt):
        summary.imported += 1
    elif result.type.endswith("/replay"):
        summary.already += 1
    else:
        summary.refused += 1
        summary.errors_by_row[number] = _describe(result)


def _describe(error: HubClientError) -> str:
    fields = error.problem.get("errors") or []
    where = "; ".join(f"{e.get('pointer')}: {e.get('message')}" for e in fields[:3])
    return f"hub refused ({error.status}): {error.problem.get('detail', error)}" + (
        f" [{where}]" if where else ""
    )

"""Bulk import of Traffy Fondue CSV exports into the hub (``hub import traffy FILE``).

Why it is built this way: a Bangkok export holds about 1.5 million rows, so an import must
survive being stopped and started again, and must never create a complaint twice.

- **Resumable**: a small JSON state file remembers the last row done; a re-run skips to it.
  It is written after every batch the hub has answered, never before.
- **Idempotent**: each row's message id is derived from its ticket
  (``traffy-csv-<ticket>``). A batch retried after a network error re-sends the *same
  bytes*, and the hub answers with the same receipts. A row sent in an earlier run without
  the state file gets a Replay answer (same id, newer time) and counts as already imported;
  the hub also keeps one complaint per Traffy ticket whatever the message id.
- **Errors per row**: a row that does not map, or that the hub refuses, is reported with
  its row number (1 = the first row after the header) and the import goes on. Only a hub
  that stays unreachable stops it (:class:`ImportAborted`), state saved, ready to resume.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from adapters.traffy_fondue.mapping import row_to_complaint
from adapters.traffy_fondue.updates import message_id
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


def rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def _last_row(state_file: Path, source: Path) -> int:
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


def import_csv(
    path: Path,
    client: HubClient,
    *,
    state_file: Path,
    batch: int = 200,
    progress: Progress | None = None,
) -> Summary:
    """Import every row of ``path`` not yet done; see the module docstring."""
    done, summary = _last_row(state_file, path), Summary()
    pending: list[tuple[int, str]] = []
    number = 0
    for number, row in enumerate(rows(path), start=1):
        summary.read += 1
        if number <= done:
            summary.already += 1
        else:
            _prepare(client, number, row, pending, summary)
        if len(pending) >= batch:
            _flush(client, pending, summary, state_file, path, number)
        if progress:
            progress(number)
    _flush(client, pending, summary, state_file, path, max(number, done))
    return summary


def _prepare(
    client: HubClient,
    number: int,
    row: dict[str, str],
    pending: list[tuple[int, str]],
    summary: Summary,
) -> None:
    try:
        complaint = row_to_complaint(row)
        pending.append(
            (number, client.envelope("complaint.submit", complaint, id=message_id(row, "csv")))
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # UnmappedValue is a ValueError
        summary.refused += 1
        summary.errors_by_row[number] = f"does not map: {type(exc).__name__}: {exc}"


def _flush(
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


def main(argv: list[str] | None = None) -> int:
    """``hub import traffy FILE --hub-url URL --key AGENCY.private.jwk [--state F] [--batch N]``.

    Exit 0 when every row is in the hub, 1 when some rows were refused (listed), 2 when the
    hub could not be reached (re-run the same command to resume).
    """
    import argparse
    import os

    from adapters.progress import progress_bar

    parser = argparse.ArgumentParser(prog="hub import traffy", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="Traffy CSV export (public Bangkok layout)")
    parser.add_argument("--hub-url", default=os.environ.get("HUB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", type=Path, required=True, help="the sending agency's private JWK")
    parser.add_argument("--state", type=Path, help="state file (default FILE.import-state.json)")
    parser.add_argument("--batch", type=int, default=200, help="envelopes per request")
    args = parser.parse_args(argv)
    state = args.state or args.file.with_name(args.file.name + ".import-state.json")
    client = HubClient.from_jwk_file(args.hub_url, args.key)
    total = sum(1 for _ in rows(args.file))
    try:
        summary = import_csv(
            args.file, client, state_file=state, batch=args.batch, progress=progress_bar(total)
        )
    except ImportAborted as exc:
        print(f"import stopped: {exc}\n{exc.summary.line()}; re-run to resume")
        return 2
    for number, error in list(summary.errors_by_row.items())[:50]:
        print(f"row {number}: {error}")
    print(summary.line())
    return 1 if summary.refused else 0

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
from collections.abc import Iterator
from pathlib import Path

from adapters.importing import ImportAborted, Progress, Summary, flush, last_row
from adapters.traffy_fondue.mapping import row_to_complaint
from adapters.traffy_fondue.updates import message_id
from hub.exchange.client import HubClient

__all__ = ["ImportAborted", "Progress", "Summary", "import_csv", "main", "rows"]


def rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def import_csv(
    path: Path,
    client: HubClient,
    *,
    state_file: Path,
    batch: int = 200,
    progress: Progress | None = None,
) -> Summary:
    """Import every row of ``path`` not yet done; see the module docstring."""
    done, summary = last_row(state_file, path), Summary()
    pending: list[tuple[int, str]] = []
    number = 0
    for number, row in enumerate(rows(path), start=1):
        summary.read += 1
        if number <= done:
            summary.already += 1
        else:
            _prepare(client, number, row, pending, summary)
        if len(pending) >= batch:
            flush(client, pending, summary, state_file, path, number)
        if progress:
            progress(number)
    flush(client, pending, summary, state_file, path, max(number, done))
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

"""Bulk import of centre exports into the hub (``hub import damrongdhama FILE``).

The Traffy importer's approach, reused (its batching, retry and state-file helpers): an
import is **resumable** (a state file remembers the last row the hub answered), **idempotent**
(each row's message id is derived from its เลขที่เรื่อง, so a re-run is answered with the
same receipts or a Replay, never a second complaint), and reports **errors per row** (row 1
is the first after the header) without stopping; only a hub that stays unreachable stops it
(:class:`ImportAborted`), state saved. Which columns mean what comes from the field map
(``--fieldmap``; the reference layout by default).

CSV only, UTF-8 (a BOM from Excel is fine; ``--encoding cp874`` for old Windows exports).
Excel ``.xlsx`` is not read: openpyxl is not a dependency; save the sheet as CSV (UTF-8).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from adapters.damrongdhama.mapping import REFERENCE, FieldMap, load_fieldmap, to_hub
from adapters.damrongdhama.updates import message_id
from adapters.importing import ImportAborted, Progress, Summary, flush, last_row
from hub.exchange.client import HubClient

__all__ = ["ImportAborted", "Summary", "import_csv", "main", "rows"]


def rows(path: Path, encoding: str = "utf-8-sig") -> Iterator[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as f:
        yield from csv.DictReader(f)


def import_csv(
    path: Path,
    client: HubClient,
    *,
    state_file: Path,
    fmap: FieldMap = REFERENCE,
    encoding: str = "utf-8-sig",
    batch: int = 200,
    progress: Progress | None = None,
) -> Summary:
    """Import every row of ``path`` not yet done; see the module docstring."""
    done, summary = last_row(state_file, path), Summary()
    pending: list[tuple[int, str]] = []
    number = 0
    for number, row in enumerate(rows(path, encoding), start=1):
        summary.read += 1
        if number <= done:
            summary.already += 1
        else:
            _prepare(client, number, row, fmap, pending, summary)
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
    fmap: FieldMap,
    pending: list[tuple[int, str]],
    summary: Summary,
) -> None:
    try:
        complaint = to_hub(row, fmap)
        jws = client.envelope("complaint.submit", complaint, id=message_id(row, fmap))
        pending.append((number, jws))
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # UnmappedValue is a ValueError
        summary.refused += 1
        summary.errors_by_row[number] = f"does not map: {type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    """``hub import damrongdhama FILE --key AGENCY.private.jwk [--fieldmap F] [--state F]``.

    Exit 0 when every row is in the hub, 1 when some rows were refused (listed), 2 when the
    hub could not be reached (re-run the same command to resume).
    """
    import argparse
    import os

    from adapters.progress import progress_bar

    parser = argparse.ArgumentParser(
        prog="hub import damrongdhama", description=__doc__.split("\n")[0]
    )
    parser.add_argument("file", type=Path, help="centre export, CSV")
    parser.add_argument("--fieldmap", type=Path, help="layout file (default: reference layout)")
    parser.add_argument("--encoding", default="utf-8-sig")
    parser.add_argument("--hub-url", default=os.environ.get("HUB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", type=Path, required=True, help="the sending agency's private JWK")
    parser.add_argument("--state", type=Path, help="state file (default FILE.import-state.json)")
    parser.add_argument("--batch", type=int, default=200, help="envelopes per request")
    args = parser.parse_args(argv)
    if args.file.suffix.lower() in (".xlsx", ".xls"):
        print("hub import damrongdhama: save the sheet as CSV (UTF-8); Excel is not read")
        return 2
    fmap = load_fieldmap(args.fieldmap.resolve()) if args.fieldmap else REFERENCE
    state = args.state or args.file.with_name(args.file.name + ".import-state.json")
    client = HubClient.from_jwk_file(args.hub_url, args.key)
    total = sum(1 for _ in rows(args.file, args.encoding))
    try:
        summary = import_csv(
            args.file,
            client,
            state_file=state,
            fmap=fmap,
            encoding=args.encoding,
            batch=args.batch,
            progress=progress_bar(total),
        )
    except ImportAborted as exc:
        print(f"import stopped: {exc}\n{exc.summary.line()}; re-run to resume")
        return 2
    for number, error in list(summary.errors_by_row.items())[:50]:
        print(f"row {number}: {error}")
    print(summary.line())
    return 1 if summary.refused else 0

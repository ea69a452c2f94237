"""Bulk CSV import into a real hub: all 200 sample rows, resumable, idempotent, per-row errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from adapters.traffy_fondue import SAMPLE_CSV
from adapters.traffy_fondue.importer import ImportAborted, import_csv, rows
from hub.exchange.client import HubClientError
from tests.support.envelopes import counts


def write_csv(path: Path, records: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def test_every_sample_row_imports_and_a_rerun_imports_nothing_new(agencies, hub, tmp_path):
    bma = agencies.enrol("bma")
    state = tmp_path / "state.json"
    seen: list[int] = []

    first = import_csv(SAMPLE_CSV, bma.client, state_file=state, progress=seen.append)
    assert (first.read, first.imported, first.refused, first.errors_by_row) == (200, 200, 0, {})
    assert first.line() == "rows read 200, imported 200, refused 0"
    assert seen[-1] == 200
    assert json.loads(state.read_text())["last_row"] == 200
    stored = counts(hub)
    assert stored["complaints"] == 200

    again = import_csv(SAMPLE_CSV, bma.client, state_file=state)
    assert (again.read, again.imported, again.refused, again.already) == (200, 0, 0, 200)
    assert again.line() == "rows read 200, imported 0, refused 0 (200 already imported)"
    assert counts(hub) == stored


def test_state_file_lost_the_hub_still_creates_nothing_twice(agencies, hub, tmp_path, clock):
    bma = agencies.enrol("bma")
    import_csv(SAMPLE_CSV, bma.client, state_file=tmp_path / "a.json", batch=100)
    stored = counts(hub)

    same_time = import_csv(SAMPLE_CSV, bma.client, state_file=tmp_path / "b.json", batch=100)
    assert same_time.refused == 0  # same bytes: the hub answers with the same receipts
    clock.advance(minutes=1)
    later = import_csv(SAMPLE_CSV, bma.client, state_file=tmp_path / "c.json", batch=100)
    assert (later.imported, later.refused, later.already) == (0, 0, 200)  # same ids: replays
    assert counts(hub) == stored


def test_a_broken_row_is_reported_with_its_number_and_the_rest_imports(agencies, tmp_path):
    bma = agencies.enrol("bma")
    records = list(rows(SAMPLE_CSV))[:10]
    records[2] = records[2] | {"subdistrict": "แขวงไม่มีจริง"}
    records[4] = records[4] | {"type": "{ยานอวกาศ}"}
    records[6] = records[6] | {"coords": "100.5,13.7", "timestamp": "2023-05-12 13:27:54"}
    path = write_csv(tmp_path / "broken.csv", records)

    summary = import_csv(path, bma.client, state_file=tmp_path / "s.json", batch=4)
    assert (summary.read, summary.imported, summary.refused) == (10, 7, 3)
    assert sorted(summary.errors_by_row) == [3, 5, 7]
    assert "แขวงไม่มีจริง" in summary.errors_by_row[3]
    assert "ยานอวกาศ" in summary.errors_by_row[5]


def test_a_row_the_hub_refuses_is_reported_without_stopping(agencies, tmp_path):
    bma = agencies.enrol("bma")
    records = list(rows(SAMPLE_CSV))[:3]
    records[1] = records[1] | {"photo": "ftp://not-http.example/x.jpg"}  # maps, schema refuses
    path = write_csv(tmp_path / "refused.csv", records)

    summary = import_csv(path, bma.client, state_file=tmp_path / "s.json")
    assert (summary.imported, summary.refused) == (2, 1)
    assert "/media/0/url" in summary.errors_by_row[2]


class Unreachable:
    """The real client, except that batch number ``fail_at`` (and every retry) cannot connect."""

    def __init__(self, client, fail_at: int) -> None:
        self.client, self.fail_at, self.batches = client, fail_at, 0

    def envelope(self, *args, **kwargs):
        return self.client.envelope(*args, **kwargs)

    def send_batch(self, items):
        self.batches += 1
        if self.batches >= self.fail_at:
            raise HubClientError(0, None, "hub unreachable: connection refused")
        return self.client.send_batch(items)


def test_an_unreachable_hub_stops_the_import_which_resumes_where_it_stopped(
    agencies, hub, tmp_path
):
    bma = agencies.enrol("bma")
    state = tmp_path / "state.json"
    with pytest.raises(ImportAborted) as stopped:
        import_csv(SAMPLE_CSV, Unreachable(bma.client, fail_at=3), state_file=state, batch=50)
    assert stopped.value.summary.imported == 100
    assert json.loads(state.read_text())["last_row"] == 100

    resumed = import_csv(SAMPLE_CSV, bma.client, state_file=state, batch=50)
    assert (resumed.imported, resumed.already, resumed.refused) == (100, 100, 0)
    assert counts(hub)["complaints"] == 200


def test_a_state_file_of_another_import_is_refused(agencies, tmp_path):
    bma = agencies.enrol("bma")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"source": "/elsewhere.csv", "last_row": 5}))
    with pytest.raises(ValueError, match="elsewhere"):
        import_csv(SAMPLE_CSV, bma.client, state_file=state)


def test_text_progress_bar_when_tqdm_is_absent(monkeypatch):
    import io
    import sys

    from adapters.progress import progress_bar

    monkeypatch.setitem(sys.modules, "tqdm", None)  # import fails as if not installed
    out = io.StringIO()
    bar = progress_bar(200, out=out)
    for done in range(1, 201):
        bar(done)
    assert out.getvalue().endswith("[##############################] 100% 200/200 rows\n")
    assert out.getvalue().count("\r") == 101  # 0 % .. 100 %, once each

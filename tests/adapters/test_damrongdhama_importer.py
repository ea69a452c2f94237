"""Centre exports into a real hub: resumable, idempotent, per-row errors, either layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from adapters.damrongdhama import FIXTURES, HERE, SAMPLE_CSV
from adapters.damrongdhama.importer import import_csv, main, rows
from adapters.damrongdhama.mapping import load_fieldmap
from tests.support.envelopes import counts


def write_csv(path: Path, records: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # as Excel saves "CSV UTF-8"
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def centre(agencies):
    return agencies.enrol("dc-50", kind="damrongdhama_centre", areas=["50"])


def test_the_sample_imports_and_a_rerun_imports_nothing_new(agencies, hub, tmp_path) -> None:
    dc = centre(agencies)
    state, seen = tmp_path / "state.json", []
    first = import_csv(SAMPLE_CSV, dc.client, state_file=state, progress=seen.append)
    assert (first.read, first.imported, first.refused, first.errors_by_row) == (6, 6, 0, {})
    assert first.line() == "rows read 6, imported 6, refused 0" and seen[-1] == 6
    assert json.loads(state.read_text())["last_row"] == 6
    stored = counts(hub)
    assert stored["complaints"] == 6

    again = import_csv(SAMPLE_CSV, dc.client, state_file=state)
    assert (again.imported, again.already) == (0, 6)
    lost_state = import_csv(SAMPLE_CSV, dc.client, state_file=tmp_path / "other.json")
    assert lost_state.refused == 0
    assert counts(hub) == stored


def test_broken_rows_are_reported_by_number_and_the_rest_imports(agencies, tmp_path) -> None:
    dc = centre(agencies)
    records = list(rows(SAMPLE_CSV))
    records[1] |= {"สถานะ": "รอเทวดาอนุมัติ"}
    records[3] |= {"ตำบล": "ตำบลไม่มีจริง"}
    records[4] |= {"เลขบัตรประชาชน": "1234"}
    path = write_csv(tmp_path / "broken.csv", records)
    summary = import_csv(path, dc.client, state_file=tmp_path / "s.json", batch=2)
    assert (summary.read, summary.imported, summary.refused) == (6, 3, 3)
    assert sorted(summary.errors_by_row) == [2, 4, 5]
    assert "รอเทวดาอนุมัติ" in summary.errors_by_row[2]
    assert "1234" not in summary.errors_by_row[5]  # personal data stays out of reports


def test_the_other_layout_imports_with_its_field_map(agencies, hub, tmp_path) -> None:
    dc = centre(agencies)
    sheet = FIXTURES / "provincial_sheet_chiangmai.csv"
    fmap = load_fieldmap(HERE / "fieldmap.provincial_sheet.json")
    summary = import_csv(sheet, dc.client, state_file=tmp_path / "s.json", fmap=fmap)
    assert (summary.imported, summary.refused) == (2, 0)
    assert counts(hub)["complaints"] == 2


def test_an_excel_file_is_refused_with_advice(capsys, tmp_path) -> None:
    sheet = tmp_path / "export.xlsx"
    sheet.write_bytes(b"PK")
    assert main([str(sheet), "--key", str(tmp_path / "k.jwk")]) == 2
    assert "CSV" in capsys.readouterr().out

"""Damrongdhama centres (Ministry of Interior, hotline 1567): tambon, amphoe and province.

No public format exists, so this package defines a documented reference one (``format.md``):
a CSV/spreadsheet export with Thai column names and a small REST API carrying the same
records. Which column means what, and every value table, is data (``fieldmap.json``); a
centre whose sheet looks different brings its own field map and no code.

``ADAPTER`` (the :class:`adapters.base.Adapter` descriptor) is loaded on first use.
"""

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REFERENCE_FIELDMAP = HERE / "fieldmap.json"
SAMPLE_CSV = FIXTURES / "reference_export_chiangmai.csv"


def __getattr__(name: str) -> Any:
    if name == "ADAPTER":
        from adapters.damrongdhama.adapter import ADAPTER

        return ADAPTER
    raise AttributeError(name)

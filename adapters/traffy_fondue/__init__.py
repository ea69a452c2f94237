"""Traffy Fondue (NECTEC): records of Thailand's most-used citizen complaint platform.

``ADAPTER`` (the :class:`adapters.base.Adapter` descriptor) is loaded on first use, so that
importing the mapping or the sample path stays light.
"""

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_CSV = FIXTURES / "bangkok_sample.csv"


def __getattr__(name: str) -> Any:
    if name == "ADAPTER":
        from adapters.traffy_fondue.adapter import ADAPTER

        return ADAPTER
    raise AttributeError(name)

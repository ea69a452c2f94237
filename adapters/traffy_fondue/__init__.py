"""Traffy Fondue (NECTEC): records of Thailand's most-used citizen complaint platform."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_CSV = FIXTURES / "bangkok_sample.csv"

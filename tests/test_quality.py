"""The gates the house keeps (STYLE.md habit 15): ruff clean everywhere, mypy strict on hub/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing() -> None:
    r = run("ruff", "check", "hub", "adapters", "tests", "bench", "schemas")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_on_the_core() -> None:
    r = run("mypy", "--strict", "--ignore-missing-imports", "hub")
    assert r.returncode == 0, r.stdout + r.stderr

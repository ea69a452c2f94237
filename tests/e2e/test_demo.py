"""``hub demo --once`` as a person runs it: real processes, a fresh SQLite file, real keys.

The scripted part must succeed (exit 0), accept every record, deliver resolutions back to
the origin channels, and finish quickly; a second run in the same directory must work too
(the hub answers the re-sent records with their known cases and nothing is left to do).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HUB = [sys.executable, "-m", "hub.cli"]


def demo(tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}", HUB_KEY_DIR=str(tmp_path / "keys")
    )
    r = subprocess.run(
        [*HUB, "demo", "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return out


def number(pattern: str, out: str) -> int:
    found = re.search(pattern, out)
    assert found, f"{pattern!r} not in:\n{out}"
    return int(found[1])


def test_demo_plays_the_scripted_journeys_and_can_run_again(tmp_path):
    started = time.monotonic()
    first = demo(tmp_path)
    assert time.monotonic() - started < 60
    assert "Traffy Fondue (bma): 60 of 60 complaints accepted" in first
    assert "1111 (opm1111): 3 of 3 cases accepted" in first
    assert "Damrongdhama (dc-50, dc-5001): 4 of 4 cases accepted" in first
    assert "refused" not in first and "FAILED" not in first
    assert "merged into Traffy case" in first
    for kind in ("accept", "decline", "forward", "resolve"):
        assert number(rf"case\.{kind} (\d+)", first) >= 1
    back = number(r"resolutions delivered back to origin channels: (\d+)", first)
    assert back >= 20
    assert number(r"this run (\d+) reached the origins' receivers", first) == back
    assert "pending" not in first.split("summary")[1].split("API docs")[0]
    assert "/v1/ui/" in first and "/dashboard" in first
    key = re.search(r"sign in with the ombudsman's key: (\S+)", first)
    assert key is not None and Path(key.group(1)).is_file()  # the oversight key the page loads

    again = demo(tmp_path)
    assert "Traffy Fondue (bma): 60 of 60 complaints accepted" in again
    assert "scripted part: OK" in again
    assert number(r"resolutions delivered back to origin channels: (\d+)", again) == back
    cases = number(r"cases by status: .*?resolved (\d+)", first)
    assert number(r"cases by status: .*?resolved (\d+)", again) == cases

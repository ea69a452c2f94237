"""``hub serve`` and ``hub worker`` shorten the GIL's switch interval (see
``hub.cli.tune_gil`` and ``bench/gil.py`` for why); the setting reaches the interpreter."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from hub.cli import tune_gil
from hub.config import Settings


@pytest.fixture
def restore_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_default_hands_the_gil_over_every_half_millisecond(restore_interval):
    sys.setswitchinterval(0.005)
    tune_gil(Settings.from_env({}))
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_the_interval_comes_from_the_environment_and_zero_leaves_it_alone(restore_interval):
    sys.setswitchinterval(0.005)
    tune_gil(Settings.from_env({"HUB_GIL_SWITCH_MS": "2"}))
    assert sys.getswitchinterval() == pytest.approx(0.002)
    tune_gil(Settings.from_env({"HUB_GIL_SWITCH_MS": "0"}))
    assert sys.getswitchinterval() == pytest.approx(0.002)

"""Fixtures for the dashboard's browser tests: a real headless Chromium driven by Selenium,
a real ``hub serve`` (``world.running_hub``) and its cases (``world.populate``).

Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``;
``.ci/run`` installs them). Without them the browser tests skip on a developer machine and
FAIL under ``HUB_TEST_REQUIRE_SERVICES=1``, as CI sets: a dashboard nobody opened in a
browser is not tested.

Artefacts (screenshots, the hub's log) go to ``$HUB_TEST_ARTIFACTS`` or
``tests/dashboard/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.world import (
    ARTIFACTS,
    DashServer,
    DashWorld,
    chromium_paths,
    populate,
    running_hub,
    safe_name,
)

REQUIRE = os.environ.get("HUB_TEST_REQUIRE_SERVICES") == "1"


def _need(what: str, present: bool) -> None:
    if present:
        return
    if REQUIRE:
        pytest.fail(f"{what} is required here (HUB_TEST_REQUIRE_SERVICES=1) but missing")
    pytest.skip(f"{what} missing (apt-get install chromium chromium-driver; pip install selenium)")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


@pytest.fixture
def browser(downloads: Path) -> Iterator[Any]:
    """A fresh headless Chromium: its own profile, so nothing is remembered between tests."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need("the selenium package", False)
        raise
    chromium, chromedriver = chromium_paths()
    _need("Chromium (chromium)", chromium is not None)
    _need("chromedriver (chromium-driver)", chromedriver is not None)
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,1000",
        "--lang=th-TH",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(chromedriver)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def dash_server(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, artifacts: Path
) -> Iterator[DashServer]:
    log = artifacts / f"hub-serve-{safe_name(request.node.name)}.log"
    with running_hub(database_url, tmp_path, log) as server:
        yield server


@pytest.fixture
def dash_world(dash_server: DashServer) -> Iterator[DashWorld]:
    world = populate(dash_server)
    try:
        yield world
    finally:
        for client in world.clients.values():
            client.http.close()

"""The dashboard as files: served by the hub with a strict CSP, nothing from a CDN, the map
rebuilt exactly from the committed GeoJSON, and the map's credit where people see it."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hub import dashboard, vocab
from hub.app import create_app
from hub.config import Settings
from hub.dashboard import build_map

STATIC = Path(dashboard.__file__).parent / "static"
GEO = Path(dashboard.__file__).parent / "geo"
TEXT_ASSETS = sorted(
    p for p in STATIC.rglob("*") if p.suffix in {".html", ".js", ".css", ".svg", ".json"}
)


@pytest.fixture
def web(sqlite_url: str, key_dir: Path):
    """The real app on SQLite: these tests are about files and headers, not the database."""
    with create_app(Settings(database_url=sqlite_url, key_dir=key_dir)).test_client() as c:
        yield c


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href"):
            if a.get(name):
                self.urls.append(str(a[name]))
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1
        if "style" in a:
            self.style_attributes += 1
        self.handlers += [name for name in a if name.startswith("on")]


def test_the_page_is_served_with_a_policy_that_runs_only_our_own_scripts(web):
    r = web.get("/dashboard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    page = _Page()
    page.feed(r.text)
    # the CSP would block these in the browser; catch them here, with a clearer message
    assert page.inline_scripts == 0 and page.style_attributes == 0 and page.handlers == []
    for url in page.urls:
        if url.startswith("#"):
            continue
        assert url.startswith("/dashboard/static/"), f"{url} is not one of our own files"
        asset = web.get(url)
        assert asset.status_code == 200, url
        assert "content-security-policy" in asset.headers


def test_the_slash_form_redirects_and_unknown_files_are_404(web):
    r = web.get("/dashboard/", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"].endswith("/dashboard")
    assert web.get("/dashboard/static/nothing-here.js").status_code == 404
    assert web.get("/dashboard/static/../__init__.py").status_code == 404


def test_nothing_is_fetched_from_anywhere_else(web):
    """No CDN, no web fonts, no tiles: the only absolute URLs are XML namespaces."""
    for path in TEXT_ASSETS:
        text = path.read_text(encoding="utf-8")
        for url in re.findall(r"https?://[^\s\"')]+", text):
            assert url.startswith("http://www.w3.org/2000/svg"), f"{path.name}: {url}"
        if path.suffix == ".js":
            for spec in re.findall(r"^import .* from '([^']+)';", text, re.M):
                assert spec.startswith("./"), f"{path.name} imports {spec}"
        assert "innerHTML" not in text, f"{path.name}: text from the API must not be parsed as HTML"


def test_meta_gives_the_token_rules_the_clock_and_the_vocabularies(web):
    r = web.get("/dashboard/meta.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    meta = r.json()
    assert meta["audience"] == "hub" and meta["token_max_seconds"] == 300
    assert meta["now"].endswith("+00:00")
    assert set(meta["categories"]) == set(vocab.categories())
    assert set(meta["statuses"]) == set(vocab.statuses())
    assert set(meta["channels"]) == set(vocab.channels())
    assert meta["categories"]["road"] == {"th": "ถนน", "en": "Road surface and road works"}


def test_the_committed_map_is_exactly_what_the_script_builds():
    committed = (STATIC / "th_provinces.map.json").read_text(encoding="utf-8")
    assert build_map.render(build_map.build()) == committed, (
        "run: python -m hub.dashboard.build_map"
    )
    doc = json.loads(committed)
    assert len(doc["provinces"]) == 77
    assert len(committed.encode()) < 30_000  # what the browser loads, vs 96 KB of GeoJSON
    for p in doc["provinces"]:
        area = vocab.area(p["code"])
        assert area is not None and area.level == "province", p["code"]
        assert p["d"].startswith("M") and p["d"].endswith("z")


def test_every_province_of_the_vocabulary_is_on_the_map():
    doc = json.loads((STATIC / "th_provinces.map.json").read_text(encoding="utf-8"))
    on_map = {p["code"] for p in doc["provinces"]}
    areas = [vocab.area(f"{n:02d}") for n in range(10, 100)]
    provinces = {a.code for a in areas if a is not None and not a.abolished}
    assert on_map == provinces


def test_the_map_data_carries_its_licence_and_the_page_shows_the_credit(web):
    notice = (GEO / "NOTICE").read_text(encoding="utf-8")
    assert "mapthai" in notice and "CC BY-IGO" in notice and "LICENSE-mapthai.md" in notice
    licence = (GEO / "LICENSE-mapthai.md").read_text(encoding="utf-8")
    assert "MIT License" in licence and "Piyayut Chitchumnong" in licence
    footer = web.get("/dashboard").text.split('<footer class="foot">', 1)[1]
    for credit in ("mapthai", "MIT", "Piyayut Chitchumnong", "OCHA/HDX", "CC BY-IGO"):
        assert credit in footer
    source = json.loads((GEO / "th_provinces.geojson").read_text(encoding="utf-8"))
    assert len(source["features"]) == 77

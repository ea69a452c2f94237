"""The oversight dashboard in a real headless Chromium, against a real ``hub serve``.

An analyst of an oversight agency (enrolled with the CLI) opens /dashboard, loads the
private key file ``hub keys generate`` wrote, and the page signs every request's token in
the browser (WebCrypto). Everything the page shows is checked against what the index API
answers to the same key signed by Python: totals, the map's shaded provinces, the charts;
changing a filter changes the numbers; a case opens with its timeline; an export downloads
the filtered rows; no personal data planted in a complaint appears anywhere; and the
browser's console stays free of errors. Screenshots are kept as test artefacts.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from hub.exchange.keys import load_public_jwk
from tests.dashboard.world import PLANTED, DashServer, DashWorld

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SNAPSHOT = """
const q = (s) => document.querySelector(s);
const rows = (s) => Object.fromEntries([...document.querySelectorAll(s)]
  .map((b) => [b.dataset.key, Number(b.dataset.value)]));
const alert = q('#alert');
return {
  state: document.body.dataset.state,
  inflight: Number(document.body.dataset.inflight || 0),
  generation: Number(document.body.dataset.generation || 0),
  firstRenderMs: document.body.dataset.firstRenderMs || null,
  firstPieceMs: document.body.dataset.firstPieceMs || null,
  alert: alert.hidden ? '' : alert.textContent,
  signedAs: q('#key-status').dataset.agency || '',
  total: q('#kpi-total').dataset.value,
  open: q('#kpi-open').dataset.value,
  breachRate: q('#kpi-breach').dataset.value,
  casesTotal: q('#cases-count').dataset.total,
  map: Object.fromEntries([...document.querySelectorAll('#map path.province')]
    .map((p) => [p.dataset.code, {count: Number(p.dataset.count), cls: p.getAttribute('class')}])),
  category: rows('#chart-category .bar-row'),
  status: rows('#chart-status .bar-row'),
  backlog: rows('#chart-backlog .bar-row'),
  month: rows('#chart-month .bar-row'),
  agencies: [...document.querySelectorAll('#agency-table tbody tr')].map((r) => r.dataset.agency),
  times: q('#agency-times').textContent,
  caseRows: [...document.querySelectorAll('#case-table tbody tr[data-case-id]')]
    .map((r) => r.dataset.caseId),
  more: !q('#more').hidden,
};
"""


class Dashboard:
    """The page as a test drives it: actions, and waits that end on a redrawn page."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver, self.base_url = driver, base_url

    def open(self) -> dict[str, Any]:
        self.driver.get(f"{self.base_url}/dashboard")
        return self.wait(lambda s: s["state"] in ("need-key", "ready", "error", "no-crypto"))

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = self.driver.execute_script(SNAPSHOT)
        return snap

    def wait(self, done: Any, timeout: float = 30) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def check(_driver: Any) -> bool:
            nonlocal last
            last = self.snapshot()
            return bool(done(last))

        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(check)
        except Exception as exc:
            raise AssertionError(f"page never got there; last seen: {last}") from exc
        return last

    def redrawn(self, before: dict[str, Any]) -> dict[str, Any]:
        """Until the refresh the last action started has finished (or failed)."""
        snap = self.wait(
            lambda s: (
                (s["state"] == "error" and s["inflight"] == 0)
                or (s["state"] == "ready" and s["generation"] > before["generation"])
            )
        )
        assert snap["state"] == "ready", f"the page shows an error: {snap['alert']}"
        return snap

    def load_key(self, path: Path) -> None:
        self.driver.find_element(By.ID, "key-file").send_keys(str(path))

    def choose(self, name: str, value: str) -> dict[str, Any]:
        before = self.snapshot()
        Select(self.driver.find_element(By.NAME, name)).select_by_value(value)
        return self.redrawn(before)

    def click(self, css: str) -> dict[str, Any]:
        before = self.snapshot()
        self.driver.find_element(By.CSS_SELECTOR, css).click()
        return self.redrawn(before)

    def console_errors(self) -> list[dict[str, Any]]:
        """Everything Chromium logged at error level since the last call (it drains)."""
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def screenshot(self, path: Path) -> None:
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1440, min(int(height) + 40, 6000))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1440, 1000)


def stats(world: DashWorld, **filters: str) -> dict[str, Any]:
    answer: dict[str, Any] = world.api("/v1/index/stats", group_by="province", **filters)
    return answer


def count(world: DashWorld, **filters: str) -> int:
    return int(stats(world, **filters)["total"])


def shaded(snap: dict[str, Any]) -> dict[str, int]:
    return {code: p["count"] for code, p in snap["map"].items() if "q0" not in p["cls"].split()}


def test_the_dashboard_shows_the_national_picture_and_drills_down(
    browser: Any, dash_world: DashWorld, artifacts: Path, downloads: Path
) -> None:
    world, page = dash_world, Dashboard(browser, dash_world.server.base_url)
    backend = world.server.backend

    # -- before a key: the page and its map are there, nothing else is asked for
    snap = page.open()
    assert snap["state"] == "need-key"
    assert len(snap["map"]) == 77 and not shaded(snap)
    footer = browser.find_element(By.CSS_SELECTOR, "footer").text
    assert "mapthai" in footer and "CC BY-IGO" in footer
    assert page.console_errors() == []

    # -- a key the hub never enrolled: a clear 401 message, no data
    page.load_key(world.server.stranger_key)
    snap = page.wait(lambda s: s["state"] == "error" and s["inflight"] == 0)
    assert "401" in snap["alert"] and not snap["total"]
    refused = page.console_errors()
    assert refused and all(e["source"] == "network" and "401" in e["message"] for e in refused)

    # -- the analyst's own key: the national picture, equal to what the API says
    page.load_key(world.server.analyst_key)
    snap = page.wait(lambda s: s["state"] == "ready")
    assert snap["signedAs"] == "opdc" and snap["alert"] == ""
    national = stats(world)
    assert int(snap["total"]) == national["total"] == 36
    assert int(snap["casesTotal"]) == 36 and len(snap["caseRows"]) == 36
    assert shaded(snap) == {"10": 24, "50": 12}
    legend = browser.find_element(By.ID, "map-legend").text.split()
    assert legend[-1] == "13–24" and "6–12" in legend  # Chiang Mai's 12 in the 4th shade
    assert all(p["cls"].split()[1] == "q0" for c, p in snap["map"].items() if c not in ("10", "50"))
    assert snap["map"]["10"]["cls"] != snap["map"]["50"]["cls"]  # more cases, darker
    assert snap["category"] == {"road": 18, "drainage": 18}
    by_status = world.api("/v1/index/stats", group_by="status")["groups"]
    assert snap["status"] == {g["status"]: g["count"] for g in by_status}
    assert sum(snap["backlog"].values()) == int(snap["open"])
    assert int(snap["open"]) == sum(b["count"] for b in national["backlog"]) > 0
    assert national["sla_breach_rate"] == pytest.approx(6 / 36)
    assert float(snap["breachRate"]) == pytest.approx(national["sla_breach_rate"])
    assert set(snap["agencies"]) == {a["agency"] for a in national["by_agency"]}
    method = national["percentiles"]  # the table says whether its times are approximate
    if method["method"] == "approx":
        assert f"{round(method['relative_error'] * 100)}%" in snap["times"]
    else:
        assert snap["times"] and "%" not in snap["times"]
    print(
        f"\n[{backend}] after loading the key: first panel {snap['firstPieceMs']} ms,"
        f" whole page {snap['firstRenderMs']} ms"
    )
    page.screenshot(artifacts / f"dashboard-{backend}.png")
    assert page.console_errors() == []

    # -- filters drive every panel
    snap = page.choose("province", "50")
    assert int(snap["total"]) == count(world, province="50") == 12
    assert shaded(snap) == {"50": 12} and "selected" in snap["map"]["50"]["cls"]
    assert snap["category"] == {"road": 6, "drainage": 6}
    snap = page.choose("sla_breached", "true")
    assert int(snap["total"]) == count(world, province="50", sla_breached="true") == 2
    assert "#province=50&sla_breached=true" in browser.current_url
    snap = page.click("#reset")
    assert int(snap["total"]) == 36

    # the slow agency: its row in the agency table filters the cases it holds
    snap = page.click('#agency-table tr[data-agency="bkk-drains"] button')
    assert int(snap["total"]) == count(world, owner="bkk-drains") == 8
    assert shaded(snap) == {"10": 8} and snap["category"] == {"drainage": 8}
    snap = page.click("#reset")

    # the monthly trend is asked for when its panel opens; a month is a date range
    browser.find_element(By.CSS_SELECTOR, "#month-panel summary").click()
    months = page.wait(lambda s: s["month"])["month"]
    by_month = world.api("/v1/index/stats", group_by="month")["groups"]
    assert months == {g["month"]: g["count"] for g in by_month} and sum(months.values()) == 36
    month = max(months)
    snap = page.click(f'#chart-month .bar-row[data-key="{month}"]')
    assert browser.find_element(By.NAME, "reported_from").get_attribute("value") == f"{month}-01"
    year, mm = (int(x) for x in month.split("-"))
    after = f"{year + mm // 12}-{mm % 12 + 1:02d}-01T00:00:00+07:00"
    in_month = count(world, reported_from=f"{month}-01T00:00:00+07:00", reported_to=after)
    assert int(snap["total"]) == in_month == months[month]
    snap = page.click("#reset")

    # the breached cases, and only them, exported as the analyst sees them
    snap = page.choose("sla_breached", "true")
    breached = {cid for cid, c in world.cases.items() if c.get("breached")}
    assert int(snap["total"]) == len(breached) == 6
    assert set(snap["caseRows"]) == breached
    browser.find_element(By.CSS_SELECTOR, '[data-export="csv-bom"]').click()
    exported = _downloaded(downloads, ".csv")
    raw = exported.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the Thai
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["case_id"] for r in rows} == breached
    assert not any(p in raw.decode("utf-8-sig") for p in PLANTED)
    snap = page.click("#reset")

    # Thai text search: a few characters of one subject
    subject = world.api("/v1/index/cases/" + world.planted_case)["subject"]
    needle = subject[3:9]
    before = page.snapshot()
    box = browser.find_element(By.NAME, "q")
    box.send_keys(needle)
    snap = page.redrawn(before)
    assert int(snap["total"]) == count(world, q=needle) >= 1
    assert world.planted_case in snap["caseRows"]

    # -- drill-down: the case with planted personal data, its redacted timeline
    browser.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{world.planted_case}"] button').click()
    WebDriverWait(browser, 20).until(
        lambda d: (
            d.execute_script("return document.querySelector('#case-dialog').dataset.state")
            == "ready"
        )
    )
    detail = world.api("/v1/index/cases/" + world.planted_case)
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#case-timeline li')].map((li) => li.dataset.type)"
    )
    assert shown == [e["type"] for e in detail["timeline"]] and len(shown) >= 2
    dialog_text = browser.find_element(By.ID, "case-dialog").text
    assert world.planted_case in dialog_text
    page.screenshot(artifacts / f"dashboard-case-{backend}.png")
    browser.find_element(By.ID, "case-close").click()
    html = browser.page_source
    leaks = [html[max(0, i - 80) : i + 40] for p in PLANTED if (i := html.find(p)) >= 0]
    assert leaks == [], "personal data reached the page"

    # -- English labels, same numbers
    before = page.snapshot()
    browser.find_element(By.ID, "lang").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "National complaints overview"
    assert page.snapshot()["total"] == before["total"]

    assert page.console_errors() == [], "the console logged errors"


def _downloaded(folder: Path, suffix: str, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done and not any(p.suffix == ".crdownload" for p in folder.iterdir()):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} download in {folder}: {list(folder.iterdir())}")


def test_the_browser_signs_tokens_the_hub_accepts_with_both_algorithms(
    browser: Any, dash_server: DashServer
) -> None:
    """WebCrypto's Ed25519 and P-256 signatures, as the page makes them, pass the hub's
    own verifier (an authenticated endpoint that predates the index) and PyJWT's; a token
    used twice is refused; a public key file is refused before anything is sent; the
    private key never leaves the browser, and is kept for the tab only when asked."""
    page = Dashboard(browser, dash_server.base_url)
    page.open()
    probe = """
const [text, done] = arguments;
(async () => {
  const auth = await import('/dashboard/static/js/auth.js');
  const api = await import('/dashboard/static/js/api.js');
  const meta = await api.loadMeta();
  const signer = await auth.importJwk(text);
  const now = Date.now() + meta.clockOffset;
  const token = await signer.token({audience: meta.audience, lifetime: 60, now});
  const call = () => fetch('/v1/cases', {headers: {Authorization: `Bearer ${token}`}});
  const first = await call();
  const again = await call();
  return {token, first: first.status, again: again.status, problem: (await again.json()).detail};
})().then(done, (e) => done({error: `${e.name}: ${e.message}`}));
"""
    for path, alg in ((dash_server.analyst_key, "EdDSA"), (dash_server.analyst_es256_key, "ES256")):
        jwk = json.loads(path.read_text())
        answer = browser.execute_async_script(probe, path.read_text())
        assert "error" not in answer, answer
        assert (answer["first"], answer["again"]) == (200, 401), answer
        assert "already used" in answer["problem"]
        key, _ = load_public_jwk({k: v for k, v in jwk.items() if k != "d"})
        assert jwt.get_unverified_header(answer["token"]) == {
            "alg": alg,
            "kid": jwk["kid"],
            "typ": "JWT",
        }
        claims = jwt.decode(answer["token"], key, algorithms=[alg], audience="hub")
        assert claims["iss"] == jwk["kid"].split("/")[0]
        assert claims["exp"] - claims["iat"] == 60 and len(claims["jti"]) == 36
    assert [e["source"] for e in page.console_errors()] == ["network", "network"]  # the replays

    public = dash_server.analyst_key.with_name("opdc.public.jwk")
    page.load_key(public)
    snap = page.wait(lambda s: s["state"] == "error" and s["inflight"] == 0)
    assert "public key" in snap["alert"]
    assert page.console_errors() == []  # refused in the page: no request was made

    # the ES256 analyst uses the whole page, and asks for the key to be kept for the tab
    browser.find_element(By.ID, "key-remember").click()
    page.load_key(dash_server.analyst_es256_key)
    snap = page.wait(
        lambda s: s["state"] == "ready" or (s["state"] == "error" and not s["inflight"])
    )
    assert snap["state"] == "ready" and snap["signedAs"] == "ombudsman", snap["alert"]
    assert snap["total"] == "0"
    browser.refresh()
    snap = page.wait(lambda s: s["state"] in ("ready", "need-key", "error"))
    assert snap["state"] == "ready" and snap["signedAs"] == "ombudsman"
    browser.find_element(By.ID, "key-forget").click()
    stored = browser.execute_script("return sessionStorage.getItem('hub.dashboard.jwk')")
    snap = page.snapshot()
    assert snap["state"] == "need-key" and stored is None
    assert snap["total"] == "" and snap["caseRows"] == [] and snap["signedAs"] == ""
    assert page.console_errors() == []

    # the map's legend says which counts each shade means: check it for many maxima
    mismatches = browser.execute_async_script(LEGEND_PROBE)
    assert mismatches == []

    secrets = [
        json.loads(p.read_text())["d"]
        for p in (dash_server.analyst_key, dash_server.analyst_es256_key)
    ]
    sent = [json.dumps(e) for e in _requests(browser)]
    assert len(sent) > 10 and not any(d in r for d in secrets for r in sent)


LEGEND_PROBE = """
const done = arguments[0];
import('/dashboard/static/js/map.js').then(({ classOf, classRanges, CLASSES }) => {
  const bad = [];
  for (const max of [1, 2, 3, 4, 5, 7, 10, 24, 99, 100, 1000, 4096, 123457]) {
    const ranges = classRanges(max);
    const step = Math.max(1, Math.floor(max / 3000));
    for (let c = 1; c <= max; c += step) {
      const k = classOf(c, max);
      const [from, to] = ranges[k - 1];
      if (k < 1 || k > CLASSES || c < from || c > to) bad.push({ max, c, k, from, to });
    }
    if (classOf(max, max) !== CLASSES || classOf(0, max) !== 0) bad.push({ max, edge: true });
  }
  done(bad.slice(0, 5));
}, (e) => done([String(e)]));
"""


def _requests(browser: Any) -> list[dict[str, Any]]:
    """Every request the page made (URL, headers, body), from Chromium's network log."""
    out = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            out.append(message["params"]["request"])
    return out

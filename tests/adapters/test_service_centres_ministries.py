"""The Damrongdhama and ministry services in one process: their REST simulators (WSGI), a
real hub app, one cycle at a time. ``actor`` (national area) takes every case and acts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from adapters.damrongdhama.adapter import fixtures as centre_fixtures
from adapters.damrongdhama.client import DamrongdhamaClient
from adapters.damrongdhama.mapping import REFERENCE
from adapters.damrongdhama.service import DamrongdhamaSource
from adapters.damrongdhama.simulator import create_simulator as centre_simulator
from adapters.ministry.adapter import fixtures as ministry_fixtures
from adapters.ministry.client import MinistryClient
from adapters.ministry.config import ministry
from adapters.ministry.mapping import get_path
from adapters.ministry.service import MinistrySource
from adapters.ministry.simulator import create_simulator as ministry_simulator
from adapters.service.runner import Service
from adapters.service.source import Source
from adapters.service.state import StateStore
from adapters.service.web import create_app
from tests.adapters.service_support import case_of, complaints, offered, resolve


def service(source: Source, agency, tmp_path: Path, name: str) -> Service:
    store = StateStore.open(
        tmp_path / f"{name}.sqlite", adapter=name, agency=agency.code, native="sim"
    )
    return Service(source, agency.client, store, interval=0)


@pytest.fixture
def actor(agencies):
    return agencies.enrol("actor", areas=["TH"])


def test_a_centre_record_reaches_the_hub_and_its_resolution_comes_back(
    agencies, hub, actor, tmp_path
) -> None:
    centre = agencies.enrol("dc-50", kind="damrongdhama_centre", areas=[])
    rows = [r for n, r in centre_fixtures() if not n.startswith("api/")]
    app = centre_simulator(rows)
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim")
    run = service(
        DamrongdhamaSource(DamrongdhamaClient(http, api_key="centre-secret"), "dc-50"),
        centre,
        tmp_path,
        "damrongdhama",
    )
    run.cycle(pull=True)
    with hub.transaction() as s:
        assert complaints(s, "damrongdhama") == sorted(r["เลขที่เรื่อง"] for r in rows)
        case = case_of(s, "damrongdhama", "DC50-2567-00017")
    assert case is not None and case.id in offered(actor.client)
    resolve(actor.client, case.id, "มอบเงินช่วยเหลือแล้ว")
    run.cycle(pull=True)
    record = app.extensions["damrongdhama_store"]["DC50-2567-00017"]
    assert record[REFERENCE.columns["status"]] == "ยุติเรื่อง"
    assert record[REFERENCE.columns["note"]] == "มอบเงินช่วยเหลือแล้ว"
    changed = run.counts["changed"]
    run.cycle(pull=True)
    assert run.counts["changed"] == changed  # its own update is not news
    assert run.store.report()["outbox"]["refused"] == 0


def test_a_ministry_record_reaches_the_hub_and_its_resolution_comes_back(
    agencies, hub, actor, tmp_path
) -> None:
    m = ministry("moph")
    moph = agencies.enrol("moph", kind="ministry", areas=[])
    records = [r for _, r in ministry_fixtures(m)]
    app = ministry_simulator(m, records)
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim")
    source = MinistrySource(MinistryClient(http, m, token="ministry-secret"), "moph")
    run = service(source, moph, tmp_path, "ministry:moph")
    run.cycle(pull=True)
    refs = sorted(str(get_path(r, m.fields["ref"])) for r in records)
    with hub.transaction() as s:
        assert complaints(s, "ministry_moph") == refs
        case = case_of(s, "ministry_moph", refs[0])
    assert case is not None and case.id in offered(actor.client)
    resolve(actor.client, case.id, "ปรับปรุงสุขลักษณะร้านแล้ว")
    run.cycle(pull=True)
    stored = app.extensions["ministry_store"][refs[0]]
    assert m.tables["status"][get_path(stored, m.fields["status"])] == "resolved"
    assert get_path(stored, m.fields["note"]) == "ปรับปรุงสุขลักษณะร้านแล้ว"
    changed = run.counts["changed"]
    run.cycle(pull=True)
    assert run.counts["changed"] == changed


def test_a_push_ministry_s_posted_record_is_read_and_sent_at_once(agencies, hub, tmp_path) -> None:
    m = ministry("moph")
    moph = agencies.enrol("moph", kind="ministry", areas=[])
    agencies.enrol("actor", areas=["TH"])
    records = [r for _, r in ministry_fixtures(m)]
    app = ministry_simulator(m, records[:1])
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim")
    run = service(
        MinistrySource(MinistryClient(http, m, token="ministry-secret"), "moph"),
        moph,
        tmp_path,
        "ministry:moph",
    )
    run.cycle()
    later = records[1]
    ref = str(get_path(later, m.fields["ref"]))
    app.extensions["ministry_store"][ref] = later  # filed in the ministry's system...
    web = create_app(run).test_client()
    posted = web.post("/webhooks/ministry", json=later)  # ...and pushed to the service
    assert posted.status_code == 202 and posted.get_json() == {"queued": 1}
    run.cycle()
    with hub.transaction() as s:
        assert ref in complaints(s, "ministry_moph")

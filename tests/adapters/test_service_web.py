"""The service's HTTP side: the hub's real signed forwards posted to its receiver, Traffy's
webhooks with and without the shared secret, and 503 + Retry-After while Traffy is down."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.service.runner import Service
from adapters.service.state import StateStore
from adapters.service.web import create_app
from adapters.traffy_fondue.adapter import api_fixtures
from adapters.traffy_fondue.client import TraffyClient
from adapters.traffy_fondue.service import TraffySource
from adapters.traffy_fondue.simulator import create_simulator
from hub.exchange.jws import parse_compact
from tests.adapters.service_support import offered, resolve


@pytest.fixture
def setup(agencies, tmp_path, clock):
    bma = agencies.enrol("bma", areas=["10"], categories=["road"])
    district = agencies.enrol("bkk-district", areas=["TH"])
    sim = create_simulator(api_fixtures(), users={"hub": "pw"})
    http = httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://sim")
    source = TraffySource(
        TraffyClient(http, user="hub", password="pw"), "bma", duration="all", clock=clock
    )
    store = StateStore.open(
        tmp_path / "s.sqlite", adapter="traffy_fondue", agency="bma", native="sim"
    )
    service = Service(source, bma.client, store, interval=0)
    service.cycle()
    app = create_app(service, webhook_secret="s3cret")
    return service, app.test_client(), bma, district, sim


def forwards_to_bma(bma) -> list[str]:
    """What the hub would push to bma: its inbox, not acknowledged."""
    return [m["jws"] for m in bma.client.pull()]


def test_a_hub_push_is_applied_and_answered_with_a_signed_ack(setup) -> None:
    service, web, bma, district, sim = setup
    case = next(iter(offered(district.client)))
    resolve(district.client, case, "เสร็จแล้ว")
    pushes = forwards_to_bma(bma)
    assert len(pushes) == 2  # the acceptance, then the resolution
    for jws in pushes:
        answer = web.post("/hub/messages", data=jws, content_type="application/jose")
        assert answer.status_code == 200
        ack = parse_compact(answer.get_data(as_text=True))
        assert ack.header["kid"] == bma.kid
    again = web.post("/hub/messages", data=pushes[-1], content_type="application/jose")
    assert again.status_code == 200  # a repeat is acknowledged, not applied twice
    issue = sim.extensions["traffy_store"].issues
    ref = service.store.refs_for_case(case)[0]
    assert [t["note"] for t in issue[ref]["timeline"]].count("เสร็จแล้ว") == 1


def test_while_traffy_is_down_the_hub_is_told_to_come_back_later(setup) -> None:
    service, web, bma, district, sim = setup
    case = next(iter(offered(district.client)))
    district.client.send("case.accept", {"case_id": case})
    [push] = forwards_to_bma(bma)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    working = service.source.client.http
    service.source.client.http = httpx.Client(transport=httpx.MockTransport(down))
    answer = web.post("/hub/messages", data=push, content_type="application/jose")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    forward_id = json.loads(parse_compact(push).payload)["id"]
    assert service.store.inbound(forward_id) == "pushing"  # in doubt until the hub retries
    service.source.client.http = working
    assert web.post("/hub/messages", data=push, content_type="application/jose").status_code == 200
    assert service.store.inbound(forward_id) == "done"
    ref = service.store.refs_for_case(case)[0]
    assert sim.extensions["traffy_store"].issues[ref]["state"] == "รับเรื่อง"


def test_webhooks_need_the_secret_and_name_tickets_to_read(setup) -> None:
    service, web, *_ = setup
    call = {"event": "status_change", "ticket_id": "JGKLY8"}
    assert web.post("/webhooks/traffy_fondue", json=call).status_code == 401
    wrong = web.post("/webhooks/traffy_fondue", json=call, headers={"X-Webhook-Secret": "no"})
    assert wrong.status_code == 401
    ok = web.post("/webhooks/traffy_fondue", json=call, headers={"X-Webhook-Secret": "s3cret"})
    assert ok.status_code == 202 and ok.get_json() == {"queued": 1}
    assert service.wake.is_set()
    nothing = web.post(
        "/webhooks/traffy_fondue", json={"event": "ping"}, headers={"X-Webhook-Secret": "s3cret"}
    )
    assert nothing.status_code == 200 and nothing.get_json() == {"queued": 0}
    health = web.get("/health").get_json()
    assert health["adapter"] == "traffy_fondue" and health["counts"]["new"] == 4


def test_the_simulators_serve_their_fixtures_for_a_try_out() -> None:
    from adapters.simulate import app_for

    traffy = app_for("traffy_fondue", "http://127.0.0.1:9/webhooks/traffy_fondue").test_client()
    token = traffy.post("/get-auth/v1", json={"user": "hub", "pass": "hub-secret"})
    assert token.status_code == 200
    bearer = {"Authorization": f"Bearer {json.loads(token.data)['results']['token']}"}
    listed = json.loads(traffy.get("/get-issues/v2", headers=bearer).data)["results"]
    assert len(listed) == len(api_fixtures())
    moph = app_for("ministry:moph", None).test_client()
    assert (
        moph.get("/complaints", headers={"Authorization": "Bearer ministry-secret"}).status_code
        == 200
    )

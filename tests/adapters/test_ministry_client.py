"""The ministry client against each ministry's simulator, and failures, through one seam."""

from __future__ import annotations

import httpx
import pytest

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.ministry.adapter import ADAPTERS
from adapters.ministry.client import MinistryClient
from adapters.ministry.config import load

MINISTRIES = load()


def simulated(code: str, token: str = "ministry-secret") -> MinistryClient:
    http = httpx.Client(
        transport=httpx.WSGITransport(app=ADAPTERS[code].simulator()), base_url="http://simulator"
    )
    return MinistryClient(http, MINISTRIES[code], token=token)


@pytest.mark.parametrize("code", sorted(MINISTRIES))
def test_poll_update_and_fetch_against_the_ministry_simulator(code: str) -> None:
    adapter, client = ADAPTERS[code], simulated(code)
    records = list(client.poll())
    assert records
    ref = adapter.ref_of(records[0])
    event = {"type": "case.status", "id": "h1", "issuer": "hub", "body": {"note": "กำลังตรวจสอบ"}}
    client.push(adapter.from_hub(event, ref))
    assert adapter.status_of(client.fetch(ref)) == "in_progress"


@pytest.mark.parametrize("code", ["moph", "rtp"])
def test_a_create_is_idempotent_and_never_polled_back(code: str) -> None:
    adapter, client = ADAPTERS[code], simulated(code)
    before = list(client.poll())
    complaint = ADAPTERS["mdes"].to_hub(ADAPTERS["mdes"].natives()[0])  # online fraud, web
    call = adapter.from_hub({"type": "complaint.submit", "id": "h2", "body": complaint}, "")
    first, again = client.push(call), client.push(call)
    assert adapter.ref_of(first) == adapter.ref_of(again)
    assert len(list(client.poll())) == len(before)


def test_a_wrong_token_is_auth_failed() -> None:
    with pytest.raises(AuthFailed):
        simulated("mol", token="wrong").records()


def test_an_unknown_status_label_is_refused_by_the_ministry() -> None:
    client = simulated("moj")
    with pytest.raises(Refused, match="unknown status"):
        client.update("MOJ-2567-004512", {"progress": {"status": "LOST"}})


def canned(handler) -> MinistryClient:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ministry")
    return MinistryClient(http, MINISTRIES["moph"], token="t")


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (lambda r: httpx.Response(502, text="bad gateway"), Unavailable),
        (lambda r: httpx.Response(200, text="not json"), BadAnswer),
        (lambda r: httpx.Response(200, json={"result": {}}), BadAnswer),
        (lambda r: httpx.Response(403, json={"error": "no"}), AuthFailed),
    ],
    ids=["5xx", "not-json", "no-rows-at-list-key", "403"],
)
def test_failures_become_adapter_errors(handler, error) -> None:
    with pytest.raises(error):
        canned(handler).records()


def test_a_timeout_is_unavailable_and_chained() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(Unavailable, match="timed out") as caught:
        canned(slow).record("MOPH-1")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_the_auth_header_and_paths_come_from_config() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"result": {"rows": []}})

    assert canned(answer).records() == []
    assert seen[0].url.path == "/complaints" and seen[0].headers["Authorization"] == "Bearer t"

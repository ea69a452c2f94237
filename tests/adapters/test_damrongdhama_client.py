"""The centre REST client against the simulator and against failures, through its one seam."""

from __future__ import annotations

import httpx
import pytest

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.damrongdhama import ADAPTER
from adapters.damrongdhama.client import DamrongdhamaClient
from adapters.damrongdhama.mapping import status_of, to_hub
from adapters.damrongdhama.updates import from_hub


def simulated(api_key: str = "centre-secret") -> DamrongdhamaClient:
    http = httpx.Client(
        transport=httpx.WSGITransport(app=ADAPTER.simulator()), base_url="http://simulator"
    )
    return DamrongdhamaClient(http, api_key=api_key)


def canned(handler) -> DamrongdhamaClient:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://centre")
    return DamrongdhamaClient(http, api_key="k")


def test_poll_fetch_and_an_update_round_the_simulator() -> None:
    client = simulated()
    records = list(client.poll())
    assert len(records) == 6
    ref = records[1]["เลขที่เรื่อง"]
    event = {"type": "case.accept", "id": "h1", "issuer": "dc-50", "body": {"note": "รับแล้ว"}}
    client.push(from_hub(event, ref))
    record = client.fetch(ref)
    assert status_of(record) == "accepted" and record["ผลการดำเนินการ"] == "รับแล้ว"


def test_a_complaint_from_elsewhere_is_created_once_and_never_polled_back() -> None:
    client = simulated()
    complaint = to_hub(next(iter(client.poll())))
    complaint["origin"] = {"agency": "opm1111", "system": "ops1111", "ref": "1111-9"}
    call = from_hub({"type": "complaint.submit", "id": "h2", "body": complaint}, "")
    first, again = client.push(call), client.push(call)
    assert first["เลขที่เรื่อง"] == again["เลขที่เรื่อง"]
    assert len(list(client.poll())) == 6


def test_a_wrong_key_is_auth_failed() -> None:
    with pytest.raises(AuthFailed):
        simulated("wrong").cases()


def test_an_unknown_record_is_refused() -> None:
    with pytest.raises(Refused, match="no such case"):
        simulated().fetch("DC99-0000-00000")


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (lambda r: httpx.Response(503, text="maintenance"), Unavailable),
        (lambda r: httpx.Response(200, text="<html>login</html>"), BadAnswer),
        (lambda r: httpx.Response(200, json={"items": "none"}), BadAnswer),
    ],
    ids=["5xx", "html-page", "no-list"],
)
def test_failures_become_adapter_errors(handler, error) -> None:
    with pytest.raises(error):
        canned(handler).cases()


def test_a_network_failure_is_unavailable_and_chained() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Unavailable) as caught:
        canned(refuse).case("DC50-1")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_refs_with_thai_letters_and_slashes_are_quoted() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"item": {"เลขที่เรื่อง": "ชม 0017/2567"}})

    canned(record).case("ชม 0017/2567")
    assert "/" not in seen[0].removeprefix("/api/v1/cases/")

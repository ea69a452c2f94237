"""The partner-API client against the simulator (WSGI) and scripted faults (MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.traffy_fondue import FIXTURES
from adapters.traffy_fondue.adapter import api_fixtures
from adapters.traffy_fondue.client import TraffyClient, parse_answer
from adapters.traffy_fondue.simulator import create_simulator


def simulated(**kwargs) -> tuple[TraffyClient, dict]:
    app = create_simulator(api_fixtures(), users={"hub": "pw"}, **kwargs)
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://simulator")
    return TraffyClient(http, user="hub", password="pw"), app.extensions["traffy_store"].issues


def scripted(handler) -> TraffyClient:
    return TraffyClient(
        httpx.Client(transport=httpx.MockTransport(handler), base_url="http://t"),
        user="u",
        password="p",
    )


def test_poll_gives_every_issue_in_full() -> None:
    client, _ = simulated()
    polled = list(client.poll())
    assert len(polled) == 4
    assert all("orgs" in i and "timeline" in i for i in polled)


def test_new_issue_is_idempotent_on_client_ticket_id_and_left_out_of_poll() -> None:
    client, issues = simulated()
    payload = {
        "latitude": 13.7,
        "longitude": 100.5,
        "client_ticket_id": "hub/ops1111:1",
        "extra_detail": "x",
        "category_name_th": "ถนน",
    }
    first = client.new_issue(payload)
    assert client.new_issue(payload) == first
    assert len(issues) == 5
    assert first not in {i["ticket_id"] for i in client.poll()}


def test_update_issue_changes_state_and_requires_a_note() -> None:
    client, issues = simulated()
    client.update_issue({"ticket_id": "JGKLY8", "state_name": "กำลังดำเนินการ", "note": "รับเรื่องแล้ว"})
    assert (issues["JGKLY8"]["state"], issues["JGKLY8"]["state_type"]) == (
        "กำลังดำเนินการ",
        "inprogress",
    )
    assert issues["JGKLY8"]["timeline"][-1]["note"] == "รับเรื่องแล้ว"
    with pytest.raises(Refused, match="note is required"):
        client.update_issue({"ticket_id": "JGKLY8", "state_name": "เสร็จสิ้น"})


def test_join_forward_adds_the_org_and_its_loop_guard_refuses() -> None:
    client, issues = simulated()
    client.push(
        {
            "op": "join-forward/v1",
            "payload": {
                "ticket_id": "JGKLY8",
                "destination_group": [2002],
                "scenario": 2,
                "note": "ส่งต่อ กปน.",
                "recursive_counter": 1,
            },
        }
    )
    assert issues["JGKLY8"]["state"] == "ส่งต่อ"
    assert issues["JGKLY8"]["orgs"][-1]["org_id"] == 2002
    with pytest.raises(Refused, match="loop"):
        client.join_forward(
            {
                "ticket_id": "JGKLY8",
                "destination_group": [2002],
                "scenario": 2,
                "note": "x",
                "recursive_counter": 6,
            }
        )


def test_answers_after_stray_warning_text_are_understood() -> None:
    client, _ = simulated(stray_warning=True)
    assert client.issue("JGKLY8")["ticket_id"] == "JGKLY8"


def test_stray_warning_fixture_parses() -> None:
    text = (FIXTURES / "api" / "get-issues-v2_answer_after_stray_php_warning.txt").read_text(
        encoding="utf-8"
    )
    assert parse_answer(text)["results"][0]["ticket_id"] == "JGKLY8"


def test_wrong_password_is_auth_failed() -> None:
    client, _ = simulated()
    client.password = "wrong"
    with pytest.raises(AuthFailed):
        client.issues()


def test_expired_token_logs_in_again_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/get-auth/v1":
            return httpx.Response(
                200, json={"status": "success", "results": {"token": f"t{len(calls)}"}}
            )
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(401, json={"status": "fail", "message": "expired"})
        return httpx.Response(200, json={"status": "success", "results": []})

    assert scripted(handler).issues() == []
    assert calls == ["/get-auth/v1", "/get-issues/v2", "/get-auth/v1", "/get-issues/v2"]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(503, text="upstream down"), Unavailable),
        (httpx.Response(200, text="<html>maintenance</html>"), BadAnswer),
        (httpx.Response(200, json={"status": "fail", "message": "no"}), Refused),
        (httpx.Response(200, json={"status": "odd"}), BadAnswer),
    ],
)
def test_bad_answers_become_typed_errors(answer: httpx.Response, error: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/get-auth/v1":
            return httpx.Response(200, json={"status": "success", "results": {"token": "t"}})
        return answer

    with pytest.raises(error) as raised:
        scripted(handler).issue("X")
    assert raised.value.system == "traffy_fondue"


def test_network_failure_is_unavailable_and_keeps_its_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unavailable) as raised:
        scripted(handler).issues()
    assert isinstance(raised.value.__cause__, httpx.ConnectError)

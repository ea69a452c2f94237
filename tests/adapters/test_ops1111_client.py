"""The CoreService client against the simulator (WSGI) and scripted faults (MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.ops1111 import FIXTURES, soap
from adapters.ops1111.adapter import raw_cases
from adapters.ops1111.client import Ops1111Client
from adapters.ops1111.mapping import status_of
from adapters.ops1111.simulator import create_simulator
from adapters.ops1111.updates import from_hub
from tests.support.clock import FakeClock

Handler = Callable[[httpx.Request], httpx.Response]


def simulated(
    cases: list[dict[str, Any]] | None = None, **kwargs: Any
) -> tuple[Ops1111Client, dict[int, dict[str, Any]], list[str]]:
    app = create_simulator(
        [c for _, c in raw_cases()] if cases is None else cases, users={"hub": "pw"}, **kwargs
    )
    calls: list[str] = []
    wsgi = httpx.WSGITransport(app=app)

    def counting(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["SOAPAction"].strip('"').rsplit("/", 1)[-1])
        return wsgi.handle_request(request)

    http = httpx.Client(transport=httpx.MockTransport(counting), base_url="http://simulator")
    client = Ops1111Client(http, username="hub", password="pw", page_size=2)
    return client, app.extensions["ops1111_store"].cases, calls


def scripted(handler: Handler) -> Ops1111Client:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://core")
    return Ops1111Client(http, username="u", password="p")


def answer(operation: str, result: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=soap.response(operation, result))


def ok(operation: str, data: Any) -> httpx.Response:
    return answer(operation, {"success": True, "code": 200, "message": "", "data": data})


def operation_of(request: httpx.Request) -> str:
    return request.headers["SOAPAction"].strip('"').rsplit("/", 1)[-1]


def test_poll_gives_every_case_in_full_with_area_names_paged_by_take() -> None:
    client, _, calls = simulated()
    polled = list(client.poll())
    assert len(polled) == 5
    assert all("operatings" in c and "area_names" in c for c in polled)
    assert calls.count("GetCases") == 3  # 2 + 2 + 1 with take=2
    assert calls.count("GetToken") == 1


def test_polling_is_incremental_and_sees_a_case_changed_since() -> None:
    clock = FakeClock(datetime(2024, 11, 10, 3, 0, tzinfo=UTC))
    client, _, _ = simulated(clock=clock)
    assert len(list(client.poll())) == 5
    assert list(client.poll()) == []
    client.add_operating("6710-004410", {"terminal_org_id": 102, "detail": "ส่ง กปน."})
    again = list(client.poll())
    assert [c["case_code"] for c in again] == ["6710-004410"]
    assert client.watermark == "2024-11-10 10:00:00"


def test_cases_updated_in_the_same_second_are_neither_lost_nor_repeated() -> None:
    base = next(c for _, c in raw_cases() if c["case_code"] == "6711-000123")
    same = [base | {"case_id": 1000 + i, "case_code": f"6711-9{i:05d}"} for i in range(5)]
    client, _, calls = simulated(same)
    assert sorted(c["case_code"] for c in client.poll()) == sorted(c["case_code"] for c in same)
    skips = [c for c in calls if c == "GetCases"]
    assert len(skips) == 3
    assert list(client.poll()) == []


def test_cases_the_hub_created_are_not_polled_back() -> None:
    client, cases, _ = simulated()
    payload = {
        "case_code": "HUB-traffy:2023-FCX4QQ",
        "type_id": 1,
        "status_id": 1,
        "organization_id": 900,
        "channel_id": 12,
        "detail": "สะพานลอยชำรุด",
    }
    first = client.add_case(payload, "100402")
    assert client.add_case(payload, "100402") == first  # idempotent on case_code
    assert cases[first]["subdistrict_id"] == 100402
    assert "HUB-traffy:2023-FCX4QQ" not in {c["case_code"] for c in client.poll()}


def test_a_hub_status_note_becomes_an_operating_and_moves_the_case_on() -> None:
    client, _, _ = simulated()
    event = {"type": "case.status", "id": "bma-1", "issuer": "bma", "body": {"note": "ซ่อมอยู่"}}
    client.push(from_hub(event, "6710-004410"))
    case = client.fetch("6710-004410")
    assert status_of(case) == "in_progress"
    assert case["operatings"][-1]["terminal_org_id"] == 101


def test_a_resolution_sets_the_summary_and_a_closed_case_takes_no_operating() -> None:
    client, _, _ = simulated()
    resolve = {"type": "case.resolve", "id": "bma-2", "issuer": "bma"}
    resolve["body"] = {"outcome": "fixed", "summary": "ซ่อมแล้ว"}
    client.push(from_hub(resolve, "6711-000123"))
    case = client.fetch("6711-000123")
    assert status_of(case) == "resolved" and case["summary"]["result"] == "ซ่อมแล้ว"
    with pytest.raises(Refused, match="409"):
        client.add_operating("6711-000123", {"terminal_org_id": 101, "detail": "x"})


def test_an_official_letter_is_attached_to_an_operating() -> None:
    client, cases, _ = simulated()
    letter = {"letter_no": "นร 0105/1", "letter_date": "2024-11-07", "file_name": "a.pdf"}
    client.operating_attachment(5502, letter)
    assert cases[880123]["operatings"][1]["attachments"][-1] == letter
    with pytest.raises(Refused, match="404"):
        client.operating_attachment(1, letter)


def test_code_lists_come_from_list_of_values_and_are_all_mapped() -> None:
    client, _, _ = simulated()
    assert client.code_lists().row("GetProvinces", 38)["name"] == "จังหวัดเชียงใหม่"
    assert client.unmapped_codes() == []


def test_expired_tokens_log_in_again_once_and_release_ends_the_session() -> None:
    clock = FakeClock(datetime(2024, 11, 10, 3, 0, tzinfo=UTC))
    client, _, calls = simulated(clock=clock)
    client.fetch("6711-000123")
    clock.advance(hours=2)
    client.fetch("6711-000123")
    assert calls == ["GetToken", "GetCase", *client_lists(), "GetCase", "GetToken", "GetCase"]
    with client:
        pass
    assert calls[-1] == "ReleaseToken" and client._token is None


def client_lists() -> list[str]:
    from adapters.ops1111.codelists import LIST_OPERATIONS

    return list(LIST_OPERATIONS)


def test_a_token_refused_twice_is_auth_failed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        op = operation_of(request)
        if op == "GetToken":
            return ok(op, {"token": "t"})
        return answer(op, {"success": False, "code": 401, "message": "Token หมดอายุ"})

    with pytest.raises(AuthFailed):
        scripted(handler).fetch("X")


def test_wrong_password_is_auth_failed() -> None:
    client, _, _ = simulated()
    client.password = "wrong"
    with pytest.raises(AuthFailed, match="403"):
        client.fetch("6711-000123")


def test_a_soapaction_the_service_does_not_know_is_a_client_fault() -> None:
    client, _, _ = simulated()
    response = client.http.post(
        "ManageCenter.asmx",
        content=soap.request("GetCasez", {}),
        headers={"SOAPAction": soap.action("GetCasez")},
    )
    with pytest.raises(Refused, match="SOAP fault Client"):
        soap.parse_response(response.content, "GetCasez", status=response.status_code)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(503, text="<html>Service Unavailable</html>"), Unavailable),
        (httpx.Response(401, text="Unauthorized"), AuthFailed),
        (httpx.Response(200, text="<html>maintenance</html>"), BadAnswer),
        (
            httpx.Response(
                500,
                content=(
                    FIXTURES / "soap" / "Fault_server_sql_timeout_echoing_citizen_id.xml"
                ).read_bytes(),
            ),
            Unavailable,
        ),
        (answer("GetCase", {"success": False, "code": 404, "message": "ไม่พบ"}), Refused),
        (answer("GetCase", {"success": False, "code": 500, "message": "db"}), Unavailable),
        (answer("GetCase", {"data": 1}), BadAnswer),
        (ok("GetCase", {"no": "case"}), BadAnswer),
    ],
)
def test_bad_answers_become_typed_errors(response: httpx.Response, error: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return ok("GetToken", {"token": "t"}) if operation_of(request) == "GetToken" else response

    with pytest.raises(error) as raised:
        scripted(handler).fetch("X")
    assert raised.value.system == "ops1111"
    assert "1100800123456" not in str(raised.value)


def test_network_failure_is_unavailable_and_keeps_its_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unavailable) as raised:
        scripted(handler).fetch("X")
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_a_double_encoding_service_is_understood() -> None:
    client, _, _ = simulated(double_encode=True)
    assert client.fetch("6711-000123")["case_code"] == "6711-000123"


def test_push_knows_only_coreservice_operations() -> None:
    client, _, _ = simulated()
    with pytest.raises(Refused):
        client.push({"op": "DropTable"})

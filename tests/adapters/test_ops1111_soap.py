"""SOAP 1.1 envelopes for 1111's CoreService: build, parse, faults (pure, no HTTP)."""

from __future__ import annotations

import pytest

from adapters.base import BadAnswer, Refused, Unavailable
from adapters.ops1111 import FIXTURES, soap

SOAP_DIR = FIXTURES / "soap"


def fixture(name: str) -> bytes:
    return (SOAP_DIR / name).read_bytes()


def test_request_round_trips_through_the_simulator_side_parser() -> None:
    params = {"token": "t", "case_id": 880123, "detail": "ส่ง <กปน.> & ตรวจ", "date_closed": None}
    operation, parsed = soap.parse_request(soap.request("AddOperating", params))
    assert operation == "AddOperating"
    assert parsed == {"token": "t", "case_id": "880123", "detail": "ส่ง <กปน.> & ตรวจ"}


def test_response_round_trips_the_json_string_inside_the_result() -> None:
    result = {"success": True, "code": 200, "data": [{"id": 1, "name": "ถนนชำรุด"}]}
    assert soap.parse_response(soap.response("GetCaseTypes", result), "GetCaseTypes") == result


def test_the_envelope_is_soap_1_1_with_the_operation_in_the_service_namespace() -> None:
    text = soap.request("GetToken", {"username": "hub"}).decode()
    assert text.startswith("<?xml")
    assert "http://schemas.xmlsoap.org/soap/envelope/" in text
    assert '<GetToken xmlns="http://tempuri.org/"><username>hub</username>' in text
    assert soap.action("GetToken") == '"http://tempuri.org/GetToken"'


def test_asmx_shaped_fixtures_parse() -> None:
    token = soap.parse_response(fixture("GetToken_response.xml"), "GetToken")
    assert token["data"]["token"] == "7f3c2a9e0b1d4c6f8a2e5b7d9c1f3a5e"
    cases = soap.parse_response(fixture("GetCases_response.xml"), "GetCases")["data"]
    assert [c["case_code"] for c in cases] == ["6711-000150", "6711-000161"]
    operation, params = soap.parse_request(fixture("GetCases_request_incremental_page_two.xml"))
    assert (operation, params["skip"], params["take"]) == ("GetCases", "1", "100")
    operation, params = soap.parse_request(fixture("AddOperating_request_forward_to_mwa.xml"))
    assert (operation, params["terminal_org_id"]) == ("AddOperating", "102")


def test_a_double_encoded_result_is_decoded_to_the_object() -> None:
    answer = soap.parse_response(fixture("GetCase_response_double_encoded_json.xml"), "GetCase")
    assert answer["data"]["case_code"] == "6710-004410"


@pytest.mark.parametrize(
    ("name", "error", "text"),
    [
        ("Fault_client_unknown_soapaction.xml", Refused, "SOAP fault Client"),
        ("Fault_server_sql_timeout_echoing_citizen_id.xml", Unavailable, "SOAP fault Server"),
    ],
)
def test_faults_become_typed_errors(name: str, error: type, text: str) -> None:
    with pytest.raises(error) as raised:
        soap.parse_response(fixture(name), "GetCase", status=500)
    assert text in str(raised.value)
    assert raised.value.system == "ops1111" and raised.value.status == 500


def test_a_citizen_id_echoed_in_a_fault_is_masked() -> None:
    with pytest.raises(Unavailable) as raised:
        soap.parse_response(fixture("Fault_server_sql_timeout_echoing_citizen_id.xml"), "GetCase")
    assert "1100800123456" not in str(raised.value)
    assert "**********456" in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        b"<html><body>Service Unavailable</body></html>",
        b"not xml at all",
        soap.response("GetCases", {"success": True}),  # the answer to another operation
        soap.response("GetCase", {}).replace(b"{}", b"{not json"),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    ],
)
def test_answers_that_are_not_what_was_asked_are_bad_answers(text: bytes) -> None:
    with pytest.raises(BadAnswer):
        soap.parse_response(text, "GetCase")


def test_a_request_that_is_not_soap_is_refused_by_the_parser() -> None:
    with pytest.raises(BadAnswer):
        soap.parse_request(b"<GetCase/>")

"""SOAP 1.1 as 1111's CoreService (ASMX) speaks it, both ways, with the standard library.

A request is ``<soap:Envelope><soap:Body><Op xmlns=NS><param>text</param>...</Op>`` posted as
``text/xml; charset=utf-8`` with ``SOAPAction: "NS/Op"``. The answer's
``<OpResponse><OpResult>`` holds a *JSON string* — ``{"success", "code", "message", "data"}``
— which :func:`parse_response` decodes (twice when the service double-encoded it). A SOAP
Fault (HTTP 500 from ASMX) becomes an :mod:`adapters.base` error: ``soap:Client`` → Refused,
``soap:Server`` → Unavailable. Error text is passed through :func:`~.mapping.redact`, since
a fault string may echo a citizen id.

XML from the other side is parsed only after refusing any DOCTYPE (no entity tricks), with
:mod:`xml.etree.ElementTree`; no new dependency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET

from adapters.base import AdapterError, BadAnswer, Refused, Unavailable
from adapters.ops1111.mapping import SYSTEM, redact

NS = "http://tempuri.org/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
CONTENT_TYPE = "text/xml; charset=utf-8"
Scalar = str | int | float | bool | None
ET.register_namespace("soap", SOAP_NS)


def action(operation: str) -> str:
    """The ``SOAPAction`` header value (quoted, as ASMX sends and expects it)."""
    return f'"{NS}{operation}"'


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _envelope(content: ET.Element) -> bytes:
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    ET.SubElement(envelope, f"{{{SOAP_NS}}}Body").append(content)
    text: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return text


def _in_service_namespace(name: str) -> ET.Element:
    """``<name xmlns=NS>``: its unprefixed children are in NS too, as ASMX writes them."""
    return ET.Element(name, {"xmlns": NS})


def request(operation: str, params: Mapping[str, Scalar]) -> bytes:
    """The SOAP request for ``operation``; ``None`` parameters are left out (ASMX: null)."""
    call = _in_service_namespace(operation)
    for name, value in params.items():
        if value is not None:
            ET.SubElement(call, name).text = _text(value)
    return _envelope(call)


def response(operation: str, result: Any) -> bytes:
    """The SOAP answer whose ``<OpResult>`` is ``result`` as a JSON string."""
    answer = _in_service_namespace(f"{operation}Response")
    ET.SubElement(answer, f"{operation}Result").text = json.dumps(result, ensure_ascii=False)
    return _envelope(answer)


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault; ``code`` is ``Client`` or ``Server``."""
    element = ET.Element(f"{{{SOAP_NS}}}Fault")
    ET.SubElement(element, "faultcode").text = f"soap:{code}"
    ET.SubElement(element, "faultstring").text = message
    ET.SubElement(element, "detail")
    return _envelope(element)


def _body(text: str | bytes, what: str) -> ET.Element:
    head = text[:512].lower() if isinstance(text, str) else text[:512].lower().decode("latin-1")
    if "<!doctype" in head or "<!entity" in head:
        raise BadAnswer(SYSTEM, f"{what}: a DOCTYPE is not accepted in SOAP")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise BadAnswer(SYSTEM, f"{what}: not XML ({exc})") from exc
    body = root.find(f"{{{SOAP_NS}}}Body")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or body is None or len(body) != 1:
        raise BadAnswer(SYSTEM, f"{what}: not a SOAP 1.1 envelope with one body element")
    return body[0]


def parse_request(text: str | bytes) -> tuple[str, dict[str, str]]:
    """(operation, parameters as text) of a SOAP request — the simulator's side."""
    call = _body(text, "request")
    operation = call.tag.split("}", 1)[-1]
    return operation, {child.tag.split("}", 1)[-1]: child.text or "" for child in call}


def fault_error(element: ET.Element, status: int) -> AdapterError:
    """The typed error for a ``soap:Fault`` element."""
    code = (element.findtext("faultcode") or "").split(":")[-1]
    message = redact(element.findtext("faultstring") or "SOAP fault")
    kind = Unavailable if code == "Server" else Refused
    return kind(SYSTEM, f"SOAP fault {code or '?'}: {message}", status=status)


def parse_response(text: str | bytes, operation: str, *, status: int = 200) -> Any:
    """The decoded JSON inside ``<OpResult>``; a Fault or a wrong shape raises."""
    element = _body(text, operation)
    if element.tag == f"{{{SOAP_NS}}}Fault":
        raise fault_error(element, status)
    result = element.find(f"{{{NS}}}{operation}Result")
    if element.tag != f"{{{NS}}}{operation}Response" or result is None:
        raise BadAnswer(SYSTEM, f"{operation}: answer is {element.tag}", status=status)
    decoded: Any = result.text or ""
    for _ in range(2):  # some ASMX services serialise the JSON string a second time
        if not isinstance(decoded, str):
            break
        try:
            decoded = json.loads(decoded)
        except ValueError as exc:
            excerpt = redact(str(decoded)[:120])
            raise BadAnswer(SYSTEM, f"{operation}: result is not JSON: {excerpt!r}") from exc
    return decoded

"""Open311 GeoReport v2 over HTTP (``open311.yaml``, mounted at ``/open311/v2``).

Thin handlers over :mod:`hub.open311`, the spec's two formats (JSON, XML), and the spec's
error list ``[{code, description}]`` for every error under ``/open311/``: the problem+json
renderers of :mod:`hub.api.problems` are wrapped, so there is still one error tree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from connexion import request
from connexion.lifecycle import ConnexionRequest, ConnexionResponse

from hub import open311
from hub.api.deps import Reply, hub

BASE = "/open311/"
XML = {"Content-Type": "text/xml"}
JSON = {"Content-Type": "application/json"}
# the spec's XML: root element and item element for each kind of answer
_XML_NAMES = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}

Renderer = Callable[[ConnexionRequest, Exception], ConnexionResponse]


def _lang() -> open311.Lang:
    return open311.pick_lang(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )


def _answer(kind: str, body: Any, response_format: str, status: int = 200) -> Reply:
    if response_format == "xml":
        return to_xml(kind, body), status, XML
    return body, status, JSON


def services(response_format: str, jurisdiction_id: str | None = None, **_: Any) -> Reply:
    open311.jurisdiction(jurisdiction_id, "/query")
    return _answer("services", open311.services(_lang()), response_format)


def service_definition(
    service_code: str, response_format: str, jurisdiction_id: str | None = None
) -> Reply:
    open311.jurisdiction(jurisdiction_id, "/query")
    return _answer("service_definition", open311.service_definition(service_code), response_format)


def list_requests(response_format: str, **filters: Any) -> Reply:
    filters = {k: v for k, v in filters.items() if k not in ("api_key", "lang")}
    h = hub()
    with h.transaction() as s:
        rows = open311.find_requests(s, now=h.now(), lang=_lang(), **filters)
    return _answer("requests", rows, response_format)


def create_request(response_format: str, form: dict[str, Any], **_: Any) -> Reply:
    created = open311.submit_request(hub(), form, lang=_lang())
    return _answer("requests", [created], response_format)


def get_request(
    service_request_id: str, response_format: str, jurisdiction_id: str | None = None, **_: Any
) -> Reply:
    open311.jurisdiction(jurisdiction_id, "/query")
    with hub().transaction() as s:
        rows = open311.get_request(s, service_request_id, lang=_lang())
    return _answer("requests", rows, response_format)


# --------------------------------------------------------------------------- XML


def _element(parent: ElementTree.Element, name: str, value: Any) -> None:
    child = ElementTree.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _element(child, name.rstrip("s") or name, item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _element(child, key, inner)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def to_xml(kind: str, body: Any) -> str:
    """The spec's XML for ``body``: a list under its plural root, or one object."""
    if kind == "service_definition":
        root = ElementTree.Element("service_definition")
        for key, value in body.items():
            _element(root, key, value)
    else:
        root_name, item_name = _XML_NAMES[kind]
        root = ElementTree.Element(root_name)
        for item in body:
            node = ElementTree.SubElement(root, item_name)
            for key, value in item.items():
                _element(node, key, value)
    text = ElementTree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + text


# --------------------------------------------------------------------------- errors


def _description(problem: dict[str, Any]) -> str:
    detail = str(problem.get("detail") or problem.get("title") or "error")
    fields = [
        f"{e['pointer'].rsplit('/', 1)[-1]}: {e['message']}" for e in problem.get("errors", [])
    ]
    return "; ".join([detail, *fields]) if fields else detail


def as_open311(render: Renderer) -> Renderer:
    """Wrap a problem+json renderer: under ``/open311/`` answer the spec's error list."""

    def rendered(req: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        response = render(req, exc)
        path = req.url.path
        if not path.startswith(BASE):
            return response
        problem = json.loads(response.body or b"{}")
        errors = [{"code": response.status_code, "description": _description(problem)}]
        kept = ("retry-after", "allow")  # a 405 must still say what is allowed (RFC 9110)
        headers = {k: v for k, v in (response.headers or {}).items() if k.lower() in kept}
        if path.endswith(".xml"):
            body, mimetype = to_xml("errors", errors), "text/xml"
        else:
            body, mimetype = json.dumps(errors, ensure_ascii=False), "application/json"
        return ConnexionResponse(
            status_code=response.status_code,
            mimetype=mimetype,
            content_type=mimetype,
            body=body.encode("utf-8"),
            headers=headers,
        )

    return rendered

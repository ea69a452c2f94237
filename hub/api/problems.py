"""Rendering every error as RFC 9457 problem+json, in one place.

Our own :class:`HubError` tree renders itself; connexion's and Starlette's HTTP errors are
mapped onto the same stable types; anything else is a bare 500 with the traceback logged.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from typing import Any

import yaml
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from hub import errors

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

_BY_STATUS: dict[int, type[errors.HubError]] = {
    400: errors.RequestInvalid,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    406: errors.NotAcceptable,
    409: errors.Conflict,
    413: errors.TooLarge,
    415: errors.UnsupportedMediaType,
}


def response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> ConnexionResponse:
    body = json.dumps(problem, ensure_ascii=False).encode("utf-8")
    return ConnexionResponse(
        status_code=problem["status"], mimetype=MEDIA_TYPE, body=body, headers=headers or {}
    )


def from_status(status: int, detail: str | None) -> errors.HubError:
    return _BY_STATUS.get(status, errors.HubError)(detail)


def hub_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, errors.HubError)
    if exc.status >= 500:
        log.error("%s: %s", exc.slug, exc.detail, exc_info=exc)
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    return response(exc.to_problem(), headers)


def connexion_problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ProblemException)
    err = from_status(exc.status, exc.detail)
    if exc.status >= 500:
        log.error("connexion problem %s: %s", exc.status, exc.detail)
    return response(err.to_problem(), dict(exc.headers or {}))


def http_exception(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; the spec knows all
        allowed = allowed_methods(request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    return response(from_status(exc.status_code, exc.detail).to_problem(), headers)


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def allowed_methods(path: str) -> frozenset[str]:
    """Every method the API specs define for ``path`` (GET brings HEAD)."""
    found: set[str] = set()
    for pattern, methods in _operations():
        if pattern.fullmatch(path):
            found |= methods
    if "GET" in found:
        found.add("HEAD")
    return frozenset(found)


@cache
def _operations() -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    from hub.app import OPEN311_SPEC, SPEC  # the app imports this module

    out = []
    for spec, base in ((SPEC, ""), (OPEN311_SPEC, "/open311/v2")):
        paths = yaml.safe_load(spec.read_text(encoding="utf-8")).get("paths") or {}
        for template, item in paths.items():
            regex = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(base + template))
            out.append((re.compile(regex), frozenset(m.upper() for m in item if m in HTTP_METHODS)))
    return tuple(out)


def unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("unhandled error", exc_info=exc)
    return response(errors.HubError("internal error; it has been logged").to_problem())

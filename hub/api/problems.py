"""Rendering every error as RFC 9457 problem+json, in one place.

Our own :class:`HubError` tree renders itself; connexion's and Starlette's HTTP errors are
mapped onto the same stable types; anything else is a bare 500 with the traceback logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

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


def http_exception(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, HTTPException)
    return response(from_status(exc.status_code, exc.detail).to_problem(), dict(exc.headers or {}))


def unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("unhandled error", exc_info=exc)
    return response(errors.HubError("internal error; it has been logged").to_problem())

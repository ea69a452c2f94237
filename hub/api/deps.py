"""How a handler reaches the services: the Hub object the app was built with."""

from __future__ import annotations

from typing import Any

from flask import current_app

from hub.exchange.tokens import Principal
from hub.services import Hub


def hub() -> Hub:
    return current_app.extensions["hub"]  # type: ignore[no-any-return]


JSON = {"Content-Type": "application/json"}
Reply = tuple[Any, int, dict[str, str]]


def ok(body: Any, status: int = 200) -> Reply:
    """A JSON answer. Naming the type is needed because every operation also documents
    ``application/problem+json`` for its errors, and connexion will not guess between them."""
    return body, status, JSON


def caller(token_info: dict[str, Any]) -> Principal:
    """The agency behind the bearer token (set by ``hub.api.security.bearer_info``)."""
    principal: Principal = token_info["principal"]
    return principal

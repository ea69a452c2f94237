"""Connexion's bearer hook: verify an agency-signed token against the trust registry."""

from __future__ import annotations

from typing import Any

from connexion.lifecycle import ConnexionRequest

from hub.exchange.tokens import verify_token
from hub.services import Hub


def bearer_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """Returns connexion's token info; raises Unauthorized (rendered as 401 problem+json)."""
    hub: Hub = request.scope["hub"]
    with hub.transaction() as session:
        principal = verify_token(
            session,
            token,
            audience=hub.settings.audience,
            now=hub.now(),
            max_lifetime=hub.settings.token_max_seconds,
        )
    return {"sub": principal.agency, "principal": principal}

"""Bearer tokens for API tests: good ones with chosen claims, and deliberately bad ones."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from hub.exchange.canonical import b64url_encode
from hub.exchange.keys import PrivateKey, algorithm_for_key


def claims(
    issuer: str, *, now: datetime, lifetime: int = 120, audience: str = "hub", **extra: Any
) -> dict[str, Any]:
    """The claims a well-behaved agency puts in a token; ``extra`` overrides any of them."""
    iat = int(now.timestamp())
    base: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": uuid.uuid4().hex,
    }
    base.update(extra)
    return base


def signed_token(key: PrivateKey, kid: str, body: dict[str, Any]) -> str:
    """A token signed properly by ``key`` (alg from the key) with arbitrary claims."""
    return jwt.encode(body, key, algorithm=algorithm_for_key(key), headers={"kid": kid})


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _b64json(obj: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def hs256_token(secret: bytes, kid: str, body: dict[str, Any]) -> str:
    """The classic key-confusion attack: HMAC keyed with the victim's *public* key.

    Built by hand (PyJWT refuses a PEM public key as an HMAC secret, which is exactly
    the protection a careless verifier would lack).
    """
    import hashlib
    import hmac

    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64json(body)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def unsigned_token(kid: str, body: dict[str, Any]) -> str:
    """``alg: none`` with an empty signature."""
    return f"{_b64json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64json(body)}."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


PROBLEM_MEDIA_TYPE = "application/problem+json"


def expect_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 answer of ``status`` (and ``/problems/<slug>``); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_MEDIA_TYPE
    body = json.loads(response.content.decode("utf-8"))
    assert isinstance(body, dict)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["type"], str) and body["type"].startswith("/problems/")
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body

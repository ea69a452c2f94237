"""Bearer tokens for the read API: short JWTs an agency signs with its own registered key.

No shared secrets: the hub checks the token against the trust registry exactly as it checks
envelopes. Algorithms are pinned to the key's own (never read from the token to pick a
verifier); ``iss``, ``aud``, ``iat``, ``exp`` and ``jti`` are required; the lifetime is at
most ``HUB_TOKEN_MAX_SECONDS``; a ``jti`` is accepted once.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.errors import Forbidden, Unauthorized
from hub.exchange.jws import ALLOWED_ALGORITHMS
from hub.exchange.keys import PrivateKey
from hub.exchange.registry import get_agency, resolve_key
from hub.models import UsedToken

REQUIRED_CLAIMS = ["iss", "aud", "iat", "exp", "jti"]
PRUNE_PROBABILITY = 0.01
LEEWAY_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what the registry lets them do."""

    agency: str
    roles: frozenset[str]
    kind: str

    def has(self, role: str) -> bool:
        return role in self.roles

    def require(self, role: str) -> Principal:
        """This principal, if the registry gave it ``role``; Forbidden otherwise."""
        if role not in self.roles:
            raise Forbidden(f"agency {self.agency!r} does not have the {role!r} role")
        return self

    def require_self_or_admin(self, agency: str) -> Principal:
        """An agency reads its own registry entry; hub admins read any."""
        if self.agency != agency and not self.has("admin"):
            raise Forbidden("an agency reads only its own registry entry")
        return self


def make_token(
    key: PrivateKey,
    *,
    kid: str,
    issuer: str,
    audience: str = "hub",
    now: datetime,
    lifetime: int = 120,
    jti: str | None = None,
) -> str:
    """A token for one call (agency side; also used by the SDK)."""
    from hub.exchange.jws import algorithm_for_key

    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=algorithm_for_key(key), headers={"kid": kid})


def verify_token(
    session: Session, token: str, *, audience: str, now: datetime, max_lifetime: int
) -> Principal:
    """Steps: 1 header, 2 key from registry, 3 signature and claims, 4 lifetime, 5 replay."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"malformed bearer token: {exc}") from exc
    kid, alg = header.get("kid"), header.get("alg")
    if not isinstance(kid, str) or alg not in ALLOWED_ALGORITHMS:
        raise Unauthorized("bearer token needs a kid and an EdDSA or ES256 signature")
    key = resolve_key(session, kid, now=now)
    if alg != key.alg:
        raise Unauthorized(f"key {kid!r} signs with {key.alg}, not {alg}")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.alg],
            audience=audience,
            issuer=key.agency,
            leeway=LEEWAY_SECONDS,
            # times are checked below against the hub's clock, not PyJWT's wall clock
            options={
                "require": REQUIRED_CLAIMS,
                "verify_iat": False,
                "verify_exp": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"bearer token refused: {exc}") from exc
    iat, exp, t = claims["iat"], claims["exp"], now.timestamp()
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise Unauthorized("iat and exp must be numbers")
    if iat > t + LEEWAY_SECONDS or claims.get("nbf", iat) > t + LEEWAY_SECONDS:
        raise Unauthorized("bearer token is not valid yet")
    if exp <= t - LEEWAY_SECONDS:
        raise Unauthorized("bearer token has expired")
    if exp - iat > max_lifetime:
        raise Unauthorized(f"bearer token lives longer than {max_lifetime} s")
    _spend(session, key.agency, str(claims["jti"]), datetime.fromtimestamp(exp, now.tzinfo), now)
    agency = get_agency(session, key.agency)
    if not agency.active:
        raise Unauthorized(f"agency {agency.code!r} is suspended")
    return Principal(agency.code, frozenset(agency.roles), agency.kind)


def _spend(session: Session, issuer: str, jti: str, expires: datetime, now: datetime) -> None:
    """Record the jti; a second use fails on the primary key, in any process.

    Expired ids are pruned on about one call in a hundred: a delete on every read request
    would be a write on the hot path for nothing (an expired token is refused anyway).
    """
    if random.random() < PRUNE_PROBABILITY:
        cutoff = now - timedelta(seconds=LEEWAY_SECONDS)
        session.execute(delete(UsedToken).where(UsedToken.expires_at < cutoff))
    try:
        with session.begin_nested():
            session.add(UsedToken(issuer=issuer, jti=jti[:128], expires_at=expires))
    except IntegrityError as exc:
        raise Unauthorized("bearer token already used (jti replay)") from exc

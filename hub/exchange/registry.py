"""The trust registry: agencies, their public keys, and which key may sign what.

Rotation: an agency may hold several active keys; any active, in-validity key verifies.
Revocation is read from the database on every lookup, so it takes effect at once in every
process; only the parsed key object is cached. Messages accepted earlier keep their receipts
and stay verifiable from the stored JWK (a revoked key is still published in the registry).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import (
    Conflict,
    Malformed,
    NotFound,
    RequestInvalid,
    RevokedKey,
    UnknownKey,
)
from hub.exchange.keys import (
    PublicKey,
    agency_code_from_certificate,
    jwk_thumbprint,
    load_certificate_chain,
    load_public_jwk,
    load_public_pem,
    public_jwk,
    verify_certificate_chain,
)
from hub.models import Agency, AgencyKey

KINDS = (
    "local_government",
    "hotline",
    "damrongdhama_centre",
    "ministry",
    "state_enterprise",
    "oversight",
    "hub",
)
ROLES = ("submit", "receive", "oversight", "admin")
DEFAULT_ROLES = ("submit", "receive")


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """Exactly one of ``jwk``, ``pem`` or ``certificate`` (a PEM chain, leaf first)."""

    jwk: dict[str, Any] | None = None
    pem: str | None = None
    certificate: str | None = None
    key_id: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    agency: str
    kid: str
    alg: str
    key: PublicKey


def load_material(
    material: KeyMaterial, *, code: str, trusted_roots: Sequence[x509.Certificate], now: datetime
) -> tuple[PublicKey, str, str]:
    """(public key, alg, source) from whichever form was given; certificates must chain."""
    given = [m for m in (material.jwk, material.pem, material.certificate) if m]
    if len(given) != 1:
        raise RequestInvalid("give exactly one of jwk, pem, certificate")
    if material.jwk:
        try:
            key, alg = load_public_jwk(material.jwk)
        except ValueError as exc:
            raise Malformed(f"bad JWK: {exc}") from exc
        return key, alg, "jwk"
    if material.pem:
        try:
            key, alg = load_public_pem(material.pem.encode())
        except ValueError as exc:
            raise Malformed(f"bad PEM public key: {exc}") from exc
        return key, alg, "pem"
    return _from_certificate(material.certificate or "", code, trusted_roots, now)


def _from_certificate(
    pem: str, code: str, roots: Sequence[x509.Certificate], now: datetime
) -> tuple[PublicKey, str, str]:
    if not roots:
        raise RequestInvalid("this hub trusts no certificate authority (HUB_TRUSTED_CA_FILE)")
    try:
        chain = load_certificate_chain(pem.encode())
        key = verify_certificate_chain(chain, list(roots), now=now)
        holder = agency_code_from_certificate(chain[0])
    except ValueError as exc:
        raise RequestInvalid(f"certificate refused: {exc}") from exc
    if holder != code:
        raise RequestInvalid(f"certificate is issued to {holder!r}, not {code!r}")
    _key, alg = load_public_jwk(public_jwk(key))
    return key, alg, "certificate"


def enrol(
    session: Session,
    *,
    code: str,
    kind: str,
    name_th: str,
    key: KeyMaterial | None,
    name_en: str = "",
    areas: Sequence[str] = (),
    categories: Sequence[str] = (),
    endpoint: str | None = None,
    mode: str = "pull",
    roles: Sequence[str] = DEFAULT_ROLES,
    trusted_roots: Sequence[x509.Certificate] = (),
    now: datetime,
) -> Agency:
    """Register an agency (and its first key). Raises Conflict if the code is taken."""
    if kind not in KINDS:
        raise RequestInvalid(f"unknown agency kind {kind!r}; one of {', '.join(KINDS)}")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise RequestInvalid(f"unknown role(s) {unknown}; known: {', '.join(ROLES)}")
    if mode == "push" and not endpoint:
        raise RequestInvalid("push delivery needs an endpoint")
    if session.get(Agency, code) is not None:
        raise Conflict(f"agency {code!r} is already enrolled")
    agency = Agency(
        code=code,
        kind=kind,
        name_th=name_th,
        name_en=name_en,
        areas=list(areas),
        categories=list(categories),
        endpoint=endpoint,
        mode=mode,
        roles=list(roles),
        active=True,
        created_at=now,
    )
    session.add(agency)
    if key is not None:
        add_key(session, code, key, trusted_roots=trusted_roots, now=now, agency=agency)
    return agency


def add_key(
    session: Session,
    code: str,
    material: KeyMaterial,
    *,
    trusted_roots: Sequence[x509.Certificate] = (),
    now: datetime,
    agency: Agency | None = None,
) -> AgencyKey:
    """Add a key beside the existing ones: rotation needs no downtime."""
    agency = agency or get_agency(session, code)
    key, alg, source = load_material(material, code=code, trusted_roots=trusted_roots, now=now)
    jwk = public_jwk(key)
    key_id = material.key_id or jwk_thumbprint(jwk)[:16]
    kid = f"{agency.code}/{key_id}"
    if session.scalar(select(AgencyKey.id).where(AgencyKey.kid == kid)) is not None:
        raise Conflict(f"key {kid!r} already exists")
    jwk = {**jwk, "kid": kid, "alg": alg, "use": "sig"}
    row = AgencyKey(
        agency_code=agency.code,
        kid=kid,
        alg=alg,
        jwk=jwk,
        status="active",
        not_before=material.not_before,
        not_after=material.not_after,
        source=source,
        created_at=now,
    )
    session.add(row)
    return row


def set_key_status(
    session: Session, code: str, key_id: str, status: str, *, now: datetime
) -> AgencyKey:
    """``revoked`` refuses the key from now on; ``retired`` stops new use gracefully."""
    row = session.scalar(select(AgencyKey).where(AgencyKey.kid == f"{code}/{key_id}"))
    if row is None:
        raise NotFound(f"agency {code!r} has no key {key_id!r}")
    row.status = status
    if status == "revoked" and row.revoked_at is None:
        row.revoked_at = now
    return row


def get_agency(session: Session, code: str) -> Agency:
    agency = session.get(Agency, code)
    if agency is None:
        raise NotFound(f"no agency {code!r}")
    return agency


def list_agencies(session: Session, *, kind: str | None = None) -> list[Agency]:
    stmt = select(Agency).order_by(Agency.code)
    if kind:
        stmt = stmt.where(Agency.kind == kind)
    return list(session.scalars(stmt))


def agency_keys(session: Session, code: str) -> list[AgencyKey]:
    return list(
        session.scalars(
            select(AgencyKey).where(AgencyKey.agency_code == code).order_by(AgencyKey.id)
        )
    )


_cache: dict[str, tuple[dict[str, Any], PublicKey]] = {}
"""kid -> (the JWK it was parsed from, the parsed key). Every intake and every ack checks
a signature; parsing the JWK (or canonicalising it for a thumbprint) each time cost more
than the check itself."""
_cache_lock = threading.Lock()


def resolve_key(session: Session, kid: str, *, now: datetime) -> ResolvedKey:
    """The key a message says it was signed with, if it may sign now.

    Raises UnknownKey (no such kid) or RevokedKey (revoked, retired, or outside validity).
    """
    known: dict[str, AgencyKey | None] = session.info.setdefault("registry.keys", {})
    if kid not in known:  # read once per transaction: revocation applies from the next one
        known[kid] = session.scalar(select(AgencyKey).where(AgencyKey.kid == kid))
    row = known[kid]
    if row is None:
        raise UnknownKey(f"no registered key {kid!r}")
    if row.status != "active":
        raise RevokedKey(f"key {kid!r} is {row.status}")
    if (row.not_before and now < row.not_before) or (row.not_after and now >= row.not_after):
        raise RevokedKey(f"key {kid!r} is not valid at {now.isoformat()}")
    return ResolvedKey(row.agency_code, kid, row.alg, _parsed(row))


def _parsed(row: AgencyKey) -> PublicKey:
    """The row's key, parsed once per process. The cache entry is used only while the row
    holds the very JWK it was parsed from (a plain comparison of a few short members), so
    a kid enrolled again with another key is never answered with the old one."""
    with _cache_lock:
        hit = _cache.get(row.kid)
    if hit and hit[0] == row.jwk:
        return hit[1]
    key, _alg = load_public_jwk(row.jwk)
    with _cache_lock:
        _cache[row.kid] = (copy.deepcopy(row.jwk), key)
    return key

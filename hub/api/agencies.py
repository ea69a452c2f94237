"""The trust registry over HTTP: admins enrol agencies and manage keys; agencies read their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.api.deps import Reply, caller, hub, ok
from hub.exchange import registry
from hub.models import Agency, AgencyKey


def list_agencies(token_info: dict[str, Any], kind: str | None = None) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        agencies = registry.list_agencies(s, kind=kind)
        return ok({"agencies": [agency_dict(a, registry.agency_keys(s, a.code)) for a in agencies]})


def get_agency(token_info: dict[str, Any], code: str) -> Reply:
    caller(token_info).require_self_or_admin(code)
    with hub().transaction() as s:
        agency = registry.get_agency(s, code)
        return ok(agency_dict(agency, registry.agency_keys(s, code)))


def add_agency(token_info: dict[str, Any], enrolment: dict[str, Any]) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        agency = registry.enrol(
            s,
            code=enrolment["code"],
            kind=enrolment["kind"],
            name_th=enrolment["name_th"],
            name_en=enrolment.get("name_en", ""),
            areas=enrolment.get("areas", []),
            categories=enrolment.get("categories", []),
            endpoint=enrolment.get("endpoint"),
            mode=enrolment.get("mode", "pull"),
            roles=enrolment.get("roles", list(registry.DEFAULT_ROLES)),
            key=_material(enrolment["key"]),
            trusted_roots=h.trusted_roots(),
            now=h.now(),
        )
        s.flush()
        return ok(agency_dict(agency, registry.agency_keys(s, agency.code)), 201)


def add_key(token_info: dict[str, Any], code: str, key: dict[str, Any]) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        row = registry.add_key(
            s, code, _material(key), trusted_roots=h.trusted_roots(), now=h.now()
        )
        s.flush()
        return ok(key_dict(row), 201)


def revoke_key(token_info: dict[str, Any], code: str, key_id: str) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        return ok(key_dict(registry.set_key_status(s, code, key_id, "revoked", now=h.now())))


def agency_jwks(code: str) -> Reply:
    with hub().transaction() as s:
        registry.get_agency(s, code)
        return ok({"keys": [k.jwk for k in registry.agency_keys(s, code)]})


def _material(body: dict[str, Any]) -> registry.KeyMaterial:
    return registry.KeyMaterial(
        jwk=body.get("jwk"),
        pem=body.get("pem"),
        certificate=body.get("certificate"),
        key_id=body.get("key_id"),
        not_before=_time(body.get("not_before")),
        not_after=_time(body.get("not_after")),
    )


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def key_dict(k: AgencyKey) -> dict[str, Any]:
    return {
        "kid": k.kid,
        "alg": k.alg,
        "status": k.status,
        "jwk": k.jwk,
        "source": k.source,
        "not_before": _iso(k.not_before),
        "not_after": _iso(k.not_after),
        "revoked_at": _iso(k.revoked_at),
    }


def agency_dict(a: Agency, keys: list[AgencyKey]) -> dict[str, Any]:
    return {
        "code": a.code,
        "kind": a.kind,
        "name_th": a.name_th,
        "name_en": a.name_en,
        "areas": a.areas,
        "categories": a.categories,
        "endpoint": a.endpoint,
        "mode": a.mode,
        "roles": a.roles,
        "keys": [key_dict(k) for k in keys],
    }

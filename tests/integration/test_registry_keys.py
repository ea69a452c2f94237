"""Keys are parsed once per process, never served stale: the cache holds a key only while
the registry row still holds the JWK it was parsed from."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from hub.exchange import registry
from hub.exchange.keys import generate_private_key, public_jwk
from hub.models import AgencyKey


def _raw(key) -> bytes:  # type: ignore[no-untyped-def]
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_a_kid_that_now_holds_another_key_is_parsed_again(agencies, hub):
    agencies.enrol("bma")
    now = datetime.now(UTC)
    with hub.transaction() as s:
        row = s.scalars(select(AgencyKey).where(AgencyKey.agency_code == "bma")).one()
        kid, first = row.kid, registry.resolve_key(s, row.kid, now=now).key
    with hub.transaction() as s:  # the same object on the next look: parsed once
        assert registry.resolve_key(s, kid, now=now).key is first
    other = generate_private_key("EdDSA").public_key()
    with hub.transaction() as s:
        row = s.scalars(select(AgencyKey).where(AgencyKey.kid == kid)).one()
        row.jwk = public_jwk(other, kid=kid)
    with hub.transaction() as s:
        again = registry.resolve_key(s, kid, now=now).key
    assert _raw(again) == _raw(other) != _raw(first)

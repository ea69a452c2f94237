"""Enrol agencies with real keys and hand back SDK clients that talk to the test app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.exchange import registry
from hub.exchange.client import HubClient
from hub.exchange.keys import PrivateKey, generate_private_key, jwk_thumbprint, public_jwk


@dataclass
class TestAgency:
    code: str
    key: PrivateKey
    kid: str
    client: HubClient


class AgencyFactory:
    def __init__(self, hub: Any, http: Any, clock: Any) -> None:
        self.hub, self.http, self.clock = hub, http, clock

    def enrol(
        self,
        code: str,
        *,
        kind: str = "local_government",
        alg: str = "EdDSA",
        areas: Sequence[str] = ("10",),
        categories: Sequence[str] = (),
        roles: Sequence[str] = ("submit", "receive"),
        name_th: str = "หน่วยงานทดสอบ",
        mode: str = "pull",
        endpoint: str | None = None,
    ) -> TestAgency:
        key = generate_private_key(alg)
        key_id = jwk_thumbprint(public_jwk(key))[:16]
        with self.hub.transaction() as s:
            registry.enrol(
                s,
                code=code,
                kind=kind,
                name_th=name_th,
                areas=areas,
                categories=categories,
                roles=roles,
                key=registry.KeyMaterial(jwk=public_jwk(key), key_id=key_id),
                now=self.clock(),
            )
        kid = f"{code}/{key_id}"
        return TestAgency(code, key, kid, self.client_for(code, key, kid))

    def set_endpoint(self, code: str, endpoint: str, mode: str = "push") -> None:
        with self.hub.transaction() as s:
            agency = registry.get_agency(s, code)
            agency.endpoint, agency.mode = endpoint, mode

    def client_for(self, code: str, key: PrivateKey, kid: str) -> HubClient:
        return HubClient(
            "http://testserver", agency=code, key=key, kid=kid, http=self.http, clock=self.clock
        )

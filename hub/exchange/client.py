"""The SDK an agency or adapter uses to talk to the hub: sign, send, verify receipts.

One I/O seam: an ``httpx.Client`` (pass your own — a test client, a proxy-configured one, a
``MockTransport``). Every failure is a :class:`HubClientError` carrying the HTTP status and
the hub's problem+json; nothing from httpx leaks past this module.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from hub.exchange.canonical import canonicalize, loads_strict
from hub.exchange.jws import ENVELOPE_TYP, parse_compact, sign, verify
from hub.exchange.keys import PrivateKey, load_private_jwk, load_public_jwk, read_jwk
from hub.exchange.tokens import make_token


class HubClientError(Exception):
    """The hub refused, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, problem: dict[str, Any] | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem or {}

    @property
    def type(self) -> str:
        return str(self.problem.get("type", ""))


class ReceiptInvalid(HubClientError):
    """The hub's receipt does not verify or does not match what was sent."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified receipt: the hub vouches for these exact bytes at this log index."""

    message_id: str
    case_id: str | None
    log_index: int | None
    payload: dict[str, Any]
    jws: str


def _now() -> datetime:
    return datetime.now(UTC)


class HubClient:
    def __init__(
        self,
        base_url: str,
        *,
        agency: str,
        key: PrivateKey,
        kid: str,
        http: httpx.Client | None = None,
        audience: str = "hub",
        clock: Callable[[], datetime] = _now,
        timeout: float = 10.0,
    ) -> None:
        self.agency, self.key, self.kid, self.audience, self.clock = (
            agency,
            key,
            kid,
            audience,
            clock,
        )
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._jwks: dict[str, tuple[Any, str]] | None = None
        self._agency_jwks: dict[str, dict[str, tuple[Any, str]]] = {}

    @classmethod
    def from_jwk_file(cls, base_url: str, path: Path, **kwargs: Any) -> HubClient:
        """Load an agency's private JWK (``kid`` = ``<agency>/<key-id>``)."""
        jwk = read_jwk(path)
        kid = jwk["kid"]
        return cls(
            base_url, agency=kid.split("/", 1)[0], key=load_private_jwk(jwk), kid=kid, **kwargs
        )

    # -- signing ---------------------------------------------------------------------------

    def envelope(
        self, type: str, body: dict[str, Any], *, id: str | None = None, audience: str | None = None
    ) -> str:
        payload = {
            "type": type,
            "id": id or f"{self.agency}-{uuid.uuid4().hex}",
            "issued_at": self.clock().isoformat().replace("+00:00", "Z"),
            "issuer": self.agency,
            "audience": audience or self.audience,
            "body": body,
        }
        return sign(canonicalize(payload), self.key, kid=self.kid, typ=ENVELOPE_TYP)

    def token(self, lifetime: int = 120) -> str:
        return make_token(
            self.key,
            kid=self.kid,
            issuer=self.agency,
            audience=self.audience,
            now=self.clock(),
            lifetime=lifetime,
        )

    # -- sending ---------------------------------------------------------------------------

    def send(self, type: str, body: dict[str, Any], *, id: str | None = None) -> Receipt:
        return self.send_jws(self.envelope(type, body, id=id))

    def send_jws(self, jws: str) -> Receipt:
        answer = self._request(
            "POST",
            "/v1/envelopes",
            content=jws.encode(),
            headers={"Content-Type": "application/jose"},
        )
        return self.verify_receipt(answer["receipt"], sent=jws)

    def send_batch(self, items: Sequence[str]) -> list[Receipt | HubClientError]:
        answer = self._request("POST", "/v1/envelopes:batch", json=list(items))
        out: list[Receipt | HubClientError] = []
        for result in answer["results"]:
            if "receipt" in result:
                out.append(
                    self.verify_receipt(result["receipt"]["receipt"], sent=items[result["index"]])
                )
            else:
                p = result["problem"]
                out.append(HubClientError(result["status"], p, p.get("detail", "refused")))
        return out

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._request(
            "GET", path, params=params, headers={"Authorization": f"Bearer {self.token()}"}
        )

    def post(self, path: str, body: Any) -> Any:
        return self._request(
            "POST", path, json=body, headers={"Authorization": f"Bearer {self.token()}"}
        )

    # -- receipts --------------------------------------------------------------------------

    def hub_keys(self, refresh: bool = False) -> dict[str, tuple[Any, str]]:
        if self._jwks is None or refresh:
            jwks = self._request("GET", "/.well-known/jwks.json")
            self._jwks = {k["kid"]: load_public_jwk(k) for k in jwks["keys"]}
        return self._jwks

    def agency_keys(self, code: str, refresh: bool = False) -> dict[str, tuple[Any, str]]:
        """Another agency's public keys, from the hub's registry (to check its signatures)."""
        if code not in self._agency_jwks or refresh:
            jwks = self._request("GET", f"/v1/agencies/{code}/jwks.json")
            self._agency_jwks[code] = {k["kid"]: load_public_jwk(k) for k in jwks["keys"]}
        return self._agency_jwks[code]

    def receiver(self, on_message: Any, **kwargs: Any) -> Any:
        """A Flask blueprint that takes the hub's pushes (see ``hub.exchange.receiver``)."""
        from hub.exchange.receiver import receiver_blueprint

        return receiver_blueprint(self, on_message, **kwargs)

    def pull(self, limit: int = 100) -> list[dict[str, str]]:
        """Pull mode: forwards waiting for this agency, oldest first."""
        answer = self.get("/v1/inbox", {"limit": limit})
        return list(answer["messages"])

    def ack(self, forwards: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
        """Pull mode: acknowledge forwards (signed acks, as a push receiver would answer)."""
        acks = []
        for f in forwards:
            payload = parse_compact(f["jws"]).payload
            acks.append(
                self.envelope(
                    "delivery.ack",
                    {
                        "message_id": f["message_id"],
                        "payload_sha256": hashlib.sha256(payload).hexdigest(),
                    },
                    id=f"ack:{f['message_id']}",
                )
            )
        return list(self.post("/v1/inbox/acks", acks)["results"])

    def verify_receipt(self, receipt: str, *, sent: str | None = None) -> Receipt:
        """Check the hub's signature and, given what was sent, that it is about those bytes."""
        parsed = parse_compact(receipt)
        keys = self.hub_keys()
        if parsed.header["kid"] not in keys:
            keys = self.hub_keys(refresh=True)
        if parsed.header["kid"] not in keys:
            raise ReceiptInvalid(
                0, None, f"receipt signed by unknown hub key {parsed.header['kid']}"
            )
        key, alg = keys[parsed.header["kid"]]
        verify(parsed, key, alg=alg)
        payload = loads_strict(parsed.payload)
        assert isinstance(payload, dict)
        if sent is not None:
            ours = parse_compact(sent)
            digest = hashlib.sha256(ours.payload).hexdigest()
            message = json.loads(ours.payload)
            if (
                payload.get("payload_sha256") != digest
                or payload.get("message_id") != message["id"]
            ):
                raise ReceiptInvalid(0, payload, "receipt is not about the message that was sent")
        return Receipt(
            payload["message_id"],
            payload.get("case_id"),
            payload.get("log_index"),
            payload,
            receipt,
        )

    # -- wire ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise HubClientError(0, None, f"hub unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            raise HubClientError(
                response.status_code,
                problem,
                f"{response.status_code} {problem.get('type', '')}: {problem.get('detail', '')}",
            )
        return response.json()

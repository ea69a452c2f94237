"""The receiving side of the SDK: a Flask blueprint an agency mounts to take pushes.

For every POST it (1) verifies the hub's signature on the forward, (2) checks the forward is
addressed to this agency, (3) verifies the origin agency's signature on the JWS inside it,
(4) drops a duplicate (same forward id, e.g. a retry after a lost ack) without calling the
callback again, (5) hands the message to the agency's callback, (6) answers with a
``delivery.ack`` envelope signed by the agency's own key. A callback that raises gets a 500
and the hub retries later.

Exactly once, as far as the agency can tell: the seen-store is consulted before the callback
and written after it, so a callback is called again only if the receiver itself died
between the two — make the callback idempotent on ``message_id`` (or share its transaction
with a durable :class:`SeenStore`) if that matters.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Blueprint, Response, request

from hub.errors import HubError
from hub.exchange.canonical import sha256_hex
from hub.exchange.client import HubClient
from hub.exchange.jws import parse_compact, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What the callback gets: the hub's forward and the origin's message, both verified."""

    message_id: str
    case_id: str | None
    reason: str | None
    origin: dict[str, Any]
    original_jws: str
    forward: dict[str, Any]
    complaints: tuple[dict[str, Any], ...] = ()
    """The case's complaints (verified payloads) when the case is offered to this agency by
    a message other than a complaint: what it is asked to act on."""


class SeenStore(Protocol):
    def seen(self, message_id: str) -> bool: ...

    def add(self, message_id: str) -> None: ...


class MemorySeen:
    """Enough for tests and simulators; a real agency keeps this in its own database."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def seen(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._ids

    def add(self, message_id: str) -> None:
        with self._lock:
            self._ids.add(message_id)


def receiver_blueprint(
    client: HubClient,
    on_message: Callable[[Forwarded], None],
    *,
    seen: SeenStore | None = None,
    name: str = "hub_receiver",
    url: str = "/hub/messages",
) -> Blueprint:
    store = seen or MemorySeen()
    bp = Blueprint(name, __name__)
    lock = threading.Lock()

    @bp.post(url)
    def receive() -> Response:
        try:
            forwarded, payload_bytes = open_forward(client, request.get_data())
        except (HubError, KeyError, ValueError) as exc:
            log.warning("refused a push: %s", exc)
            return Response(json.dumps({"error": str(exc)}), 400, mimetype="application/json")
        with lock:  # one message at a time per id: a concurrent retry must not slip through
            if not store.seen(forwarded.message_id):
                on_message(forwarded)
                store.add(forwarded.message_id)
        ack = client.envelope(
            "delivery.ack",
            {"message_id": forwarded.message_id, "payload_sha256": sha256_hex(payload_bytes)},
            id=f"ack:{forwarded.message_id}",
        )
        return Response(ack, 200, mimetype="application/jose")

    return bp


def open_forward(client: HubClient, raw: bytes) -> tuple[Forwarded, bytes]:
    """Verify a hub forward and the origin message inside it (steps 1–3 above); for
    pull-mode agencies too, which get the same bytes from ``GET /v1/inbox``."""
    parsed = parse_compact(raw.decode("ascii"))
    key, alg = _key(client.hub_keys(), parsed.header["kid"], lambda: client.hub_keys(refresh=True))
    verify(parsed, key, alg=alg)  # 1
    forward = json.loads(parsed.payload)
    if forward.get("type") != "hub.forward" or forward.get("audience") != client.agency:  # 2
        raise ValueError("not a hub.forward addressed to this agency")
    original = parse_compact(forward["body"]["original"])
    origin_kid = original.header["kid"]
    signer = origin_kid.split("/")[0]
    if signer == "hub":  # a message the hub issued itself (an SLA escalation, say)
        okey, oalg = _key(client.hub_keys(), origin_kid, lambda: client.hub_keys(refresh=True))
    else:
        okey, oalg = _key(
            client.agency_keys(signer), origin_kid, lambda: client.agency_keys(signer, refresh=True)
        )
    verify(original, okey, alg=oalg)  # 3
    body = forward["body"]
    return (
        Forwarded(
            message_id=forward["id"],
            case_id=body.get("case_id"),
            reason=body.get("reason"),
            origin=json.loads(original.payload),
            original_jws=body["original"],
            forward=forward,
            complaints=tuple(_verified(client, c) for c in body.get("complaints", ())),
        ),
        parsed.payload,
    )


def _verified(client: HubClient, jws: str) -> dict[str, Any]:
    """An attached complaint's payload, once its signer's signature checks out."""
    parsed = parse_compact(jws)
    kid = parsed.header["kid"]
    signer = kid.split("/")[0]
    key, alg = _key(
        client.agency_keys(signer), kid, lambda: client.agency_keys(signer, refresh=True)
    )
    verify(parsed, key, alg=alg)
    payload: dict[str, Any] = json.loads(parsed.payload)
    return payload


def _key(keys: dict[str, Any], kid: str, refresh: Callable[[], dict[str, Any]]) -> Any:
    if kid not in keys:
        keys = refresh()
    if kid not in keys:
        raise ValueError(f"unknown signing key {kid}")
    return keys[kid]

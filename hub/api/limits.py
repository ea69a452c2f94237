"""Outermost ASGI middleware: body-size limit and the hub services in the request scope.

A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked body
is counted as it streams and refused the moment it passes the limit, so a 10 MB body never
sits in memory.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import FieldError, HubError, RequestInvalid, TooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, hub: Any) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["hub"] = self.hub
        if any(ord(c) < 32 or ord(c) == 127 for c in scope.get("path", "")):
            bad = RequestInvalid(
                "control characters in the path", errors=[FieldError("/path", "control character")]
            )
            await _send_problem(send, bad)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_problem(send, TooLarge(f"request body exceeds {self.max_bytes} bytes"))
            return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._buffered(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(f"request body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A chunked body: read it (never past the limit), then hand it on with a length,
        which is what connexion's validators and werkzeug need to see it at all."""
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > self.max_bytes:
                await _send_problem(send, TooLarge(f"request body exceeds {self.max_bytes} bytes"))
                return
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if k not in (b"transfer-encoding", b"content-length")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(send: Send, error: HubError) -> None:
    body = json.dumps(error.to_problem(), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

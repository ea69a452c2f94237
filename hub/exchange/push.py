"""The one HTTP seam of delivery: POST a forward, get the destination's signed ack back.

Every failure becomes :class:`PushFailed` with a short reason and, when the destination said
so, its ``Retry-After``; nothing from httpx leaks past this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

JOSE = "application/jose"


class PushFailed(Exception):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 3.0
    read: float = 10.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect)


def push(http: httpx.Client, endpoint: str, forward_jws: bytes, *, timeouts: Timeouts) -> bytes:
    """Send one forward; return the ack's bytes (still to be verified by the caller)."""
    try:
        r = http.post(
            endpoint,
            content=forward_jws,
            headers={"Content-Type": JOSE, "Accept": JOSE},
            timeout=timeouts.httpx(),
        )
    except httpx.TimeoutException as exc:
        raise PushFailed(f"timeout: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise PushFailed(f"connection: {type(exc).__name__}: {exc}") from exc
    if r.status_code != 200:
        raise PushFailed(
            f"HTTP {r.status_code}", retry_after=_retry_after(r.headers.get("Retry-After"))
        )
    if r.headers.get("content-type", "").split(";")[0].strip() != JOSE:
        raise PushFailed(f"ack has content type {r.headers.get('content-type')!r}, not {JOSE}")
    return r.content


def _retry_after(value: str | None) -> float | None:
    """Seconds from either form of Retry-After (RFC 9110 §10.2.3)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

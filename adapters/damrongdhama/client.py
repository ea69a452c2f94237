"""Wire client for a centre's reference REST API (``format.md``, "REST API").

One method, :meth:`DamrongdhamaClient._call`, does HTTP through the ``httpx.Client`` the
caller passes in (base URL, timeouts, or a ``WSGITransport`` / ``MockTransport`` in tests).
Every failure becomes an :mod:`adapters.base` error (``raise ... from exc``); nothing from
httpx escapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.damrongdhama.mapping import REFERENCE, SYSTEM, FieldMap
from adapters.damrongdhama.updates import created_by_hub

BASE = "/api/v1/cases"


class DamrongdhamaClient:
    """The REST operations; also the :class:`~adapters.base.NativeClient` the kit drives."""

    def __init__(self, http: httpx.Client, *, api_key: str, fmap: FieldMap = REFERENCE) -> None:
        self.http, self.api_key, self.fmap = http, api_key, fmap

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One API call; the decoded JSON object of a 2xx answer, else a typed error."""
        headers = {"X-Api-Key": self.api_key}
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(SYSTEM, f"{method} {path} timed out") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(SYSTEM, f"{method} {path} unreachable: {exc}") from exc
        status = response.status_code
        if status >= 500:
            raise Unavailable(SYSTEM, f"{method} {path} answered {status}", status=status)
        try:
            answer = response.json()
        except ValueError as exc:
            raise BadAnswer(SYSTEM, f"{method} {path}: not JSON", status=status) from exc
        if not isinstance(answer, dict):
            raise BadAnswer(SYSTEM, f"{method} {path}: not a JSON object", status=status)
        message = str(answer.get("error") or status)
        if status in (401, 403):
            raise AuthFailed(SYSTEM, f"{method} {path}: {message}", status=status)
        if status >= 400:
            raise Refused(SYSTEM, f"{method} {path}: {message}", status=status)
        return answer

    def cases(self) -> list[dict[str, Any]]:
        items = self._call("GET", BASE).get("items")
        if not isinstance(items, list):
            raise BadAnswer(SYSTEM, f"GET {BASE}: no items list")
        return [dict(i) for i in items]

    def case(self, ref: str) -> dict[str, Any]:
        return self._item(self._call("GET", f"{BASE}/{quote(ref, safe='')}"))

    def update(self, ref: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._item(self._call("PATCH", f"{BASE}/{quote(ref, safe='')}", json=dict(payload)))

    def create(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._item(self._call("POST", BASE, json=dict(payload)))

    # -- NativeClient ----------------------------------------------------------------------

    def poll(self) -> Iterator[dict[str, Any]]:
        """Every centre-born record; those the hub created here are left out (no loop)."""
        return (r for r in self.cases() if not created_by_hub(r, self.fmap))

    def fetch(self, ref: str) -> dict[str, Any]:
        return self.case(ref)

    def push(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``{"op", "ref", "payload"}`` from :func:`~.updates.from_hub`."""
        if update.get("op") == "create":
            return self.create(update["payload"])
        if update.get("op") == "update" and update.get("ref"):
            return self.update(str(update["ref"]), update["payload"])
        raise Refused(SYSTEM, f"no API operation {update.get('op')!r}")

    @staticmethod
    def _item(answer: Mapping[str, Any]) -> dict[str, Any]:
        item = answer.get("item")
        if not isinstance(item, dict):
            raise BadAnswer(SYSTEM, "answer has no item object")
        return item

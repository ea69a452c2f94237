"""Wire client for any configured ministry system (paths and auth from ``ministries.json``).

One method, :meth:`MinistryClient._call`, does HTTP through the ``httpx.Client`` the caller
passes in; every failure becomes an :mod:`adapters.base` error (``raise ... from exc``).
``push`` posts native records and updates to the ministry; ``poll`` / ``fetch`` read its
records (a pull ministry's intake; a push ministry's reconciliation feed).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.ministry.config import Ministry
from adapters.ministry.mapping import get_path
from adapters.ministry.updates import created_by_hub


class MinistryClient:
    """A ministry's API; also the :class:`~adapters.base.NativeClient` the kit drives."""

    def __init__(self, http: httpx.Client, ministry: Ministry, *, token: str) -> None:
        self.http, self.m, self.token = http, ministry, token

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; the decoded JSON of a 2xx answer, else a typed error."""
        system, where = self.m.system, f"{method} {path}"
        headers = {self.m.auth_header: self.m.auth_prefix + self.token}
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(system, f"{where} timed out") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(system, f"{where} unreachable: {exc}") from exc
        status = response.status_code
        if status >= 500:
            raise Unavailable(system, f"{where} answered {status}", status=status)
        if status in (401, 403):
            raise AuthFailed(system, f"{where}: credentials refused", status=status)
        try:
            answer = response.json()
        except ValueError as exc:
            raise BadAnswer(system, f"{where}: not JSON", status=status) from exc
        if status >= 400:
            detail = answer.get("error") if isinstance(answer, dict) else None
            raise Refused(system, f"{where}: {detail or status}", status=status)
        return answer

    def _path(self, name: str, ref: str | None = None) -> str:
        path = self.m.paths[name]
        return path.replace("{ref}", quote(ref, safe="")) if ref is not None else path

    def records(self) -> list[dict[str, Any]]:
        found = get_path(self._call("GET", self._path("records")), self.m.paths["list_key"])
        if not isinstance(found, list):
            raise BadAnswer(self.m.system, f"no list at {self.m.paths['list_key']}")
        return [dict(r) for r in found]

    def record(self, ref: str) -> dict[str, Any]:
        return self._item(self._call("GET", self._path("record", ref)))

    def update(self, ref: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        method = self.m.paths.get("update_method", "POST")
        return self._item(self._call(method, self._path("update", ref), json=dict(payload)))

    def create(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return self._item(self._call("POST", self._path("intake"), json=dict(record)))

    # -- NativeClient ----------------------------------------------------------------------

    def poll(self) -> Iterator[dict[str, Any]]:
        """The ministry's own records; those the hub created there are left out (no loop)."""
        return (r for r in self.records() if not created_by_hub(self.m, r))

    def fetch(self, ref: str) -> dict[str, Any]:
        return self.record(ref)

    def push(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``{"op", "ref", "payload"}`` from :func:`~.updates.from_hub`."""
        if update.get("op") == "create":
            return self.create(update["payload"])
        if update.get("op") == "update" and update.get("ref"):
            return self.update(str(update["ref"]), update["payload"])
        raise Refused(self.m.system, f"no operation {update.get('op')!r}")

    def _item(self, answer: Any) -> dict[str, Any]:
        item = get_path(answer, self.m.paths["item_key"]) if isinstance(answer, dict) else None
        if not isinstance(item, dict):
            raise BadAnswer(self.m.system, f"no record at {self.m.paths['item_key']}")
        return item

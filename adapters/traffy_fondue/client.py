"""Wire client for Traffy Fondue's partner Exchange API.

One method, :meth:`TraffyClient._call`, does HTTP, through an ``httpx.Client`` the caller
passes in (base URL, proxies, timeouts, or a ``MockTransport`` / ``WSGITransport`` in tests).
Every failure becomes one of the :mod:`adapters.base` errors (``raise ... from exc``); nothing
from httpx escapes. Answers are ``{"status": "success"|"fail"|"warning", "message",
"results"}``, sometimes preceded by stray PHP-style warning text, so :func:`parse_answer`
looks for the first JSON object that carries a ``status``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.traffy_fondue.mapping import SYSTEM
from adapters.traffy_fondue.updates import created_by_hub

log = logging.getLogger(__name__)
_DECODER = json.JSONDecoder()


def parse_answer(text: str) -> dict[str, Any]:
    """The answer object in ``text``, skipping any junk printed before it."""
    start = text.find("{")
    while start != -1:
        try:
            found, _ = _DECODER.raw_decode(text, start)
        except ValueError:
            found = None
        if isinstance(found, dict) and "status" in found:
            return found
        start = text.find("{", start + 1)
    raise BadAnswer(SYSTEM, f"no answer object in {text[:120]!r}")


class TraffyClient:
    """Partner API operations; also the :class:`~adapters.base.NativeClient` the kit drives."""

    def __init__(
        self, http: httpx.Client, *, user: str, password: str, org_ids: Sequence[int] = ()
    ) -> None:
        self.http, self.user, self.password, self.org_ids = http, user, password, list(org_ids)
        self._token: str | None = None

    # -- the one HTTP method -----------------------------------------------------------------

    def _call(self, method: str, op: str, *, retry_auth: bool = True, **kwargs: Any) -> Any:
        """One partner-API call; ``results`` of a success or warning, else a typed error."""
        headers = {"Authorization": f"Bearer {self._login()}"} if op != "get-auth/v1" else {}
        try:
            response = self.http.request(method, op, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(SYSTEM, f"{op} timed out") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(SYSTEM, f"{op} unreachable: {exc}") from exc
        if response.status_code == 401 and retry_auth and op != "get-auth/v1":
            self._token = None  # expired: log in again, once
            return self._call(method, op, retry_auth=False, **kwargs)
        return self._results(op, response)

    def _results(self, op: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status >= 500:
            raise Unavailable(SYSTEM, f"{op} answered {status}", status=status)
        answer = parse_answer(response.text)
        message = str(answer.get("message", ""))
        if status in (401, 403):
            raise AuthFailed(SYSTEM, f"{op}: {message or status}", status=status)
        if status >= 400 or answer["status"] == "fail":
            raise Refused(SYSTEM, f"{op}: {message or 'refused'}", status=status)
        if answer["status"] == "warning":
            log.warning("traffy %s: %s", op, message)
        elif answer["status"] != "success":
            raise BadAnswer(SYSTEM, f"{op}: unknown status {answer['status']!r}", status=status)
        return answer.get("results")

    def _login(self) -> str:
        if self._token is None:
            results = self._call(
                "POST", "get-auth/v1", json={"user": self.user, "pass": self.password}
            )
            if not isinstance(results, Mapping) or not results.get("token"):
                raise AuthFailed(SYSTEM, "get-auth/v1 gave no token")
            self._token = str(results["token"])
        return self._token

    # -- operations ------------------------------------------------------------------------

    def issues(self, *, duration: str = "all", **filters: Any) -> list[dict[str, Any]]:
        """``get-issues/v2``: summaries (no ``orgs``/``timeline``) for our organisations."""
        params = {"duration": duration, **filters}
        if self.org_ids:
            params.setdefault("org_id", ",".join(map(str, self.org_ids)))
        return self._list(self._call("GET", "get-issues/v2", params=params), "get-issues/v2")

    def issue(self, ticket_id: str) -> dict[str, Any]:
        """``get-issue/v1``: one issue with ``orgs[]`` and ``timeline[]``."""
        found = self._call("GET", "get-issue/v1", params={"ticket_id": ticket_id})
        if isinstance(found, list) and len(found) == 1:
            found = found[0]
        if not isinstance(found, dict) or "ticket_id" not in found:
            raise BadAnswer(SYSTEM, f"get-issue/v1 {ticket_id}: no issue in the answer")
        return found

    def new_issue(self, payload: Mapping[str, Any]) -> str:
        """``new-issue/v1``; the new (or, for a known ``client_ticket_id``, the old) ticket id."""
        found = self._call("POST", "new-issue/v1", json=dict(payload))
        ticket = found.get("ticket_id") if isinstance(found, Mapping) else None
        if not ticket:
            raise BadAnswer(SYSTEM, "new-issue/v1 gave no ticket_id")
        return str(ticket)

    def update_issue(self, payload: Mapping[str, Any]) -> Any:
        """``update-issue/v1`` (``note`` required, state by ``state_name``)."""
        return self._call("PATCH", "update-issue/v1", json=dict(payload))

    def join_forward(self, payload: Mapping[str, Any]) -> Any:
        """``join-forward/v1``: scenario 1 invites a co-handler, 2 forwards."""
        return self._call("POST", "join-forward/v1", json=dict(payload))

    # -- NativeClient ----------------------------------------------------------------------

    def poll(self) -> Iterator[dict[str, Any]]:
        """Every Traffy-born issue in full; issues the hub created here are left out (no loop)."""
        for summary in self.issues():
            if not created_by_hub(summary):
                yield self.issue(str(summary["ticket_id"]))

    def fetch(self, ref: str) -> dict[str, Any]:
        return self.issue(ref)

    def push(self, update: Mapping[str, Any]) -> Any:
        """Apply ``{"op", "payload"}`` from :func:`~adapters.traffy_fondue.updates.from_hub`."""
        operations = {
            "new-issue/v1": self.new_issue,
            "update-issue/v1": self.update_issue,
            "join-forward/v1": self.join_forward,
        }
        if update.get("op") not in operations:
            raise Refused(SYSTEM, f"no partner operation {update.get('op')!r}")
        return operations[str(update["op"])](update["payload"])

    @staticmethod
    def _list(found: Any, op: str) -> list[dict[str, Any]]:
        if isinstance(found, Mapping):  # some deployments wrap the list: {"data": [...]}
            found = found.get("data", found.get("issues"))
        if not isinstance(found, list):
            raise BadAnswer(SYSTEM, f"{op}: expected a list of issues")
        return [dict(item) for item in found]

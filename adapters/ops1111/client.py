"""Wire client for 1111's partner web service, CoreService (SOAP 1.1 over ASMX).

One method, :meth:`Ops1111Client._call`, does HTTP, through the ``httpx.Client`` the caller
passes in (base URL of the CoreService, timeouts, a ``MockTransport`` or ``WSGITransport`` in
tests). Every failure is an :mod:`adapters.base` error (``raise ... from exc``); nothing
from httpx escapes, and no error text carries a citizen id (:func:`~.mapping.redact`).

Session: ``Officer.asmx GetToken`` gives a token that every other call carries as its first
parameter; an answer with code 401 (expired or released token) logs in again, once.
:meth:`release` (or leaving the ``with`` block) calls ``ReleaseToken``.

Polling is incremental (:class:`Cursor`): ``GetCases(last_get_date_time, skip, take)``
gives cases updated at or after the watermark, oldest first (ties by ``case_id``). The
cursor holds the newest ``updated_date`` seen (as 1111 wrote it) and the ids seen at exactly
that time. Each poll reads from ``skip`` 0 at the watermark and drops the ids seen; each
further page re-reads the previous page's last case (``skip`` one less, ``take`` one more)
as an anchor, and if it is not there — a case was updated, or one joined, while we paged, so
offsets shifted — the poll starts again from ``skip`` 0. So a case updated while we page is
neither lost nor repeated, and the cursor is plain data a service persists with what it did.
Cases are joined with their area names from ``ListOfValues.asmx`` (cached; fetched again
once when a case names an area the cached lists do not know).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from adapters.base import AuthFailed, BadAnswer, Refused, Unavailable
from adapters.ops1111 import soap
from adapters.ops1111.codelists import LIST_OPERATIONS, CodeLists, with_area_names
from adapters.ops1111.mapping import SYSTEM, TABLES, parse_time, redact
from adapters.ops1111.updates import created_by_hub
from hub.vocab import UnmappedValue

SERVICES = {
    **dict.fromkeys(
        ("GetToken", "ReleaseToken", "AddOperating", "OperatingAttachment", "SetOrgSummaryResult"),
        "Officer.asmx",
    ),
    **dict.fromkeys(("AddCase", "GetCases", "GetCase"), "ManageCenter.asmx"),
    **dict.fromkeys(LIST_OPERATIONS, "ListOfValues.asmx"),
}
EXPIRED = 401
MAX_RESTARTS = 5


@dataclass
class Cursor:
    """Where incremental polling stands: the newest ``updated_date`` seen (as 1111 wrote it)
    and the ids of the cases seen at exactly that time."""

    watermark: str | None = None
    seen: set[int] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "seen": sorted(self.seen)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cursor:
        """The cursor :meth:`as_json` wrote; ValueError for anything else."""
        watermark, seen = data.get("watermark"), data.get("seen", [])
        if watermark is not None:
            parse_time(watermark, "watermark")  # UnmappedValue is a ValueError
        if not isinstance(seen, list) or not all(isinstance(i, int) for i in seen):
            raise ValueError("cursor 'seen' must be a list of case ids")
        return cls(None if watermark is None else str(watermark), set(seen))

    def take(self, summary: Mapping[str, Any]) -> bool:
        """Move past ``summary``; False if it was seen already or is older than asked for."""
        case_id, updated = int(summary["case_id"]), str(summary["updated_date"])
        at = parse_time(updated, "updated_date")
        if self.watermark is None or at > parse_time(self.watermark):
            self.watermark, self.seen = updated, {case_id}
            return True
        if at < parse_time(self.watermark) or case_id in self.seen:
            return False
        self.seen.add(case_id)
        return True


def _key(summary: Mapping[str, Any]) -> tuple[datetime, int]:
    return parse_time(summary["updated_date"], "updated_date"), int(summary["case_id"])


class Ops1111Client:
    """CoreService operations; also the :class:`~adapters.base.NativeClient` the kit drives."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        username: str,
        password: str,
        page_size: int = 100,
        since: str | None = None,
    ) -> None:
        self.http, self.username, self.password, self.page_size = (
            http,
            username,
            password,
            page_size,
        )
        self.cursor = Cursor(since)
        self._token: str | None = None
        self._lists: CodeLists | None = None
        self._case_ids: dict[str, int] = {}

    # -- the one HTTP method -----------------------------------------------------------------

    def _call(
        self, operation: str, params: Mapping[str, Any] | None = None, *, retry: bool = True
    ) -> Any:
        """One CoreService call: the ``data`` of a successful answer, else a typed error."""
        fields = dict(params or {})
        if operation != "GetToken":
            fields = {"token": self._login()} | fields
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": soap.action(operation)}
        try:
            response = self.http.post(
                SERVICES[operation], content=soap.request(operation, fields), headers=headers
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(SYSTEM, f"{operation} timed out") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(SYSTEM, f"{operation} unreachable: {redact(str(exc))}") from exc
        try:
            return self._data(operation, response)
        except AuthFailed:
            if operation in ("GetToken", "ReleaseToken") or not retry:
                raise
            self._token = None  # expired: log in again, once
            return self._call(operation, params, retry=False)

    @staticmethod
    def _data(operation: str, response: httpx.Response) -> Any:
        status = response.status_code
        if b"Envelope" not in response.content[:2048]:
            kind = Unavailable if status >= 500 else AuthFailed if status in (401, 403) else None
            if kind is not None:
                raise kind(SYSTEM, f"{operation} answered HTTP {status}", status=status)
        answer = soap.parse_response(response.content, operation, status=status)
        if not isinstance(answer, Mapping) or "success" not in answer:
            raise BadAnswer(SYSTEM, f"{operation}: no success flag in the result", status=status)
        if answer["success"] is True:
            return answer.get("data")
        code, message = int(answer.get("code") or 0), redact(str(answer.get("message") or ""))
        detail = f"{operation}: {message or 'refused'} (code {code})"
        if code in (EXPIRED, 403):
            raise AuthFailed(SYSTEM, detail, status=code)
        raise (Unavailable if code >= 500 else Refused)(SYSTEM, detail, status=code)

    # -- session ---------------------------------------------------------------------------

    def _login(self) -> str:
        if self._token is None:
            found = self._call("GetToken", {"username": self.username, "password": self.password})
            if not isinstance(found, Mapping) or not found.get("token"):
                raise AuthFailed(SYSTEM, "GetToken gave no token")
            self._token = str(found["token"])
        return self._token

    def release(self) -> None:
        """``ReleaseToken``: end the session (a no-op without one)."""
        if self._token is not None:
            try:
                self._call("ReleaseToken")
            finally:
                self._token = None

    def __enter__(self) -> Ops1111Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    # -- code lists ------------------------------------------------------------------------

    def code_lists(self, *, refresh: bool = False) -> CodeLists:
        """Every ListOfValues list (cached)."""
        if self._lists is None or refresh:
            lists = {op: self._rows(op, self._call(op)) for op in LIST_OPERATIONS}
            self._lists = CodeLists(lists)
        return self._lists

    def unmapped_codes(self) -> list[str]:
        """Ids ListOfValues offers today that ``tables.json`` lacks (check it at start-up)."""
        return self.code_lists(refresh=True).unmapped(TABLES)

    def _joined(self, case: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return with_area_names(case, self.code_lists())
        except UnmappedValue:  # a new area since the lists were read: read them once more
            return with_area_names(case, self.code_lists(refresh=True))

    # -- operations ------------------------------------------------------------------------

    @property
    def watermark(self) -> str | None:
        """The newest ``updated_date`` seen, as 1111 wrote it."""
        return self.cursor.watermark

    def cases_since(self) -> Iterator[dict[str, Any]]:
        """``GetCases`` summaries changed since the cursor, moving it as they come (see the
        module docstring); after each yield :attr:`cursor` includes the case yielded."""
        restarts = 0
        skip, anchor = 0, None
        while True:
            mark = self.cursor.watermark
            take = self.page_size + (anchor is not None)
            page = self._rows(
                "GetCases",
                self._call("GetCases", {"last_get_date_time": mark, "skip": skip, "take": take}),
            )
            if anchor is not None and (not page or _key(page[0]) != anchor):
                restarts += 1  # offsets shifted under us: read again from the watermark
                if restarts > MAX_RESTARTS:
                    raise Unavailable(SYSTEM, "GetCases kept changing while we paged")
                skip, anchor = 0, None
                continue
            for summary in page:
                if self.cursor.take(summary):
                    yield summary
            if len(page) < take:
                return
            skip, anchor = self._next_page(page, mark, skip), _key(page[-1])

    def _next_page(self, page: list[dict[str, Any]], mark: str | None, skip: int) -> int:
        """``skip`` that makes the next page start with this page's last case (the anchor)."""
        last = _key(page[-1])[0]
        at_last = [i for i, s in enumerate(page) if _key(s)[0] == last]
        if mark is not None and parse_time(mark) == last:
            return skip + len(page) - 1  # the whole page is at the watermark it asked for
        return len(page) - 1 - at_last[0]

    def case(self, case_code: str) -> dict[str, Any]:
        """``GetCase``: one case in full (operatings, summary), joined with its area names."""
        found = self._call("GetCase", {"case_code": case_code})
        if not isinstance(found, Mapping) or "case_code" not in found:
            raise BadAnswer(SYSTEM, f"GetCase {case_code}: no case in the answer")
        self._case_ids[str(found["case_code"])] = int(found["case_id"])
        return self._joined(found)

    def add_case(self, payload: Mapping[str, Any], area_code: str | None = None) -> int:
        """``AddCase``; the new (or, for a known ``case_code``, the old) ``case_id``."""
        fields = dict(payload) | (self.code_lists().ids_for(area_code) if area_code else {})
        found = self._call("AddCase", fields)
        if not isinstance(found, Mapping) or "case_id" not in found:
            raise BadAnswer(SYSTEM, "AddCase gave no case_id")
        return int(found["case_id"])

    def add_operating(self, case_code: str, payload: Mapping[str, Any]) -> Any:
        """``AddOperating``: one handling step by one organisation."""
        return self._call("AddOperating", {"case_id": self._case_id(case_code), **payload})

    def operating_attachment(self, operating_id: int, payload: Mapping[str, Any]) -> Any:
        """``OperatingAttachment``: metadata of an official letter on an operating."""
        return self._call("OperatingAttachment", {"operating_id": operating_id, **payload})

    def set_org_summary_result(self, case_code: str, payload: Mapping[str, Any]) -> Any:
        """``SetOrgSummaryResult``: the case's status and result."""
        return self._call("SetOrgSummaryResult", {"case_id": self._case_id(case_code), **payload})

    def _case_id(self, case_code: str) -> int:
        if case_code not in self._case_ids:
            self.case(case_code)
        return self._case_ids[case_code]

    # -- NativeClient ----------------------------------------------------------------------

    def poll(self) -> Iterator[dict[str, Any]]:
        """Every 1111-born case changed since the last poll, in full; hub-made ones left out."""
        for summary in self.cases_since():
            if not created_by_hub(summary):
                yield self.case(str(summary["case_code"]))

    def fetch(self, ref: str) -> dict[str, Any]:
        return self.case(ref)

    def push(self, update: Mapping[str, Any]) -> Any:
        """Apply ``{"op", ...}`` from :func:`~adapters.ops1111.updates.from_hub`."""
        op = update.get("op")
        if op == "AddCase":
            return self.add_case(update["payload"], update.get("area_code"))
        if op == "AddOperating":
            return self.add_operating(str(update["case_code"]), update["payload"])
        if op == "SetOrgSummaryResult":
            return self.set_org_summary_result(str(update["case_code"]), update["payload"])
        raise Refused(SYSTEM, f"no CoreService operation {op!r}")

    @staticmethod
    def _rows(operation: str, found: Any) -> list[dict[str, Any]]:
        if not isinstance(found, list) or not all(isinstance(r, Mapping) for r in found):
            raise BadAnswer(SYSTEM, f"{operation}: expected a list of objects")
        return [dict(r) for r in found]

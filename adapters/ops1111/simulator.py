"""1111's CoreService in a Flask app: in-memory, for tests and the conformance kit.

It answers SOAP 1.1 like ASMX does: ``POST /Officer.asmx``, ``/ManageCenter.asmx`` and
``/ListOfValues.asmx`` with ``text/xml`` and a ``SOAPAction`` that must name the body's
operation; results are JSON strings ``{"success", "code", "message", "data"}`` inside
``<OpResult>`` (``double_encode`` serialises them twice, as some ASMX services do); a request
it cannot read is a SOAP Fault with HTTP 500. Tokens from ``GetToken`` expire after
``token_ttl`` (answer code 401). Code lists are the fixture snapshot unless given.
Behaviour the adapter relies on: ``AddCase`` is idempotent on ``case_code``; an operating on
an open case puts it "in progress" (status 5); a finished case (8–11) takes no operating
until ``SetOrgSummaryResult`` reopens it (12).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, request

from adapters.base import BadAnswer
from adapters.ops1111 import soap
from adapters.ops1111.client import SERVICES
from adapters.ops1111.codelists import LIST_OPERATIONS, CodeLists, snapshot
from adapters.ops1111.mapping import BANGKOK, parse_time

Clock = Callable[[], datetime]
FINISHED = {8, 9, 10, 11}
MOVES_TO_IN_PROGRESS = {1, 2, 3, 4, 6, 7, 12}
MAX_TAKE = 500
REQUIRED_CASE = ("case_code", "type_id", "channel_id", "organization_id", "detail")
INTS = {"case_id", "type_id", "status_id", "organization_id", "channel_id", "province_id"}
INTS |= {"district_id", "subdistrict_id", "terminal_org_id", "severity_id", "secret_id"}
INTS |= {"skip", "take", "operating_id", "terminal_owner_id"}


class Failed(Exception):
    """A refusal answered inside the JSON result (``success`` false, ``code``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Store:
    """Cases by ``case_id``, tokens, and the serials the service hands out."""

    def __init__(self, cases: Iterable[Mapping[str, Any]], lists: CodeLists) -> None:
        self.cases = {int(c["case_id"]): _stored(c) for c in cases}
        self.lists, self.lock = lists, threading.Lock()
        self.tokens: dict[str, datetime] = {}
        self.next_case = max(self.cases, default=880000) + 1
        ops = [o["operating_id"] for c in self.cases.values() for o in c["operatings"]]
        self.next_operating = max(ops, default=5000) + 1

    def by_code(self, code: str) -> dict[str, Any]:
        for case in self.cases.values():
            if case["case_code"] == code:
                return case
        raise Failed(404, f"ไม่พบเรื่อง {code}")

    def get(self, case_id: int) -> dict[str, Any]:
        if case_id not in self.cases:
            raise Failed(404, f"ไม่พบเรื่อง case_id {case_id}")
        return self.cases[case_id]


def _stored(case: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: copy.deepcopy(v) for k, v in case.items() if k != "area_names"}
    return {"operatings": [], "summary": None} | kept


def _local(now: datetime) -> str:
    return now.astimezone(BANGKOK).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def _typed(params: Mapping[str, str]) -> dict[str, Any]:
    try:
        return {k: int(v) if k in INTS and v != "" else v for k, v in params.items()}
    except ValueError as exc:
        raise ValueError(f"Input string was not in a correct format. {exc}") from exc


def create_simulator(
    cases: Iterable[Mapping[str, Any]] = (),
    *,
    users: Mapping[str, str] | None = None,
    lists: CodeLists | None = None,
    clock: Clock = lambda: datetime.now(UTC),
    token_ttl: timedelta = timedelta(minutes=30),
    double_encode: bool = False,
) -> Flask:
    """The simulator app; ``app.extensions["ops1111_store"]`` is its :class:`Store`."""
    app = Flask("ops1111_simulator")
    store = Store(cases, lists or snapshot())
    app.extensions["ops1111_store"] = store
    accounts = dict(users or {"hub": "hub-secret"})
    operations = _operations(store, accounts, clock, token_ttl)

    def answer(operation: str, result: Any, status: int = 200) -> Response:
        payload = json.dumps(result, ensure_ascii=False) if double_encode else result
        return Response(soap.response(operation, payload), status, content_type=soap.CONTENT_TYPE)

    def fault(code: str, message: str) -> Response:
        return Response(soap.fault(code, message), 500, content_type=soap.CONTENT_TYPE)

    @app.post("/<service>")
    def serve(service: str) -> Response:
        try:
            operation, params = soap.parse_request(request.get_data())
        except BadAnswer:
            return fault("Client", "Server was unable to read request.")
        wanted = request.headers.get("SOAPAction", "").strip('"')
        if wanted != soap.NS + operation or SERVICES.get(operation) != service:
            return fault("Client", f"Server did not recognize the value of SOAPAction: {wanted}.")
        try:
            fields = _typed(params)
            with store.lock:
                if operation != "GetToken":
                    _authorise(store, str(fields.pop("token", "")), clock())
                data = operations[operation](fields)
        except Failed as no:
            return answer(operation, {"success": False, "code": no.code, "message": no.message})
        except (ValueError, KeyError) as exc:
            return fault("Client", f"Server was unable to process request. ---> {exc}")
        return answer(operation, {"success": True, "code": 200, "message": "สำเร็จ", "data": data})

    return app


def _authorise(store: Store, token: str, now: datetime) -> None:
    expires = store.tokens.get(token)
    if expires is None or expires <= now:
        store.tokens.pop(token, None)
        raise Failed(401, "Token ไม่ถูกต้องหรือหมดอายุ")


def _operations(
    store: Store, accounts: Mapping[str, str], clock: Clock, ttl: timedelta
) -> dict[str, Callable[[dict[str, Any]], Any]]:
    def get_token(f: dict[str, Any]) -> Any:
        if accounts.get(str(f.get("username"))) != f.get("password"):
            raise Failed(403, "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง")
        token = secrets.token_hex(16)
        store.tokens[token] = clock() + ttl
        return {"token": token, "expires": _local(clock() + ttl)}

    def get_cases(f: dict[str, Any]) -> Any:
        since = f.get("last_get_date_time")
        found = sorted(
            (c for c in store.cases.values() if not since or _at(c) >= parse_time(since)),
            key=lambda c: (_at(c), c["case_id"]),
        )
        skip, take = int(f.get("skip", 0)), min(int(f.get("take", 100)), MAX_TAKE)
        keys = ("case_id", "case_code", "status_id", "updated_date")
        return [{k: c[k] for k in keys} for c in found[skip : skip + take]]

    def get_case(f: dict[str, Any]) -> Any:
        case = store.get(f["case_id"]) if f.get("case_id") else store.by_code(f["case_code"])
        return copy.deepcopy(case)

    def add_case(f: dict[str, Any]) -> Any:
        try:
            known = store.by_code(f["case_code"])
            return {"case_id": known["case_id"], "case_code": known["case_code"]}
        except Failed:
            pass
        _require(f, *REQUIRED_CASE)
        _known(store, f, ("type_id", "GetCaseTypes"), ("channel_id", "GetChannels"))
        _known(store, f, ("organization_id", "GetOrganizations"), ("province_id", "GetProvinces"))
        _known(store, f, ("district_id", "GetDistricts"), ("subdistrict_id", "GetSubdistricts"))
        now = _local(clock())
        case = _stored(f | {"case_id": store.next_case, "status_id": 1, "updated_date": now})
        case.setdefault("created_date", now)
        store.cases[store.next_case], store.next_case = case, store.next_case + 1
        return {"case_id": case["case_id"], "case_code": case["case_code"]}

    def add_operating(f: dict[str, Any]) -> Any:
        _require(f, "case_id", "terminal_org_id", "detail")
        case = store.get(f.pop("case_id"))
        _known(store, f, ("terminal_org_id", "GetOrganizations"))
        if case["status_id"] in FINISHED:
            raise Failed(409, "เรื่องยุติแล้ว ต้องเปิดเรื่องใหม่ก่อนบันทึกการดำเนินการ")
        now = _local(clock())
        operating = {"operating_id": store.next_operating, "date_opened": now, "date_closed": None}
        operating |= {k: v for k, v in f.items() if v not in ("", None)} | {"attachments": []}
        store.next_operating += 1
        case["operatings"].append(operating)
        if case["status_id"] in MOVES_TO_IN_PROGRESS:
            case["status_id"] = 5
        case["updated_date"] = now
        return {"operating_id": operating["operating_id"]}

    def operating_attachment(f: dict[str, Any]) -> Any:
        wanted = f.pop("operating_id")
        for case in store.cases.values():
            for operating in case["operatings"]:
                if operating["operating_id"] == wanted:
                    operating["attachments"].append(f)
                    case["updated_date"] = _local(clock())
                    return {"operating_id": wanted}
        raise Failed(404, f"ไม่พบการดำเนินการ {wanted}")

    def set_summary(f: dict[str, Any]) -> Any:
        _require(f, "case_id", "status_id")
        case = store.get(f["case_id"])
        _known(store, f, ("status_id", "GetCaseStatuses"))
        case["status_id"], case["updated_date"] = f["status_id"], _local(clock())
        case["summary"] = {"status_id": f["status_id"], "result": f.get("result", "")}
        return {"case_id": case["case_id"], "status_id": case["status_id"]}

    def release(f: dict[str, Any]) -> Any:
        return {"released": True}

    listed = {op: _list_of_values(store, op) for op in LIST_OPERATIONS}
    return listed | {
        "GetToken": get_token,
        "ReleaseToken": release,
        "GetCases": get_cases,
        "GetCase": get_case,
        "AddCase": add_case,
        "AddOperating": add_operating,
        "OperatingAttachment": operating_attachment,
        "SetOrgSummaryResult": set_summary,
    }


def _at(case: Mapping[str, Any]) -> datetime:
    return parse_time(case["updated_date"])


def _require(fields: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if fields.get(name) in (None, "")]
    if missing:
        raise Failed(400, f"ต้องระบุ {', '.join(missing)}")


def _known(store: Store, fields: Mapping[str, Any], *pairs: tuple[str, str]) -> None:
    for name, operation in pairs:
        if fields.get(name) not in (None, "") and not store.lists.knows(
            operation, fields.get(name, "")
        ):
            raise Failed(400, f"{name} {fields.get(name)!r} ไม่มีใน {operation}")


def _list_of_values(store: Store, operation: str) -> Callable[[dict[str, Any]], Any]:
    def listed(f: dict[str, Any]) -> Any:
        rows = store.lists.lists[operation]
        parent = next((k for k in ("province_id", "district_id") if f.get(k)), None)
        return [dict(r) for r in rows if parent is None or r.get(parent) == f[parent]]

    return listed

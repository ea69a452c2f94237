"""A Traffy Fondue partner Exchange API in a Flask app: in-memory, for tests and the kit.

It behaves like the API the adapter talks to, quirks included: a token from ``get-auth/v1``
(a short-lived HS256 JWT with a per-app secret), answers wrapped in ``{"status", "message",
"results"}``, optional stray warning text before the JSON (``stray_warning``), ``note``
required on updates, ``client_ticket_id`` idempotency on new issues, and a loop guard on
join-forward (``recursive_counter`` above :data:`MAX_RECURSION` is refused).

Besides the partner API it plays the rest of Traffy for tests: :meth:`Store.report` is a
citizen filing a ticket in the Traffy app, and with ``webhook_url`` every new ticket and
every status change is announced there (``{"event": "new_issue" | "status_change",
"ticket_id"}``, posted from a background thread, failures ignored as a real webhook
sender's would be after its retries).
"""

from __future__ import annotations

import contextlib
import copy
import json
import queue
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from flask import Flask, Response, request

from adapters.traffy_fondue.mapping import BANGKOK, TABLES

MAX_RECURSION = 5
WARNING = (
    "<br />\n<b>Warning</b>:  Undefined index: org_id in /var/www/api/v1.php on line 42<br />\n"
)
Clock = Callable[[], datetime]


class Store:
    """Issues by ticket id, the client-id index, and the organisations directory."""

    def __init__(self, issues: Iterable[Mapping[str, Any]], orgs: Mapping[int, str]) -> None:
        self.issues = {str(i["ticket_id"]): copy.deepcopy(dict(i)) for i in issues}
        self.by_client = {
            str(i["client_ticket_id"]): t
            for t, i in self.issues.items()
            if i.get("client_ticket_id")
        }
        self.orgs, self.lock, self.serial = dict(orgs), threading.Lock(), 0
        self.notify: Callable[[str, str], None] = lambda event, ticket: None

    def find(self, args: Mapping[str, Any]) -> dict[str, Any] | None:
        ticket = args.get("ticket_id") or self.by_client.get(str(args.get("client_ticket_id")))
        return self.issues.get(str(ticket)) if ticket else None

    def report(self, issue: Mapping[str, Any]) -> str:
        """A citizen files a ticket in the Traffy app (not through the partner API)."""
        with self.lock:
            record = copy.deepcopy(dict(issue))
            ticket = str(record["ticket_id"])
            self.issues[ticket] = record
        self.notify("new_issue", ticket)
        return ticket


class _Webhooks:
    """Posts webhook calls in order from one background thread."""

    def __init__(self, url: str) -> None:
        self.url, self.calls = url, queue.SimpleQueue[dict[str, str]]()
        threading.Thread(target=self._run, name="traffy-webhooks", daemon=True).start()

    def __call__(self, event: str, ticket: str) -> None:
        self.calls.put({"event": event, "ticket_id": ticket})

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while True:
                call = self.calls.get()
                with contextlib.suppress(httpx.HTTPError):  # down: Traffy would give up too
                    http.post(self.url, json=call)


def _answer(
    app: Flask, status: str, message: str, results: Any = None, code: int = 200
) -> Response:
    text = json.dumps(
        {"status": status, "message": message, "results": results}, ensure_ascii=False
    )
    prefix = WARNING if app.config.get("STRAY_WARNING") else ""
    return Response(prefix + text, code, mimetype="application/json")


def _local(now: datetime) -> str:
    return now.astimezone(BANGKOK).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def create_simulator(
    issues: Iterable[Mapping[str, Any]] = (),
    *,
    users: Mapping[str, str] | None = None,
    orgs: Mapping[int, str] | None = None,
    clock: Clock = lambda: datetime.now(UTC),
    stray_warning: bool = False,
    webhook_url: str | None = None,
) -> Flask:
    """The simulator app; ``app.extensions["traffy_store"]`` is its :class:`Store`."""
    app = Flask("traffy_simulator")
    app.config["STRAY_WARNING"] = stray_warning
    store = Store(issues, orgs or {1001: "เขตหนองจอก", 2002: "การประปานครหลวง กปน."})
    if webhook_url:
        store.notify = _Webhooks(webhook_url)
    app.extensions["traffy_store"] = store
    secret, accounts = secrets.token_bytes(32), dict(users or {"hub": "hub-secret"})

    def answer(status: str, message: str, results: Any = None, code: int = 200) -> Response:
        return _answer(app, status, message, results, code)

    @app.before_request
    def authenticate() -> Response | None:
        if request.path.endswith("get-auth/v1"):
            return None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            jwt.decode(token, secret, algorithms=["HS256"], audience="traffy-partner")
        except jwt.PyJWTError:
            return answer("fail", "invalid or expired token", code=401)
        return None

    @app.post("/get-auth/v1")
    def get_auth() -> Response:
        body = request.get_json(silent=True) or {}
        if accounts.get(str(body.get("user"))) != body.get("pass"):
            return answer("fail", "wrong user or pass", code=401)
        now = clock()
        claims = {
            "sub": body["user"],
            "aud": "traffy-partner",
            "iat": now,
            "exp": now + timedelta(hours=1),
        }
        return answer("success", "ok", {"token": jwt.encode(claims, secret, algorithm="HS256")})

    @app.get("/get-issues/v2")
    def get_issues() -> Response:
        with store.lock:
            found = [
                _summary(i) for i in store.issues.values() if _matches(i, request.args, clock())
            ]
        return answer("success", f"{len(found)} issues", found)

    @app.get("/get-issue/v1")
    def get_issue() -> Response:
        with store.lock:
            issue = store.find(request.args)
            return (
                answer("success", "ok", copy.deepcopy(issue))
                if issue
                else answer("fail", "no such issue", code=404)
            )

    @app.post("/new-issue/v1")
    def new_issue() -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("latitude") is None or body.get("longitude") is None:
            return answer("fail", "latitude and longitude are required", code=400)
        label = body.get("category_name_th")
        if label and label not in TABLES["category"]:
            return answer("fail", f"unknown category {label}", code=400)
        with store.lock:
            known = store.by_client.get(str(body.get("client_ticket_id")))
            if known:
                return answer("success", "already created", {"ticket_id": known})
            ticket = _create(store, body, _local(clock()))
        store.notify("new_issue", ticket)
        return answer("success", "created", {"ticket_id": ticket})

    @app.patch("/update-issue/v1")
    def update_issue() -> Response:
        body = request.get_json(silent=True) or {}
        if not body.get("note"):
            return answer("fail", "note is required", code=400)
        state = str(body.get("state_name"))
        if state not in TABLES["state"]:
            return answer("fail", f"unknown state_name {state}", code=400)
        with store.lock:
            issue = store.find(body)
            if issue is None:
                return answer("fail", "no such issue", code=404)
            _set_state(issue, state, body["note"], _local(clock()))
            issue["photo_after"] = [
                *(issue.get("photo_after") or []),
                *(p["url"] for p in body.get("photo_after", [])),
            ]
        store.notify("status_change", str(issue["ticket_id"]))
        return answer("success", "updated", {"ticket_id": issue["ticket_id"]})

    @app.post("/join-forward/v1")
    def join_forward() -> Response:
        body = request.get_json(silent=True) or {}
        if int(body.get("recursive_counter") or 0) > MAX_RECURSION:
            return answer("fail", "recursive_counter exceeded: forwarding loop", code=400)
        if body.get("scenario") not in (1, 2) or not body.get("note"):
            return answer("fail", "scenario 1|2 and note are required", code=400)
        with store.lock:
            issue = store.find(body)
            unknown = [o for o in body.get("destination_group", []) if o not in store.orgs]
            if issue is None or unknown or not body.get("destination_group"):
                return answer("fail", "unknown issue or destination", code=400)
            state = "เชิญร่วม" if body["scenario"] == 1 else "ส่งต่อ"
            _set_state(issue, state, body["note"], _local(clock()))  # the sender's status
            for org_id in body["destination_group"]:
                issue["orgs"].append(
                    {
                        "org_id": org_id,
                        "org": store.orgs[org_id],
                        "status": "รอรับเรื่อง",
                        "status_type": "waiting",
                    }
                )
        store.notify("status_change", str(issue["ticket_id"]))
        return answer("success", "ok", {"ticket_id": issue["ticket_id"]})

    return app


def _summary(issue: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in issue.items() if k not in ("orgs", "timeline")}


def _matches(issue: Mapping[str, Any], args: Mapping[str, Any], now: datetime) -> bool:
    if args.get("org_id"):
        wanted = {int(o) for o in str(args["org_id"]).split(",") if o}
        if not wanted & {o.get("org_id") for o in issue.get("orgs", [])}:
            return False
    if args.get("is_forward") in ("1", "true") and issue.get("state_type") != "forward":
        return False
    if args.get("is_follow") in ("1", "true") and issue.get("state_type") != "follow":
        return False
    days = {"today": 1, "3days": 3}.get(str(args.get("duration", "all")))
    if days is None:
        return True
    since = now.astimezone(BANGKOK).replace(tzinfo=None) - timedelta(days=days)
    at = datetime.fromisoformat(str(issue["timestamp"]))  # Bangkok local, or with a zone
    return (at.astimezone(BANGKOK).replace(tzinfo=None) if at.tzinfo else at) >= since


def _create(store: Store, body: Mapping[str, Any], now: str) -> str:
    store.serial += 1
    ticket = f"{now[:4]}-SIM{store.serial:03d}"
    label = body.get("category_name_th")
    org = store.orgs.get(int(body["org_id"])) if body.get("org_id") else None
    store.issues[ticket] = {
        "ticket_id": ticket,
        "client_ticket_id": body.get("client_ticket_id"),
        "type": [label] if label else [],
        "description": body.get("extra_detail", ""),
        "latitude": body["latitude"],
        "longitude": body["longitude"],
        "address": body.get("address", ""),
        "photo": list(body.get("photo", [])),
        "photo_after": [],
        "timestamp": body.get("client_timestamp") or now,
        "state": "รอรับเรื่อง",
        "state_type": "waiting",
        "star": None,
        "count_reopen": 0,
        "orgs": [
            {
                "org_id": int(body["org_id"]),
                "org": org,
                "status": "รอรับเรื่อง",
                "status_type": "waiting",
            }
        ]
        if org
        else [],
        "timeline": [
            {"timestamp": now, "status": "รอรับเรื่อง", "org": org, "note": "", "photo": None}
        ],
    }
    if body.get("client_ticket_id"):
        store.by_client[str(body["client_ticket_id"])] = ticket
    return ticket


def _set_state(issue: dict[str, Any], state: str, note: str, now: str) -> None:
    issue["state"], issue["state_type"] = state, TABLES["state_to_type"][state]
    org = issue["orgs"][-1]["org"] if issue.get("orgs") else None
    if issue.get("orgs"):
        issue["orgs"][-1] |= {"status": state, "status_type": issue["state_type"]}
    issue["last_activity"] = now
    issue.setdefault("timeline", []).append(
        {"timestamp": now, "status": state, "org": org, "note": note, "photo": None}
    )

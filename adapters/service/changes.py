"""Native change → hub messages: pure, one rule table for every adapter.

A native record first seen is a new complaint, and the hub opens its case as offered; from
then on the service compares what the record says now (a :class:`Reading`) with the
snapshot it kept — the status the hub case has in this service's view, "offered" at first —
and each step the native system took becomes the ``case.*`` message that says the same
thing (a ticket first seen finished is resolved in the hub too):

=====================  ==========================================================
native now              messages, from the status the hub case was in
=====================  ==========================================================
accepted                ``case.accept`` (if not accepted yet)
in_progress             ``case.accept`` if needed, then ``case.status``
resolved / closed       ``case.resolve`` (outcome ``fixed``, after-photos as media)
rejected                ``case.resolve`` (outcome ``irrelevant``: Traffy's ไม่เกี่ยวข้อง)
reopened                ``case.reopen``
forwarded               ``case.accept`` if needed, then ``case.forward`` — only when
                        the adapter knows which hub agency it went to
=====================  ==========================================================

A finished case that the native system takes up again (a grown reopen counter such as
Traffy's ``count_reopen``, or a finished record back in progress) is a ``case.reopen``
first. A native step the hub has no message for (back to "waiting", a forward inside the
native organisation) sends nothing and leaves the snapshot as it was, so a later step is
judged from what the hub knows. Every sequence this emits is a valid path through the
hub's status vocabulary (``tests/adapters/test_service_changes.py`` proves it for every
pair of statuses); whether it is this agency's turn is the hub's call: a message out of
turn is refused with 409 ``not-your-turn``, counted, never retried. The snapshot also
counts messages so that each gets a stable id (``<record message id>.<n>-<kind>``): a
re-send after a crash is the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BEFORE_ACCEPT = frozenset({"received", "routed", "offered", "reopened"})
HOLDING = frozenset({"accepted", "in_progress", "reopened"})
FINISHED = frozenset({"resolved", "closed", "rejected"})
DEFAULT_NOTE = {
    "case.accept": "รับเรื่องในระบบต้นทาง",
    "case.status": "มีความคืบหน้าในระบบต้นทาง",
    "case.resolve": "ดำเนินการเสร็จสิ้นในระบบต้นทาง",
    "case.reopen": "เปิดเรื่องอีกครั้งในระบบต้นทาง",
    "case.forward": "ส่งต่อในระบบต้นทาง",
}
NOTE_MAX = 4000


@dataclass(frozen=True)
class Reading:
    """What one native record says now, in hub terms (the adapter reads it)."""

    status: str
    note: str | None = None
    after: tuple[dict[str, Any], ...] = ()
    reopens: int = 0
    forward_to: str | None = None


@dataclass(frozen=True)
class Intent:
    """A message to send about a record: its type, body (``case_id`` is added when it is
    signed, once the hub has named the case) and the suffix of its message id."""

    type: str
    body: dict[str, Any] = field(default_factory=dict)
    suffix: str = ""


def detect(previous: Mapping[str, Any], now: Reading) -> tuple[list[Intent], dict[str, Any]]:
    """The messages that take the hub from ``previous`` (a snapshot) to ``now``, and the
    snapshot to keep."""
    status = str(previous.get("status") or "offered")
    events = int(previous.get("events") or 0)
    steps = _Steps(status, now)
    if now.reopens > int(previous.get("reopens") or 0) and status in FINISHED:
        steps.reopen()
    if now.status != steps.status:
        steps.towards(now.status)
    named = [
        Intent(i.type, i.body, f"{events + n + 1}-{i.type.removeprefix('case.')}")
        for n, i in enumerate(steps.out)
    ]
    kept = {"status": steps.status, "reopens": now.reopens, "events": events + len(named)}
    return named, kept


class _Steps:
    """The messages so far and the status the hub case has after them."""

    def __init__(self, status: str, now: Reading) -> None:
        self.status, self.now, self.out = status, now, list[Intent]()

    def emit(self, kind: str, body: dict[str, Any], status: str) -> None:
        self.out.append(Intent(kind, body))
        self.status = status

    def reopen(self) -> None:
        self.emit("case.reopen", {"reason": _note(self.now, "case.reopen")}, "reopened")

    def towards(self, target: str) -> None:
        if target in ("resolved", "closed", "rejected"):
            if self.status not in FINISHED:
                outcome = "irrelevant" if target == "rejected" else "fixed"
                self.emit("case.resolve", _resolve(self.now, outcome), "resolved")
            return
        forward = target == "forwarded" and self.now.forward_to is not None
        if target not in ("reopened", "accepted", "in_progress") and not forward:
            return  # no hub message says this (waiting again, an internal forward)
        if self.status in FINISHED:
            self.reopen()
        if target != "reopened" and self.status in BEFORE_ACCEPT:
            self.emit("case.accept", {"note": _note(self.now, "case.accept")}, "accepted")
        if self.status not in HOLDING:
            return
        if target == "in_progress":
            self.emit("case.status", {"note": _note(self.now, "case.status")}, "in_progress")
        elif forward:
            body = {"to": self.now.forward_to, "reason": _note(self.now, "case.forward")}
            self.emit("case.forward", body, "forwarded")


def _resolve(now: Reading, outcome: str) -> dict[str, Any]:
    body: dict[str, Any] = {"outcome": outcome, "summary": _note(now, "case.resolve")}
    if now.after:
        body["media"] = [dict(m, phase="after") for m in now.after]
    return body


def _note(now: Reading, kind: str) -> str:
    text = (now.note or "").strip()
    return (text or DEFAULT_NOTE[kind])[:NOTE_MAX]

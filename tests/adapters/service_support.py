"""Helpers for the adapter-service tests: simulators, hub agencies that act on their cases,
and native records filed the way a citizen or an officer would."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from adapters.ops1111.adapter import raw_cases
from adapters.traffy_fondue.adapter import api_fixtures
from hub.exchange.client import HubClient
from hub.exchange.receiver import open_forward
from hub.models import Case, Complaint

TRAFFY_TEMPLATE = next(i for i in api_fixtures() if i["ticket_id"] == "2023-6ZUY4U")
HOTLINE_TEMPLATE = next(c for _, c in raw_cases() if c["case_code"] == "6711-000123")


def traffy_ticket(ticket: str, n: int = 0, **changes: Any) -> dict[str, Any]:
    """A new citizen ticket (drainage, Saphan Sung, waiting) shaped like get-issue/v1; the
    ``n``-th is ~1 km from the one before, so the hub does not take them for one problem."""
    issue = copy.deepcopy(TRAFFY_TEMPLATE) | {
        "ticket_id": ticket,
        "latitude": round(TRAFFY_TEMPLATE["latitude"] + 0.01 * n, 5),
        "description": f"ท่อระบายน้ำอุดตัน หน้าบ้านเลขที่ {ticket}",
        "state": "รอรับเรื่อง",
        "state_type": "waiting",
        "orgs": [
            {"org_id": 1040, "org": "เขตสะพานสูง", "status": "รอรับเรื่อง", "status_type": "waiting"}
        ],
        "timeline": [
            {
                "timestamp": "2026-11-21 15:00:00",
                "status": "รอรับเรื่อง",
                "org": "เขตสะพานสูง",
                "note": "",
                "photo": None,
            }
        ],
        "timestamp": "2026-11-21 15:00:00",
        "last_activity": "2026-11-21 15:00:00",
    }
    return issue | changes


def hotline_case(case_id: int, code: str) -> dict[str, Any]:
    """A new 1111 case (a road in Bangkok, by hotline) as GetCase stores it."""
    case = copy.deepcopy(HOTLINE_TEMPLATE) | {"case_id": case_id, "case_code": code}
    return case | {
        "status_id": 1,
        "operatings": [],
        "summary": None,
        "detail": f"ถนนชำรุดเป็นหลุม เรื่องที่ {code}",
    }


def pull_cases(agency: HubClient) -> list[tuple[str, str]]:
    """Pull the agency's inbox, check both signatures, ack; (case id, message type) each."""
    seen: list[tuple[str, str]] = []
    while waiting := agency.pull():
        for item in waiting:
            forwarded, _ = open_forward(agency, item["jws"].encode("ascii"))
            seen.append((str(forwarded.case_id), str(forwarded.origin["type"])))
        results = agency.ack(waiting)
        assert all(r["status"] == 200 for r in results), results
    return seen


def offered(agency: HubClient) -> list[str]:
    """Case ids newly offered to the agency (complaints forwarded to it)."""
    return [case for case, kind in pull_cases(agency) if kind == "complaint.submit"]


def resolve(agency: HubClient, case_id: str, summary: str, **extra: Any) -> None:
    agency.send("case.accept", {"case_id": case_id})
    body = {"case_id": case_id, "outcome": "fixed", "summary": summary} | extra
    agency.send("case.resolve", body)


def case_of(session: Any, system: str, ref: str) -> Case | None:
    complaint = session.scalars(
        select(Complaint).where(Complaint.origin_system == system, Complaint.origin_ref == ref)
    ).first()
    return None if complaint is None else session.get(Case, complaint.case_id)


def complaints(session: Any, system: str) -> list[str]:
    """Origin refs of the complaints the hub holds from ``system`` (with repeats, if any)."""
    rows = session.scalars(select(Complaint.origin_ref).where(Complaint.origin_system == system))
    return sorted(rows)


def jsonl(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.strip().startswith("{"):
            yield json.loads(line)

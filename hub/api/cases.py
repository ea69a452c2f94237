"""Cases over HTTP: agencies on a case and oversight read it; citizens track by code."""

from __future__ import annotations

from typing import Any

from connexion import request

from hub import caseview
from hub.api.deps import Reply, caller, hub, ok
from hub.api.ratelimit import TRACKING


def list_cases(
    token_info: dict[str, Any],
    status: str | None = None,
    owner: str | None = None,
    breached: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Reply:
    with hub().transaction() as s:
        rows = caseview.list_cases(
            s,
            caller(token_info),
            status=status,
            owner=owner,
            breached=breached,
            after=after,
            limit=limit,
        )
    return ok({"cases": rows})


def get_case(token_info: dict[str, Any], case_id: str) -> Reply:
    with hub().transaction() as s:
        return ok(caseview.case_view(s, caller(token_info), case_id))


def timeline(token_info: dict[str, Any], case_id: str) -> Reply:
    with hub().transaction() as s:
        return ok({"case_id": case_id, "events": caseview.timeline(s, caller(token_info), case_id)})


def track(code: str) -> Reply:
    client = request.client.host if request.client else "unknown"
    TRACKING.take(client)
    with hub().transaction() as s:
        return ok(caseview.track(s, code))

"""Routing rules (admins) and the explanation of a routing decision (any agency)."""

from __future__ import annotations

from typing import Any

from hub import routing
from hub.api.deps import Reply, caller, hub, ok
from hub.models import RoutingRule


def list_rules(
    token_info: dict[str, Any], area: str | None = None, agency: str | None = None
) -> Reply:
    caller(token_info).require("admin")
    with hub().transaction() as s:
        return ok(
            {"rules": [rule_dict(r) for r in routing.list_rules(s, area=area, agency=agency)]}
        )


def add_rule(token_info: dict[str, Any], rule: dict[str, Any]) -> Reply:
    caller(token_info).require("admin")
    h = hub()
    with h.transaction() as s:
        row = routing.add_rule(
            s,
            area=rule["area"],
            category=rule.get("category"),
            agency=rule["agency"],
            note=rule.get("note"),
            now=h.now(),
        )
        return ok(rule_dict(row), 201)


def remove_rule(token_info: dict[str, Any], rule_id: int) -> Reply:
    caller(token_info).require("admin")
    with hub().transaction() as s:
        return ok(rule_dict(routing.remove_rule(s, rule_id)))


def explain(token_info: dict[str, Any], area: str, category: str) -> Reply:
    with hub().transaction() as s:
        d = routing.explain(s, area=area, category=category)
        return ok(
            {"agency": d.agency, "reason": d.why, "candidates": [c.as_dict() for c in d.candidates]}
        )


def rule_dict(r: RoutingRule) -> dict[str, Any]:
    return {"id": r.id, "area": r.area, "category": r.category, "agency": r.agency, "note": r.note}

"""Routing reads the registry from a per-process snapshot, re-read only when it changed."""

from __future__ import annotations

from datetime import UTC, datetime

from hub import routing
from hub.models import Agency


def _agency(code: str, areas: list[str], **extra) -> Agency:  # type: ignore[no-untyped-def]
    return Agency(
        code=code,
        name_th="หน่วยงาน",
        name_en="",
        kind=extra.get("kind", "local_government"),
        areas=areas,
        categories=extra.get("categories", []),
        roles=["submit", "receive"],
        mode="pull",
        active=True,
        created_at=datetime.now(UTC),
    )


def route(hub, category: str = "road") -> str | None:  # type: ignore[no-untyped-def]
    with hub.transaction() as s:
        return routing.route(s, category=category, province="10", amphoe="1003").agency


def test_the_snapshot_is_shared_until_an_agency_changes_then_everyone_sees_the_change(hub):
    with hub.transaction() as s:
        s.add(_agency("bkk-1003", ["1003"]))
    assert route(hub) == "bkk-1003"
    with hub.transaction() as s:
        first = routing.snapshot(s)
    with hub.transaction() as s:
        assert routing.snapshot(s) is first  # nothing changed: not read again
        s.add(_agency("bkk-roads", ["10"], categories=["road"]))
        s.get(Agency, "bkk-1003").active = False  # type: ignore[union-attr]
    with hub.transaction() as s:
        again = routing.snapshot(s)
    assert again is not first and [a.code for a in again.all] == ["bkk-roads"]
    assert route(hub) == "bkk-roads"  # the deactivated agency is never offered again


def test_an_uncommitted_change_is_never_shared(hub):
    with hub.transaction() as s:
        s.add(_agency("bkk-1003", ["1003"]))
    assert route(hub) == "bkk-1003"
    s = hub.sessions()
    try:
        s.add(_agency("bkk-other", ["1003"]))
        s.flush()
        assert {a.code for a in routing.snapshot(s).all} == {"bkk-1003", "bkk-other"}
        s.rollback()
    finally:
        s.close()
    with hub.transaction() as s2:
        assert [a.code for a in routing.snapshot(s2).all] == ["bkk-1003"]


def test_only_agencies_covering_the_areas_are_looked_at(hub):
    with hub.transaction() as s:
        s.add_all(_agency(f"lg-{i:04d}", [f"{20 + i % 50:02d}"]) for i in range(300))
        s.add(_agency("bkk-1003", ["1003"]))
    with hub.transaction() as s:
        snap = routing.snapshot(s)
        assert [a.code for a in snap.by_area["1003"]] == ["bkk-1003"]
        assert len(snap.by_area["20"]) == 6  # 300 agencies over 50 provinces
    assert route(hub) == "bkk-1003"


def test_routing_rules_live_in_the_snapshot_and_a_rule_change_is_seen_at_once(hub):
    now = datetime.now(UTC)
    with hub.transaction() as s:
        s.add(_agency("bkk-1003", ["1003"]))
        s.add(_agency("bkk-roads", ["99"]))  # covers nothing here: only a rule brings it in
    assert route(hub) == "bkk-1003"
    with hub.transaction() as s:
        rule = routing.add_rule(
            s, area="1003", category="road", agency="bkk-roads", note=None, now=now
        )
        rule_id = rule.id
        assert route_in(s) == "bkk-roads"  # the transaction that adds it routes by it
    with hub.transaction() as s:
        first = routing.snapshot(s)
        assert [r.id for r in first.rules_by_area["1003"]] == [rule_id]
    assert route(hub) == "bkk-roads"
    assert route(hub, category="water_supply") == "bkk-1003"  # the rule is for roads only
    with hub.transaction() as s:
        assert routing.snapshot(s) is first  # nothing changed: not read again
        routing.remove_rule(s, rule_id)
    with hub.transaction() as s:
        assert "1003" not in routing.snapshot(s).rules_by_area
    assert route(hub) == "bkk-1003"


def route_in(s) -> str | None:  # type: ignore[no-untyped-def]
    return routing.route(s, category="road", province="10", amphoe="1003").agency

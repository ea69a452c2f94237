"""One complaint's whole journey, with real signatures on every step (issue 5's scenario).

A real Traffy Fondue row enters from Bangkok's Traffy deployment; the district office it
is routed to declines; the hub re-routes it to the Department of Highways, which accepts
and forwards it to the Metropolitan Waterworks Authority; the 1111 centre reports the same
problem and merges its case in; the waterworks never accepts, so the case returns, then
breaches its SLA and is escalated to the Damrongdhama centre, which resolves it with an
after-photo; both origins — Traffy and 1111 — receive the resolution through their own
receivers, which check the hub's and the resolver's signatures.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from hub import escalation
from hub.exchange.dispatch import Delivery as Tuning
from hub.exchange.dispatch import deliver_due
from hub.models import Case, Handoff
from tests.support.destination import SimulatedAgency
from tests.support.envelopes import traffy_complaint


@pytest.fixture
def world(agencies) -> Iterator[dict]:
    a = {
        "bma": agencies.enrol("bma", areas=["10"]),
        "khet": agencies.enrol("khet-nongchok", areas=["1003"], name_th="สำนักงานเขตหนองจอก"),
        "doh": agencies.enrol(
            "doh", kind="ministry", areas=["10"], categories=["road"], name_th="กรมทางหลวง"
        ),
        "mwa": agencies.enrol(
            "mwa", kind="state_enterprise", areas=["10"], categories=["water_supply"]
        ),
        "dc": agencies.enrol(
            "dc-10", kind="damrongdhama_centre", areas=["10"], categories=["general_complaint"]
        ),
        "opm": agencies.enrol("opm1111", kind="hotline", areas=[]),
        "ombudsman": agencies.enrol("ombudsman", kind="oversight", roles=["oversight"]),
    }
    with SimulatedAgency(a["bma"].client) as traffy, SimulatedAgency(a["opm"].client) as hotline:
        agencies.set_endpoint("bma", traffy.url)
        agencies.set_endpoint("opm1111", hotline.url)
        yield {**a, "traffy": traffy, "hotline": hotline}


def owner(hub, case_id: str) -> tuple[str, str | None]:
    with hub.transaction() as s:
        c = s.get(Case, case_id)
        return c.status, c.owner


def test_a_case_crosses_agencies_and_one_resolution_reaches_every_channel(hub, world, clock):
    w = world
    row = traffy_complaint(0)  # 2023-FCX4QQ, หนองจอก, a real Traffy Fondue row
    row["category"] = "road"
    case_id = w["bma"].client.send("complaint.submit", row).case_id
    assert owner(hub, case_id) == ("offered", "khet-nongchok")  # the amphoe's own office

    w["khet"].client.send(
        "case.decline", {"case_id": case_id, "reason": "ถนนสายนี้เป็นทางหลวง ไม่ใช่ถนนของเขต"}
    )
    assert owner(hub, case_id) == ("offered", "doh")  # re-routed; never back to the decliner

    w["doh"].client.send("case.accept", {"case_id": case_id})
    w["doh"].client.send(
        "case.forward", {"case_id": case_id, "to": "mwa", "reason": "ท่อประปาแตกใต้ผิวถนน ขอ กปน. ซ่อม"}
    )
    assert owner(hub, case_id) == ("offered", "mwa")

    again = traffy_complaint(1)  # the 1111 centre takes a call about it
    again["origin"] = {"agency": "opm1111", "system": "ops1111", "ref": "1111-2023-000123"}
    again["channel"] = "hotline_1111"
    again["category"] = "road"
    other_case = w["opm"].client.send("complaint.submit", again).case_id
    assert other_case != case_id
    w["opm"].client.send(
        "case.merge", {"case_id": other_case, "into": case_id, "reason": "เรื่องเดียวกัน"}
    )
    assert owner(hub, other_case)[0] == "merged"

    clock.advance(hours=25)  # the waterworks never accepts the forward: it returns
    assert case_id in hub_check(hub, clock)
    assert owner(hub, case_id) == ("offered", "doh")
    clock.advance(hours=25)  # nor does the highways department take it back: SLA breach
    assert case_id in hub_check(hub, clock)
    status, holder = owner(hub, case_id)
    assert (status, holder) == ("offered", "dc-10")

    w["dc"].client.send("case.accept", {"case_id": case_id})
    after_photo = {"url": "https://example.org/after.jpg", "phase": "after", "sha256": "ab" * 32}
    w["dc"].client.send(
        "case.resolve",
        {
            "case_id": case_id,
            "outcome": "fixed",
            "summary": "กปน. ซ่อมท่อและ กทม. ปูผิวถนนแล้ว",
            "media": [after_photo],
        },
    )
    assert owner(hub, case_id)[0] == "resolved"

    with httpx.Client() as http:
        tuning = Tuning()
        for code in ("bma", "opm1111"):
            deliver_due(hub, code, http=http, tuning=tuning)
    for origin in ("traffy", "hotline"):
        resolutions = [m for m in w[origin].received if m.origin["type"] == "case.resolve"]
        assert len(resolutions) == 1, origin  # once, to each channel the citizen used
        assert resolutions[0].origin["body"]["media"][0]["phase"] == "after"
        assert resolutions[0].case_id == case_id
        assert w[origin].duplicates() == 0

    with hub.transaction() as s:
        chain = [
            (h.kind, h.to_agency, h.state)
            for h in s.scalars(
                select(Handoff).where(Handoff.case_id == case_id).order_by(Handoff.id)
            )
        ]
    assert chain == [
        ("offer", "khet-nongchok", "declined"),
        ("offer", "doh", "accepted"),
        ("forward", "mwa", "expired"),
        ("return", "doh", "withdrawn"),
        ("escalate", "dc-10", "accepted"),
    ]
    view = w["ombudsman"].client.get(f"/v1/cases/{case_id}")
    assert view["sla"]["accept_breached_at"] is not None and view["sla"]["escalation_level"] == 1
    assert {c["origin_agency"] for c in view["complaints"]} == {"bma", "opm1111"}
    events = w["bma"].client.get(f"/v1/cases/{case_id}/timeline")["events"]
    signed = [e for e in events if e["actor"] != "hub"]
    assert all(e["message_id"] and e["log_index"] is not None for e in signed)


def hub_check(hub, clock) -> list[str]:
    with hub.transaction() as s:
        return escalation.check(s, now=clock(), signer=hub.signer)

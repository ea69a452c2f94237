"""The handoff protocol through the real API: agencies with real keys send signed ``case.*``
envelopes; cases, timelines and citizen tracking are read back over HTTP.

The cast (Bangkok, เขตหนองจอก, tambon กระทุ่มราย 100301; category ``road``):

* ``traffy`` — the origin system (receives updates, covers no area);
* ``krathum`` (tambon), ``nongchok`` (amphoe), ``bma`` (province) — routing candidates,
  best first;
* ``dc-10`` — the Bangkok Damrongdhama centre (general complaints only: for a road it is the
  fallback), ``opm1111`` — the 1111 hotline (supervisor of last resort, also oversight);
* ``mea`` — an unrelated agency; ``ombudsman`` — oversight, read-only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hub.api.ratelimit import TRACKING
from hub.exchange.client import HubClientError, Receipt
from hub.models import Case, CaseParty, Complaint, Delivery, Envelope, Handoff
from tests.support.envelopes import traffy_complaint
from tests.support.tokens import bearer, expect_problem

JOSE = {"Content-Type": "application/jose"}
PHONE, EMAIL, NATIONAL_ID = "081-234-5678", "somchai.j@example.co.th", "1-1234-56789-01-2"
PII = (PHONE, "0812345678", EMAIL, NATIONAL_ID, "1123456789012")


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> Iterator[None]:
    TRACKING._state.clear()
    yield
    TRACKING._state.clear()


@pytest.fixture
def cast(agencies) -> dict[str, Any]:
    return {
        "traffy": agencies.enrol("traffy", areas=[]),
        "krathum": agencies.enrol("krathum", areas=["100301"]),
        "nongchok": agencies.enrol("nongchok", areas=["1003"]),
        "bma": agencies.enrol("bma", areas=["10"]),
        "dc-10": agencies.enrol(
            "dc-10", kind="damrongdhama_centre", areas=["10"], categories=["general_complaint"]
        ),
        "opm1111": agencies.enrol(
            "opm1111", kind="hotline", areas=[], roles=["submit", "receive", "oversight"]
        ),
        "mea": agencies.enrol(
            "mea", kind="state_enterprise", areas=["10"], categories=["electricity"]
        ),
        "ombudsman": agencies.enrol("ombudsman", kind="oversight", areas=[], roles=["oversight"]),
    }


def road(ref: str, *, n: int = 0, origin: str = "traffy", **extra: Any) -> dict[str, Any]:
    body = traffy_complaint(n)
    body["category"] = "road"
    body["origin"] = {"agency": origin, "system": origin.replace("-", "_") + "_system", "ref": ref}
    body["id"] = f"{origin}:{ref}"
    body.update(extra)
    return body


def submit(agency, body: dict[str, Any]) -> str:
    receipt = agency.client.send("complaint.submit", body)
    assert receipt.case_id
    return receipt.case_id


def send(agency, type: str, body: dict[str, Any]) -> Receipt:
    return agency.client.send(type, body)


def refused(agency, type: str, body: dict[str, Any], status: int = 409) -> dict[str, Any]:
    with pytest.raises(HubClientError) as exc:
        agency.client.send(type, body)
    assert exc.value.status == status, exc.value
    return exc.value.problem


def view(client, agency, case_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/cases/{case_id}", headers=bearer(agency.client.token()))
    assert r.status_code == 200, r.text
    return r.json()


def timeline(client, agency, case_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/cases/{case_id}/timeline", headers=bearer(agency.client.token()))
    assert r.status_code == 200, r.text
    assert r.json()["case_id"] == case_id
    return r.json()["events"]


def told(hub, message_id: str) -> set[str]:
    """Agencies the hub queued a forward of this message for."""
    with hub.transaction() as s:
        return set(
            s.scalars(
                select(Delivery.destination)
                .join(Envelope, Envelope.id == Delivery.envelope_id)
                .where(Envelope.message_id == message_id)
            )
        )


def handoffs(hub, case_id: str) -> list[tuple[str, str | None, str, str]]:
    with hub.transaction() as s:
        return [
            (h.kind, h.from_agency, h.to_agency, h.state)
            for h in s.scalars(
                select(Handoff).where(Handoff.case_id == case_id).order_by(Handoff.id)
            )
        ]


def parties(hub, case_id: str) -> set[tuple[str, str]]:
    with hub.transaction() as s:
        return {
            (p.agency, p.role)
            for p in s.scalars(select(CaseParty).where(CaseParty.case_id == case_id))
        }


# --------------------------------------------------------------------------- accept


def test_the_offered_agency_accepts_and_nobody_else_may(client, hub, cast):
    case_id = submit(cast["traffy"], road("A-1"))
    case = view(client, cast["krathum"], case_id)
    assert (case["status"], case["owner"]) == ("offered", "krathum")

    problem = refused(cast["nongchok"], "case.accept", {"case_id": case_id})
    assert problem["type"] == "/problems/not-your-turn"
    assert "krathum" in problem["detail"] and "nongchok" in problem["detail"]
    problem = refused(cast["traffy"], "case.accept", {"case_id": case_id})
    assert problem["type"] == "/problems/not-your-turn"

    jws = cast["krathum"].client.envelope("case.accept", {"case_id": case_id, "note": "รับเรื่อง"})
    r = client.post("/v1/envelopes", content=jws.encode(), headers=JOSE)
    assert r.status_code == 201, r.text
    case = view(client, cast["traffy"], case_id)
    assert (case["status"], case["owner"]) == ("accepted", "krathum")
    assert [(h["kind"], h["to"], h["state"]) for h in case["handoffs"]] == [
        ("offer", "krathum", "accepted")
    ]
    assert case["sla"]["accept_due"] is None and case["sla"]["resolve_due"]
    # accepting twice is not a transition an accepted case takes
    problem = refused(cast["krathum"], "case.accept", {"case_id": case_id})
    assert problem["type"] == "/problems/invalid-transition"
    # an unknown case is a problem, not a crash
    refused(cast["krathum"], "case.accept", {"case_id": "case:nope"}, status=404)


# --------------------------------------------------------------------------- decline


def test_declines_reroute_to_the_next_candidate_then_the_supervisors(client, hub, cast):
    case_id = submit(cast["traffy"], road("D-1"))
    chain = ["krathum", "nongchok", "bma", "dc-10"]
    for i, decliner in enumerate(chain):
        assert view(client, cast[decliner], case_id)["owner"] == decliner
        refused(cast["traffy"], "case.decline", {"case_id": case_id, "reason": "x"})
        receipt = send(cast[decliner], "case.decline", {"case_id": case_id, "reason": f"ไม่ใช่ {i}"})
        case = view(client, cast[decliner], case_id)
        assert case["status"] == "offered"
        assert case["owner"] not in chain[: i + 1] and case["owner"] != "traffy"
        # the next agency hears of it, and so does the origin; never the sender
        assert {case["owner"], "traffy"} <= told(hub, receipt.message_id)
        assert decliner not in told(hub, receipt.message_id)
    # dc-10 came as the fallback candidate; after it declined, the hotline supervises
    case = view(client, cast["opm1111"], case_id)
    assert case["owner"] == "opm1111"
    assert [(h["to"], h["state"]) for h in case["handoffs"]] == [
        ("krathum", "declined"),
        ("nongchok", "declined"),
        ("bma", "declined"),
        ("dc-10", "declined"),
        ("opm1111", "offered"),
    ]
    assert [h["reason"] for h in case["handoffs"][:4]] == [f"ไม่ใช่ {i}" for i in range(4)]
    # a decliner cannot change its mind
    assert refused(cast["krathum"], "case.accept", {"case_id": case_id})["type"] == (
        "/problems/not-your-turn"
    )
    send(cast["opm1111"], "case.accept", {"case_id": case_id})
    assert view(client, cast["opm1111"], case_id)["status"] == "accepted"


def test_a_decline_never_sends_the_case_back_to_its_origin(client, hub, cast):
    # bma is a candidate (province) and also the origin of this complaint
    case_id = submit(cast["bma"], road("O-1", origin="bma"))
    send(cast["krathum"], "case.decline", {"case_id": case_id, "reason": "นอกพื้นที่"})
    send(cast["nongchok"], "case.decline", {"case_id": case_id, "reason": "นอกพื้นที่"})
    case = view(client, cast["bma"], case_id)
    assert case["owner"] == "dc-10"  # bma skipped
    assert "bma" not in [h["to"] for h in case["handoffs"]]


def test_the_damrongdhama_centre_supervises_when_no_candidate_is_left(client, hub, agencies):
    traffy = agencies.enrol("traffy", areas=[])
    only = agencies.enrol("krathum", areas=["100301"])
    dc = agencies.enrol("dc-10", kind="damrongdhama_centre", areas=["10"], categories=["fire"])
    hotline = agencies.enrol("opm1111", kind="hotline", areas=[])
    case_id = submit(traffy, road("S-1"))
    send(only, "case.decline", {"case_id": case_id, "reason": "ไม่ใช่หน้าที่"})
    assert view(client, dc, case_id)["owner"] == "dc-10"
    send(dc, "case.decline", {"case_id": case_id, "reason": "ไม่ใช่หน้าที่"})
    assert view(client, hotline, case_id)["owner"] == "opm1111"


def test_a_dead_end_never_lands_back_on_an_origin_centre(client, hub, agencies):
    only = agencies.enrol("krathum", areas=["100301"])
    dc = agencies.enrol("dc-10", kind="damrongdhama_centre", areas=["10"], categories=["fire"])
    hotline = agencies.enrol("opm1111", kind="hotline", areas=[])
    case_id = submit(dc, road("DC-1", origin="dc-10", channel="damrongdhama_1567"))
    assert view(client, dc, case_id)["owner"] == "krathum"
    send(only, "case.decline", {"case_id": case_id, "reason": "ไม่ใช่หน้าที่"})
    assert view(client, dc, case_id)["owner"] == hotline.code


# --------------------------------------------------------------------------- forward, assist


def test_forward_offers_the_case_to_the_named_agency(client, hub, cast):
    case_id = submit(cast["traffy"], road("F-1"))
    send(cast["krathum"], "case.accept", {"case_id": case_id})
    p = refused(
        cast["krathum"], "case.forward", {"case_id": case_id, "to": "nobody", "reason": "x"}, 400
    )
    assert [e["pointer"] for e in p["errors"]] == ["/body/to"]
    p = refused(
        cast["krathum"], "case.forward", {"case_id": case_id, "to": "krathum", "reason": "x"}
    )
    assert p["type"] == "/problems/not-your-turn"
    p = refused(cast["nongchok"], "case.forward", {"case_id": case_id, "to": "mea", "reason": "x"})
    assert p["type"] == "/problems/not-your-turn" and "krathum" in p["detail"]

    receipt = send(
        cast["krathum"], "case.forward", {"case_id": case_id, "to": "mea", "reason": "สายไฟ"}
    )
    case = view(client, cast["mea"], case_id)
    assert (case["status"], case["owner"]) == ("offered", "mea")
    assert case["handoffs"][-1] == {
        **case["handoffs"][-1],
        "kind": "forward",
        "from": "krathum",
        "to": "mea",
        "state": "offered",
    }
    assert case["sla"]["accept_due"]
    assert {"mea", "traffy"} <= told(hub, receipt.message_id)
    send(cast["mea"], "case.accept", {"case_id": case_id})
    assert view(client, cast["mea"], case_id)["status"] == "accepted"


def test_an_assisting_agency_joins_hears_of_changes_and_its_task_closes(client, hub, cast):
    case_id = submit(cast["traffy"], road("AS-1"))
    send(cast["krathum"], "case.accept", {"case_id": case_id})
    p = refused(cast["nongchok"], "case.assist", {"case_id": case_id, "to": "mea", "task": "x"})
    assert p["type"] == "/problems/not-your-turn"
    ask = send(cast["krathum"], "case.assist", {"case_id": case_id, "to": "mea", "task": "ตัดสายไฟ"})
    assert "mea" in told(hub, ask.message_id)
    assert ("mea", "assist") in parties(hub, case_id)
    case = view(client, cast["mea"], case_id)  # an assisting agency may read the case
    assert (case["owner"], case["status"]) == ("krathum", "accepted")
    assert ("assist", "krathum", "mea", "offered") in handoffs(hub, case_id)

    note = send(cast["krathum"], "case.status", {"case_id": case_id, "note": "เริ่มซ่อม"})
    assert told(hub, note.message_id) == {"mea", "traffy"}
    done = send(
        cast["krathum"],
        "case.resolve",
        {"case_id": case_id, "outcome": "fixed", "summary": "ซ่อมถนนแล้ว"},
    )
    assert told(hub, done.message_id) == {"mea", "traffy"}
    assert ("assist", "krathum", "mea", "closed") in handoffs(hub, case_id)
    case = view(client, cast["mea"], case_id)
    assert case["status"] == "resolved"
    assert [h["state"] for h in case["handoffs"] if h["kind"] == "assist"] == ["closed"]


# ----------------------------------------------------------------- status, resolve, reopen


def test_status_resolve_once_and_reopen_by_the_origin(client, hub, cast, clock):
    case_id = submit(cast["traffy"], road("R-1"))
    p = refused(cast["krathum"], "case.status", {"case_id": case_id, "note": "x"})
    assert p["type"] == "/problems/invalid-transition"  # offered: accept first
    send(cast["krathum"], "case.accept", {"case_id": case_id})
    p = refused(cast["nongchok"], "case.status", {"case_id": case_id, "note": "x"})
    assert p["type"] == "/problems/not-your-turn"
    send(cast["krathum"], "case.status", {"case_id": case_id, "note": "ส่งช่างแล้ว"})
    assert view(client, cast["krathum"], case_id)["status"] == "in_progress"

    refused(
        cast["krathum"],
        "case.resolve",
        {"case_id": case_id, "outcome": "nope", "summary": "x"},
        422,
    )
    clock.advance(hours=5)
    send(
        cast["krathum"],
        "case.resolve",
        {"case_id": case_id, "outcome": "fixed", "summary": "ซ่อมเรียบร้อย"},
    )
    case = view(client, cast["traffy"], case_id)
    assert (case["status"], case["outcome"], case["summary"]) == ("resolved", "fixed", "ซ่อมเรียบร้อย")
    assert case["resolved_at"] == clock().isoformat().replace("+00:00", "Z")
    p = refused(
        cast["krathum"], "case.resolve", {"case_id": case_id, "outcome": "answered", "summary": "y"}
    )
    assert p["status"] == 409
    assert view(client, cast["traffy"], case_id)["outcome"] == "fixed"

    # only an origin reopens
    p = refused(cast["krathum"], "case.reopen", {"case_id": case_id, "reason": "ยัง"})
    assert p["type"] == "/problems/not-your-turn" and "traffy" in p["detail"]
    refused(cast["mea"], "case.reopen", {"case_id": case_id, "reason": "ยัง"})


def test_reopen_by_the_origin_offers_the_case_again(client, hub, cast, clock):
    case_id = submit(cast["traffy"], road("RO-1"))
    send(cast["krathum"], "case.decline", {"case_id": case_id, "reason": "นอกเขต"})
    send(cast["nongchok"], "case.accept", {"case_id": case_id})
    send(cast["nongchok"], "case.resolve", {"case_id": case_id, "outcome": "fixed", "summary": "x"})
    clock.advance(days=3)
    reopened = send(cast["traffy"], "case.reopen", {"case_id": case_id, "reason": "ถนนยังเป็นหลุม"})
    case = view(client, cast["traffy"], case_id)
    assert (case["status"], case["owner"]) == ("offered", "nongchok")
    assert case["outcome"] is None and case["resolved_at"] is None
    assert case["handoffs"][-1]["state"] == "offered" and case["handoffs"][-1]["to"] == "nongchok"
    assert "declined" not in [h["state"] for h in case["handoffs"]]  # a fresh start
    assert {"nongchok", "krathum"} <= told(hub, reopened.message_id)
    send(cast["nongchok"], "case.accept", {"case_id": case_id})
    send(cast["nongchok"], "case.resolve", {"case_id": case_id, "outcome": "fixed", "summary": "z"})
    assert view(client, cast["traffy"], case_id)["status"] == "resolved"


def test_reopen_after_the_window_is_refused(client, hub, cast, clock):
    case_id = submit(cast["traffy"], road("W-1"))
    send(cast["krathum"], "case.resolve", {"case_id": case_id, "outcome": "fixed", "summary": "x"})
    clock.advance(days=31)
    p = refused(cast["traffy"], "case.reopen", {"case_id": case_id, "reason": "ยัง"})
    assert "30" in p["detail"]
    assert view(client, cast["traffy"], case_id)["status"] == "resolved"


# --------------------------------------------------------------------------- merge


def two_cases(cast) -> tuple[str, str]:
    first = submit(cast["traffy"], road("M-1", n=0))
    other = road("M-2", n=2, origin="opm1111", channel="hotline_1111")  # เขตธนบุรี 101503
    second = submit(cast["opm1111"], other)
    return first, second


def test_merge_moves_complaints_and_parties_into_the_surviving_case(client, hub, cast):
    first, second = two_cases(cast)
    assert view(client, cast["bma"], second)["owner"] == "bma"
    p = refused(cast["mea"], "case.merge", {"case_id": first, "into": second})
    assert p["type"] == "/problems/not-your-turn"
    p = refused(cast["krathum"], "case.merge", {"case_id": first, "into": first}, 400)
    assert [e["pointer"] for e in p["errors"]] == ["/body/into"]

    receipt = send(cast["krathum"], "case.merge", {"case_id": first, "into": second})
    gone = view(client, cast["traffy"], first)
    assert (gone["status"], gone["merged_into"], gone["owner"]) == ("merged", second, None)
    assert gone["complaints"] == []
    kept = view(client, cast["traffy"], second)  # the first origin is now on the second case
    assert {c["id"] for c in kept["complaints"]} == {"traffy:M-1", "opm1111:M-2"}
    assert {"agency": "traffy", "role": "origin"} in kept["parties"]
    assert kept["status"] == "offered" and kept["owner"] == "bma"
    assert "traffy" in told(hub, receipt.message_id)
    merge_events = [e for e in timeline(client, cast["bma"], second) if e["type"] == "case.merge"]
    assert len(merge_events) == 1
    assert merge_events[0]["data"]["from"] == first
    assert merge_events[0]["message_id"] == receipt.message_id
    # a merged case takes no more work
    refused(cast["krathum"], "case.accept", {"case_id": first})
    # and the first origin's later word reaches the second case's owner
    note = send(cast["bma"], "case.accept", {"case_id": second})
    assert "traffy" in told(hub, note.message_id)

    # the origin undoes the merge
    send(cast["traffy"], "case.unmerge", {"case_id": first, "reason": "คนละเรื่อง"})
    back = view(client, cast["traffy"], first)
    assert back["merged_into"] is None
    assert [c["id"] for c in back["complaints"]] == ["traffy:M-1"]
    assert (back["status"], back["owner"]) == ("offered", "krathum")
    assert [c["id"] for c in view(client, cast["bma"], second)["complaints"]] == ["opm1111:M-2"]


def test_the_surviving_cases_agencies_hear_of_a_merge(client, hub, cast):
    first, second = two_cases(cast)
    receipt = send(cast["krathum"], "case.merge", {"case_id": first, "into": second})
    assert {"bma", "opm1111", "traffy"} <= told(hub, receipt.message_id)


def test_unmerge_takes_the_first_origin_off_the_surviving_case(client, hub, cast):
    first, second = two_cases(cast)
    send(cast["krathum"], "case.merge", {"case_id": first, "into": second})
    send(cast["traffy"], "case.unmerge", {"case_id": first})
    assert ("traffy", "origin") not in parties(hub, second)
    note = send(cast["bma"], "case.accept", {"case_id": second})
    assert "traffy" not in told(hub, note.message_id)


def test_unmerge_takes_back_only_its_own_complaints(client, hub, cast):
    first, second = two_cases(cast)
    third = submit(cast["traffy"], road("M-3", n=1))  # เขตบางบอน: bma's
    send(cast["krathum"], "case.merge", {"case_id": first, "into": second})
    send(cast["bma"], "case.merge", {"case_id": third, "into": second})
    send(cast["traffy"], "case.unmerge", {"case_id": first})
    assert [c["id"] for c in view(client, cast["traffy"], first)["complaints"]] == ["traffy:M-1"]
    kept = view(client, cast["bma"], second)["complaints"]
    assert {c["id"] for c in kept} == {"opm1111:M-2", "traffy:M-3"}


def test_the_holder_that_merged_may_unmerge(client, hub, cast):
    first, second = two_cases(cast)
    send(cast["krathum"], "case.accept", {"case_id": first})
    send(cast["krathum"], "case.merge", {"case_id": first, "into": second})
    send(cast["krathum"], "case.unmerge", {"case_id": first, "reason": "รวมผิด"})
    assert view(client, cast["traffy"], first)["merged_into"] is None


# --------------------------------------------------------------------------- reading


def pii_case(cast) -> str:
    text = f"ถนนเป็นหลุม ติดต่อ {PHONE} อีเมล {EMAIL} บัตร {NATIONAL_ID}"
    case_id = submit(cast["traffy"], road("P-1", subject=text, description=text + " 1123456789012"))
    send(cast["krathum"], "case.decline", {"case_id": case_id, "reason": f"ผู้ร้องโทร {PHONE} แล้ว"})
    send(cast["nongchok"], "case.accept", {"case_id": case_id})
    send(cast["nongchok"], "case.status", {"case_id": case_id, "note": "โทรหา 0812345678 แล้ว"})
    return case_id


def test_agencies_on_the_case_read_it_others_are_refused(client, hub, cast):
    case_id = pii_case(cast)
    for who in ("traffy", "krathum", "nongchok"):
        assert view(client, cast[who], case_id)["id"] == case_id
        assert timeline(client, cast[who], case_id)
    for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/timeline"):
        expect_problem(client.get(path, headers=bearer(cast["mea"].client.token())), 403)
        expect_problem(client.get(path), 401)
    expect_problem(
        client.get("/v1/cases/case:nope", headers=bearer(cast["mea"].client.token())), 404
    )
    # the origin sees its own words and its tracking code
    mine = view(client, cast["traffy"], case_id)
    assert PHONE in mine["complaints"][0]["subject"] and EMAIL in mine["complaints"][0]["subject"]
    assert re.fullmatch(
        r"TRK-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", mine["complaints"][0]["tracking_code"]
    )
    assert PHONE in mine["handoffs"][0]["reason"]


def test_oversight_reads_every_case_with_free_text_scrubbed(client, hub, cast):
    case_id = pii_case(cast)
    seen = view(client, cast["ombudsman"], case_id)
    events = timeline(client, cast["ombudsman"], case_id)
    listed = client.get("/v1/cases", headers=bearer(cast["ombudsman"].client.token())).json()
    for what in (seen, events, listed):
        dumped = json.dumps(what, ensure_ascii=False)
        for secret in PII:
            assert secret not in dumped, (secret, dumped)
        assert "TRK-" not in dumped
    assert "ถนนเป็นหลุม" in seen["complaints"][0]["subject"]  # the rest of the text survives
    assert "[ข้อมูลส่วนบุคคล]" in seen["complaints"][0]["subject"]
    assert seen["handoffs"][0]["reason"].startswith("ผู้ร้องโทร ")
    assert "tracking_code" not in seen["complaints"][0]


def test_agencies_on_the_case_read_the_timeline_whole(client, hub, cast):
    case_id = pii_case(cast)
    events = timeline(client, cast["nongchok"], case_id)
    notes = [e["data"].get("note") for e in events if e["type"] == "case.status"]
    assert notes == ["โทรหา 0812345678 แล้ว"]
    reasons = [e["data"].get("reason") for e in events if e["type"] == "case.decline"]
    assert reasons == [f"ผู้ร้องโทร {PHONE} แล้ว"]


def test_timeline_events_name_the_signed_message_and_its_log_index(client, hub, cast):
    traffy, krathum = cast["traffy"], cast["krathum"]
    submitted = traffy.client.send("complaint.submit", road("T-1"))
    case_id = submitted.case_id
    accepted = send(krathum, "case.accept", {"case_id": case_id})
    noted = send(krathum, "case.status", {"case_id": case_id, "note": "กำลังดำเนินการ"})
    events = timeline(client, traffy, case_id)
    assert [(e["type"], e["actor"], e["status_to"]) for e in events] == [
        ("complaint.submit", "traffy", "received"),
        ("hub.forward", "hub", "offered"),
        ("case.accept", "krathum", "accepted"),
        ("case.status", "krathum", "in_progress"),
    ]
    signed = [e for e in events if e["actor"] != "hub"]
    assert [(e["message_id"], e["log_index"]) for e in signed] == [
        (r.message_id, r.log_index) for r in (submitted, accepted, noted)
    ]
    hub_step = events[1]
    assert hub_step["message_id"] is None and hub_step["log_index"] is None
    assert hub_step["owner"] == "krathum" and hub_step["data"]["to"] == "krathum"
    assert events[3]["data"] == {"note": "กำลังดำเนินการ"}


def test_case_lists_show_the_callers_cases_and_oversight_sees_all(client, hub, cast):
    first, second = two_cases(cast)  # krathum owns the first, bma the second

    def ids(who, **params: Any) -> list[str]:
        r = client.get("/v1/cases", params=params, headers=bearer(cast[who].client.token()))
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["cases"]]

    assert ids("krathum") == [first]
    assert ids("bma") == [second]
    assert ids("traffy") == [first]
    assert ids("mea") == []
    assert ids("ombudsman") == sorted([first, second])
    assert ids("ombudsman", owner="bma") == [second]
    assert ids("ombudsman", status="accepted") == []
    assert len(ids("ombudsman", limit=1)) == 1
    assert ids("ombudsman", after=sorted([first, second])[0]) == [sorted([first, second])[1]]


# --------------------------------------------------------------------------- tracking


def tracking_code(hub, complaint_id: str) -> str:
    with hub.transaction() as s:
        c = s.get(Complaint, complaint_id)
        assert c is not None and c.tracking_code
        return c.tracking_code


def test_citizens_track_by_code_without_personal_or_internal_text(client, hub, cast):
    case_id = pii_case(cast)
    send(
        cast["nongchok"],
        "case.resolve",
        {"case_id": case_id, "outcome": "fixed", "summary": "ลับเฉพาะ"},
    )
    code = tracking_code(hub, "traffy:P-1")
    r = client.get(f"/v1/track/{code}")
    assert r.status_code == 200, r.text
    t = r.json()
    assert (t["tracking_code"], t["status"], t["outcome"]) == (code, "resolved", "fixed")
    assert t["status_th"] and t["category"] == "road" and t["owner"] == "nongchok"
    assert [e["event"] for e in t["timeline"]] == [
        "complaint.submit",
        "hub.forward",
        "case.decline",
        "hub.forward",
        "case.accept",
        "case.status",
        "case.resolve",
    ]
    assert t["timeline"][-1]["status"] == "resolved"
    dumped = json.dumps(t, ensure_ascii=False)
    for secret in (*PII, "ถนนเป็นหลุม", "ผู้ร้องโทร", "โทรหา", "ลับเฉพาะ", case_id):
        assert secret not in dumped, secret
    with hub.transaction() as s:
        assert s.get(Case, case_id).status == "resolved"  # type: ignore[union-attr]


def test_tracking_follows_a_merge(client, hub, cast):
    first, second = two_cases(cast)
    send(cast["krathum"], "case.merge", {"case_id": first, "into": second})
    t = client.get(f"/v1/track/{tracking_code(hub, 'traffy:M-1')}").json()
    assert t["owner"] == "bma" and t["status"] == "offered"


def test_unknown_and_malformed_tracking_codes(client, hub, cast):
    expect_problem(client.get("/v1/track/TRK-AAAA-BBBB-CC"), 404, "not-found")
    expect_problem(client.get("/v1/track/not-a-code"), 400)
    expect_problem(client.get("/v1/track/trk-aaaa-bbbb-cc"), 400)


def test_tracking_is_rate_limited_per_client(client, hub, cast):
    code = tracking_code(hub, "traffy:" + "L-1") if submit(cast["traffy"], road("L-1")) else ""
    answers = []
    for _ in range(40):
        r = client.get(f"/v1/track/{code}")
        answers.append(r)
        if r.status_code == 429:
            break
    statuses = [r.status_code for r in answers]
    assert statuses[:20] == [200] * 20
    assert statuses[-1] == 429 and len(statuses) <= 25
    problem = expect_problem(answers[-1], 429, "rate-limited")
    assert problem["detail"]
    assert int(answers[-1].headers["Retry-After"]) >= 1

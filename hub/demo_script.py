"""The scripted part of ``hub demo``: real records in, simulated agencies acting, a summary.

Everything goes through the hub's HTTP API as signed envelopes, each agency signing with its
own key and verifying the hub's receipts (and, on the receiving side, both signatures of
every forward). The script never touches case rows: it reads them to know what each
agency should do next, and the agency does it only once the hub has told it about the case.

What is played:

* 60 real Traffy Fondue rows from Bangkok's deployment (``bma``), one batch;
* two real 1111 cases (a Silom pothole, a Chiang Mai water outage), plus a 1111 call that
  repeats Traffy ticket JGKLY8 (built from that row, as ``tests/e2e/test_case_journey``
  does: the fixtures hold no real pair) which the 1111 centre merges into the Traffy case;
* four real Damrongdhama records from the Chiang Mai provincial and Mueang amphoe centres.

Then, per case, a plan: the owner accepts; unclassified Traffy rows are declined (the hub
re-routes them); some are forwarded (to the waterworks, the electricity authority, a
ministry, the Nonthaburi municipality); most are resolved (with the after-photo Traffy has),
the rest stay in progress. The plans are idempotent on the case's state, so a second run on
the same database re-sends the records (the hub answers with the known cases) and finds
nothing left to do.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from adapters.base import load
from adapters.traffy_fondue import SAMPLE_CSV
from adapters.traffy_fondue.mapping import row_to_complaint
from hub.demo_agencies import SimulatedAgency
from hub.errors import HubError
from hub.exchange import translog
from hub.exchange.client import HubClientError, Receipt
from hub.exchange.jws import parse_compact
from hub.models import Case, CaseParty, Delivery, Envelope, Handoff, LogState
from hub.services import Hub

DEMO_ROWS = 60
TIME_LIMIT = 45.0  # seconds for the case work; the whole scripted part must stay under 60
Say = Callable[[str], None]


@dataclass
class Plan:
    """What should become of one case; every step is taken by whoever holds it then."""

    label: str
    decline: str | None = None  # the first owner declines with this reason
    forward: tuple[str, str] | None = None  # the owner forwards: (to, reason)
    end: str = "resolved"  # resolved | in_progress | accepted
    summary: str = "ดำเนินการแก้ไขเรียบร้อยแล้ว"
    outcome: str = "fixed"
    media: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)  # source -> complaints accepted
    sent: Counter[str] = field(default_factory=Counter)  # message type -> count
    resolutions_expected: int = 0
    started: float = field(default_factory=time.monotonic)

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


# --------------------------------------------------------------------------- intake


def play(hub: Hub, agencies: dict[str, SimulatedAgency], say: Say = print) -> Outcome:
    out = Outcome()
    run = f"{int(time.time())}-{uuid.uuid4().hex[:6]}"  # fresh message ids on every run
    plans: dict[str, Plan] = {}
    mark = _resolve_deliveries(hub)
    traffy = _traffy(agencies["bma"], run, plans, out, say)
    _hotline(agencies["opm1111"], run, plans, traffy, out, say)
    _damrongdhama(agencies, run, plans, out, say)
    if out.ok:
        _drive(hub, agencies, plans, out, say)
    _settle_deliveries(hub, agencies, out, say)
    out.resolutions_expected = _resolve_deliveries(hub) - mark
    received = sum(len(a.resolutions) for a in agencies.values())
    if received != out.resolutions_expected:
        out.fail(
            f"origin receivers got {received} resolutions, the hub sent "
            f"{out.resolutions_expected} this run"
        )
    return out


def _traffy(
    bma: SimulatedAgency, run: str, plans: dict[str, Plan], out: Outcome, say: Say
) -> dict[str, str]:
    """Bangkok's Traffy deployment sends real rows as one signed batch; returns ref -> case."""
    with SAMPLE_CSV.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:DEMO_ROWS]
    complaints = [row_to_complaint(r) for r in rows]
    envelopes = [
        bma.client.envelope("complaint.submit", c, id=f"traffy-{c['origin']['ref']}-{run}")
        for c in complaints
    ]
    try:
        results = bma.client.send_batch(envelopes)
    except HubClientError as exc:
        out.fail(f"Traffy batch refused: {exc}")
        return {}
    refused = [r for r in results if isinstance(r, HubClientError)]
    out.accepted["traffy"] = len(results) - len(refused)
    say(
        f"Traffy Fondue (bma): {out.accepted['traffy']} of {len(rows)} complaints accepted, "
        "every receipt verified against the hub's published keys"
    )
    for err in refused[:5]:
        out.fail(f"Traffy row refused: {err}")
    cases: dict[str, str] = {}
    for i, (c, r) in enumerate(zip(complaints, results, strict=True)):
        if isinstance(r, Receipt) and r.case_id:
            cases[c["origin"]["ref"]] = r.case_id
            with bma.lock:
                bma.cases.add(r.case_id)
            plans.setdefault(r.case_id, _traffy_plan(i, c))
    return cases


def _traffy_plan(i: int, c: dict[str, Any]) -> Plan:
    ref, category = c["origin"]["ref"], c["category"]
    after = [m for m in c.get("media", []) if m.get("phase") == "after"]
    plan = Plan(f"Traffy {ref}", media=after)
    text = c.get("description", "")
    if category == "uncategorised":
        plan.decline = "ไม่ระบุประเภทเรื่องและไม่อยู่ในอำนาจหน้าที่ ขอส่งคืนศูนย์กลาง"
    elif ref == "2023-6ZUY4U":  # Traffy itself forwarded this one to the waterworks
        plan.forward = ("mwa", "น้ำไม่ไหลและท่ออุดตัน ขอการประปานครหลวงตรวจสอบท่อประปา")
    elif category == "street_lighting" and "เสาไฟฟ้า" in text:
        plan.forward = ("mea", "เสาไฟฟ้าของการไฟฟ้านครหลวง ขอ กฟน. ซ่อม")
    elif category == "noise":
        plan.forward = ("rtp", "เสียงดังยามวิกาล ขอเจ้าหน้าที่ตำรวจท้องที่ตรวจสอบ")
    elif category == "air_pollution":
        plan.forward = ("moph", "ฝุ่นจากไซต์ก่อสร้าง ขอกรมอนามัยตรวจวัดคุณภาพอากาศ")
    elif ref == "2023-GBD7MD":
        plan.forward = ("nonthaburi", "ผู้แจ้งปักหมุดคลาดเคลื่อน จุดเกิดเหตุอยู่ในเขตเทศบาลนครนนทบุรี")
    elif i % 6 == 5:
        plan.end = "in_progress"
    elif i % 10 == 9:
        plan.end = "accepted"
    return plan


def _hotline(
    opm: SimulatedAgency,
    run: str,
    plans: dict[str, Plan],
    traffy: dict[str, str],
    out: Outcome,
    say: Say,
) -> None:
    """1111 sends two real cases, then a call repeating a Traffy ticket, which it merges."""
    adapter = load("ops1111")
    wanted = {"6711-000123", "6710-004410"}
    complaints = [c for c in map(adapter.to_hub, adapter.natives()) if c["origin"]["ref"] in wanted]
    repeat_of = "JGKLY8"
    with SAMPLE_CSV.open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["ticket_id"] == repeat_of)
    repeat = row_to_complaint(row)
    repeat |= {
        "id": "ops1111:6711-000124",
        "origin": {"agency": "opm1111", "system": "ops1111", "ref": "6711-000124"},
        "channel": "hotline_1111",
    }
    repeat.pop("media", None)
    for c in [*complaints, repeat]:
        receipt = _send(opm, "complaint.submit", c, f"1111-{c['origin']['ref']}-{run}", out)
        if receipt is None or not receipt.case_id:
            continue
        out.accepted["1111"] += 1
        if c is not repeat:
            plans.setdefault(receipt.case_id, _hotline_plan(c))
            continue
        into = traffy.get(repeat_of)
        if into is None:
            out.fail(f"Traffy ticket {repeat_of} has no case to merge into")
        elif receipt.case_id == into:
            say(f"  1111 call 6711-000124 is part of Traffy case {into} ({repeat_of})")
        elif _status(opm, receipt.case_id) != "merged":
            body = {"case_id": receipt.case_id, "into": into, "reason": "เรื่องเดียวกับ Traffy"}
            if _send(opm, "case.merge", body, None, out):
                say(f"  1111 case {receipt.case_id} merged into Traffy case {into} ({repeat_of})")
    say(f"1111 (opm1111): {out.accepted['1111']} of 3 cases accepted")


def _hotline_plan(c: dict[str, Any]) -> Plan:
    if c["origin"]["ref"] == "6710-004410":
        return Plan(
            "1111 6710-004410",
            summary="ประสานการประปาส่วนภูมิภาคสาขาเชียงใหม่ ซ่อมท่อเมนแล้ว น้ำไหลปกติ",
        )
    return Plan("1111 6711-000123", summary="ซ่อมผิวถนนสีลมซอย 9 แล้ว")


def _damrongdhama(
    agencies: dict[str, SimulatedAgency],
    run: str,
    plans: dict[str, Plan],
    out: Outcome,
    say: Say,
) -> None:
    """The Chiang Mai provincial and Mueang amphoe centres send their own records."""
    adapter = load("damrongdhama")
    wanted = {
        "DC50-2567-00017": Plan(
            "Damrongdhama DC50-2567-00017",
            forward=("moph", "ค่ารักษาพยาบาลผู้ป่วยติดเตียง ขอประสานสิทธิหลักประกันสุขภาพ"),
            summary="โรงพยาบาลนครพิงค์รับดูแลตามสิทธิบัตรทอง และจัดรถรับส่งผู้ป่วย",
            outcome="answered",
        ),
        "DC5001-2567-00102": Plan(
            "Damrongdhama DC5001-2567-00102",
            summary="ไกล่เกลี่ยสำเร็จ สำนักงานที่ดินรังวัดแนวเขตใหม่ คู่กรณีรื้อรั้วแล้ว",
            outcome="answered",
        ),
        "DC5001-2567-00145": Plan(
            "Damrongdhama DC5001-2567-00145", summary="เทศบาลนครเชียงใหม่ซ่อมถนนหน้าโรงเรียนแล้ว"
        ),
        "DC50-2567-00231": Plan(
            "Damrongdhama DC50-2567-00231",
            forward=("rtp", "แจ้งเบาะแสเรียกรับเงิน ขอตำรวจสืบสวน"),
            end="in_progress",
        ),
    }
    seen: set[str] = set()
    sent = 0
    for name, native in adapter.fixtures():
        if not name.startswith("reference_export"):
            continue
        c = adapter.to_hub(native)
        ref = c["origin"]["ref"]
        if ref not in wanted or ref in seen:
            continue
        seen.add(ref)
        sent += 1
        centre = agencies[c["origin"]["agency"]]
        receipt = _send(centre, "complaint.submit", c, f"dc-{ref}-{run}", out)
        if receipt is not None and receipt.case_id:
            out.accepted["damrongdhama"] += 1
            plans.setdefault(receipt.case_id, wanted[ref])
    say(f"Damrongdhama (dc-50, dc-5001): {out.accepted['damrongdhama']} of {sent} cases accepted")


# --------------------------------------------------------------------------- case work


def _drive(
    hub: Hub, agencies: dict[str, SimulatedAgency], plans: dict[str, Plan], out: Outcome, say: Say
) -> None:
    """Rounds: agencies collect what they were told, then each takes its next step."""
    deadline = time.monotonic() + TIME_LIMIT
    round_no = 0
    while time.monotonic() < deadline:
        for a in agencies.values():
            a.collect()
        states = _states(hub, list(plans))
        done: Counter[str] = Counter()
        waiting = 0
        for case_id, plan in plans.items():
            step = _next_step(case_id, plan, *states[case_id])
            if step is None:
                continue
            actor, kind, body = step
            agency = agencies.get(actor)
            if agency is None:
                out.fail(f"{plan.label}: held by {actor}, which the demo does not run")
                continue
            if not agency.knows(case_id):
                waiting += 1  # the hub's forward has not reached it yet
                continue
            if _send(agency, kind, body, None, out) is not None:
                done[kind.removeprefix("case.")] += 1
        if done:
            round_no += 1
            now = Counter(st[0] for st in _states(hub, list(plans)).values())
            say(
                f"  round {round_no}: agencies sent {_fmt((k, n) for k, n in sorted(done.items()))}"
                f"  ->  cases {_fmt(sorted(now.items(), key=lambda kv: -kv[1]))}"
            )
        elif not waiting:
            return
        else:
            time.sleep(0.05)
    out.fail(f"case work not finished within {TIME_LIMIT:.0f} s")


State = tuple[str, str | None, bool, bool]


def _states(hub: Hub, case_ids: list[str]) -> dict[str, State]:
    with hub.transaction() as s:
        cases = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(case_ids)))}
        declined = set(
            s.scalars(
                select(Handoff.case_id).where(
                    Handoff.case_id.in_(case_ids), Handoff.state == "declined"
                )
            )
        )
        forwarded = set(
            s.scalars(
                select(Handoff.case_id).where(
                    Handoff.case_id.in_(case_ids), Handoff.kind == "forward"
                )
            )
        )
        return {
            cid: (c.status, c.owner, cid in declined, cid in forwarded) for cid, c in cases.items()
        }


def _next_step(
    case_id: str, plan: Plan, status: str, owner: str | None, declined: bool, forwarded: bool
) -> tuple[str, str, dict[str, Any]] | None:
    if owner is None:
        return None
    if status == "offered":
        if plan.decline and not declined:
            return owner, "case.decline", {"case_id": case_id, "reason": plan.decline}
        return owner, "case.accept", {"case_id": case_id}
    if status not in ("accepted", "in_progress"):
        return None
    if plan.forward and not forwarded:
        to, reason = plan.forward
        return owner, "case.forward", {"case_id": case_id, "to": to, "reason": reason}
    if plan.end == "resolved":
        body: dict[str, Any] = {
            "case_id": case_id,
            "outcome": plan.outcome,
            "summary": plan.summary,
        }
        if plan.media:
            body["media"] = plan.media
        return owner, "case.resolve", body
    if plan.end == "in_progress" and status == "accepted":
        return (
            owner,
            "case.status",
            {"case_id": case_id, "note": "ลงพื้นที่ตรวจสอบแล้ว อยู่ระหว่างดำเนินการ"},
        )
    return None


def _send(
    agency: SimulatedAgency, kind: str, body: dict[str, Any], id: str | None, out: Outcome
) -> Receipt | None:
    try:
        receipt = agency.client.send(kind, body, id=id)
    except HubClientError as exc:
        out.fail(f"{agency.code} {kind} refused: {exc}")
        return None
    out.sent[kind] += 1
    if receipt.case_id:  # the sender learns its case from the hub's receipt
        with agency.lock:
            agency.cases.add(receipt.case_id)
    return receipt


def _status(agency: SimulatedAgency, case_id: str) -> str:
    return str(agency.client.get(f"/v1/cases/{case_id}")["status"])


# --------------------------------------------------------------------------- deliveries


def _resolve_deliveries(hub: Hub) -> int:
    """Resolutions the hub has queued for the origin channels (the push receivers)."""
    with hub.transaction() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(Envelope, Envelope.id == Delivery.envelope_id)
                .join(
                    CaseParty,
                    (CaseParty.case_id == Delivery.case_id)
                    & (CaseParty.agency == Delivery.destination)
                    & (CaseParty.role == "origin"),
                )
                .where(Envelope.type == "case.resolve")
            )
            or 0
        )


def _settle_deliveries(
    hub: Hub, agencies: dict[str, SimulatedAgency], out: Outcome, say: Say, wait: float = 10.0
) -> None:
    """Wait for the dispatcher to push everything; pull agencies empty their inboxes."""
    deadline = time.monotonic() + wait
    while True:
        for a in agencies.values():
            a.collect()
        with hub.transaction() as s:
            pending = int(
                s.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.state != "delivered")
                )
                or 0
            )
        if not pending:
            return
        if time.monotonic() > deadline:
            out.fail(f"{pending} deliveries still pending after {wait:.0f} s")
            say(f"  {pending} deliveries still pending")
            return
        time.sleep(0.1)


# --------------------------------------------------------------------------- summary


def summary(hub: Hub, agencies: dict[str, SimulatedAgency], out: Outcome, say: Say = print) -> None:
    with hub.transaction() as s:
        by_status = dict(s.execute(select(Case.status, func.count()).group_by(Case.status)).all())
        handoffs = s.execute(
            select(Handoff.kind, Handoff.state, func.count()).group_by(Handoff.kind, Handoff.state)
        ).all()
        deliveries = dict(
            s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
        )
        back = dict(
            s.execute(
                select(Delivery.destination, func.count())
                .join(Envelope, Envelope.id == Delivery.envelope_id)
                .join(
                    CaseParty,
                    (CaseParty.case_id == Delivery.case_id)
                    & (CaseParty.agency == Delivery.destination)
                    & (CaseParty.role == "origin"),
                )
                .where(Envelope.type == "case.resolve", Delivery.state == "delivered")
                .group_by(Delivery.destination)
            ).all()
        )
        head = translog.publish_head(s, hub.signer, now=hub.now())
        log_size = s.scalar(select(LogState.size))
    say("")
    say("summary")
    say(f"  complaints accepted: {_fmt(out.accepted.items())}")
    say(f"  messages the agencies signed: {_fmt(sorted(out.sent.items()))}")
    say(f"  cases by status: {_fmt(sorted(by_status.items(), key=lambda kv: -kv[1]))}")
    by_kind: dict[str, Counter[str]] = {}
    for kind, state, n in handoffs:
        by_kind.setdefault(kind, Counter())[state] += n
    for kind, states in sorted(by_kind.items()):
        say(f"  handoffs ({kind}): {_fmt(sorted(states.items()))}")
    say(f"  deliveries: {_fmt(sorted(deliveries.items()))}")
    this_run = {a.code: len(a.resolutions) for a in agencies.values() if a.resolutions}
    say(
        f"  resolutions delivered back to origin channels: {sum(back.values())} "
        f"({_fmt(sorted(back.items()))}); this run {sum(this_run.values())} reached the "
        f"origins' receivers, signatures checked ({_fmt(sorted(this_run.items())) or 'none'})"
    )
    say(f"  transparency log: {log_size} leaves")
    say(
        f"  signed tree head: size {head.tree_size}, root {head.root_hash[:16]}…, "
        f"signed by {_kid(head.signature)}"
    )
    took = time.monotonic() - out.started
    if out.ok:
        say(f"  scripted part: OK in {took:.1f} s")
    else:
        say(f"  scripted part: FAILED after {took:.1f} s")
        for p in out.problems[:10]:
            say(f"    - {p}")


def _kid(jws: str) -> str:
    try:
        return str(parse_compact(jws).header.get("kid", "the hub"))
    except HubError:
        return "the hub"


def _fmt(items: Iterable[tuple[Any, Any]]) -> str:
    return ", ".join(f"{k} {v}" for k, v in items)

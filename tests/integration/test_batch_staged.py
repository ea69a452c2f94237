"""The staged batch (check all, then write in a few statements) agrees with the reference.

``intake._one_by_one`` judges each item in its own savepoint — slow, and obviously right.
``submit_batch`` stores new complaints without a savepoint or a flush each. These tests
feed both the same mixed batch (new complaints, duplicates of each other, re-sends, twins,
replays, stale, tampered and invalid items, case messages that a case rule allows or
refuses) and require the same answer for every item and the same rows in the database.

Both runs go to the same hub, one after the other, each in its own namespace (origin
references, message ids, and a location shifted ~20 km so that neither run's cases match
the other's), so they start from equivalent states.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.errors import HubError
from hub.exchange import intake
from hub.exchange.envelopes import policy_for
from hub.models import Case, CaseEvent, CaseParty, Complaint, Delivery, Envelope, Handoff, LogLeaf
from tests.support.envelopes import payload, signed, traffy_complaint

KINDS = (
    "new",
    "new",
    "new",
    "dup_text",
    "same_origin",
    "twin",
    "replay",
    "stale",
    "tampered",
    "schema",
    "accept_owner",
    "accept_other",
    "resend_setup",
    "twin_of_refused",
)
REFERENCE = intake._one_by_one
TABLES = (Envelope, Complaint, Case, CaseEvent, CaseParty, Handoff, Delivery, LogLeaf)


@pytest.fixture
def world(agencies):  # type: ignore[no-untyped-def]
    return {
        "bma": agencies.enrol("bma", areas=["10"]),
        "doh": agencies.enrol("doh", kind="ministry", areas=["TH"], categories=["road"]),
    }


class Scenario:
    """One namespace's copy of a generated batch: signs its items, reads its outcome."""

    def __init__(self, world: dict[str, Any], clock: Any, ns: str, shift: float) -> None:
        self.world, self.clock, self.ns, self.shift = world, clock, ns, shift
        self.bodies: list[dict[str, Any]] = []

    def body(self, row: int, ref: str | None = None) -> dict[str, Any]:
        b = copy.deepcopy(traffy_complaint(row))
        ref = f"{self.ns}-{ref or row}"
        b["origin"]["ref"], b["id"] = ref, f"traffy_fondue:{ref}"
        b["location"]["lat"] = round(b["location"]["lat"] + self.shift, 6)
        b["reported_at"] = (self.clock() - timedelta(hours=1)).isoformat()
        return b

    def sign(self, body: dict[str, Any], id: str, *, type: str = "complaint.submit",
             issuer: str = "bma", age: timedelta = timedelta(0)) -> str:  # fmt: skip
        a = self.world[issuer]
        return signed(payload(issuer, body, now=self.clock() - age, id=id, type=type), a.key, a.kid)

    def items(self, kinds: list[str], rows: list[int], setup: str, case_id: str) -> list[str]:
        out: list[str] = []
        new: list[tuple[int, int]] = []  # (item index, traffy row)
        refused_at: int | None = None
        for n, kind in enumerate(kinds):
            mid = f"{self.ns}-m{n}"
            if kind == "new" or (not new and kind in ("dup_text", "same_origin", "twin")):
                row = rows[len(new) % len(rows)]
                new.append((n, row))
                out.append(self.sign(self.body(row, f"r{n}"), mid))
            elif kind == "dup_text":  # another report of a problem already in the batch
                _, row = new[n % len(new)]
                out.append(self.sign(self.body(row, f"d{n}"), mid))
            elif kind == "same_origin":  # a known origin record under a new message id
                first, row = new[n % len(new)]
                out.append(self.sign(self.body(row, f"r{first}"), mid))
            elif kind == "twin":
                first, _ = new[n % len(new)]
                out.append(out[first])
            elif kind == "replay":  # a used id, other bytes: in this batch or before it
                used = f"{self.ns}-m{new[n % len(new)][0]}" if new else f"{self.ns}-setup"
                out.append(self.sign(self.body(rows[-1], f"x{n}"), used))
            elif kind == "stale":
                out.append(self.sign(self.body(rows[0], f"s{n}"), mid, age=timedelta(days=2)))
            elif kind == "tampered":
                h, p, s = self.sign(self.body(rows[0], f"t{n}"), mid).split(".")
                out.append(f"{h}.{p}.{s[:-4]}AAAA" if not s.endswith("AAAA") else f"{h}.{p}.BBBB")
            elif kind == "schema":
                bad = self.body(rows[0], f"b{n}")
                del bad["category"]
                out.append(self.sign(bad, mid))
            elif kind == "accept_owner":
                out.append(self.sign({"case_id": case_id}, mid, type="case.accept"))
            elif kind == "accept_other":
                out.append(self.sign({"case_id": case_id}, mid, type="case.accept", issuer="doh"))
                refused_at = n
            elif kind == "resend_setup":
                out.append(setup)
            elif kind == "twin_of_refused" and refused_at is not None:
                out.append(out[refused_at])  # the same refused bytes again
            else:
                out.append(self.sign(self.body(rows[1], f"o{n}"), mid))
        return out


def outcome(results: list[intake.ItemResult], setup_case: str) -> list[tuple[Any, ...]]:
    """Each item's answer, with case ids replaced by the first item that named them."""
    names: dict[str | None, str] = {setup_case: "setup", None: "none"}
    out: list[tuple[Any, ...]] = []
    for r in results:
        if r.accepted is None:
            assert r.error is not None
            out.append(("refused", r.error.slug))
            continue
        case = r.accepted.case_id
        names.setdefault(case, f"case@{r.index}")
        out.append(
            ("accepted", r.accepted.created, names[case], tuple(sorted(r.accepted.destinations)))
        )
    return out


def table_counts(hub: Any) -> dict[str, int]:
    with hub.transaction() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES}


def run(hub: Any, world: dict[str, Any], clock: Any, ns: str, shift: float, seed: int,
        *, staged: bool) -> tuple[list[tuple[Any, ...]], dict[str, int]]:  # fmt: skip
    rnd = random.Random(seed)
    sc = Scenario(world, clock, ns, shift)
    setup = sc.sign(sc.body(0, "setup"), f"{ns}-setup")
    first = intake.submit(hub, setup.encode())
    assert first.case_id is not None
    kinds = [rnd.choice(KINDS) for _ in range(rnd.randint(8, 24))]
    rows = rnd.sample(range(1, 20), 6)
    raws = sc.items(kinds, rows, setup, first.case_id)
    before = table_counts(hub)
    if staged:
        results = intake.submit_batch(hub, raws)
    else:
        encoded = [r.encode() for r in raws]
        results = REFERENCE(hub, encoded, policy_for(hub.settings), hub.now())
    after = table_counts(hub)
    return outcome(results, first.case_id), {k: after[k] - before[k] for k in after}


def no_fallback(*_: Any) -> None:
    raise AssertionError("the staged batch gave way to the one-by-one path")


@pytest.mark.parametrize("seed", range(12))
def test_staged_batch_answers_and_writes_what_the_reference_does(
    hub, world, clock, seed, monkeypatch
):
    monkeypatch.setattr(intake, "_one_by_one", no_fallback)  # the fast path must do it all
    fast, fast_rows = run(hub, world, clock, f"a{seed}", 0.0, seed, staged=True)
    slow, slow_rows = run(hub, world, clock, f"b{seed}", 0.2, seed, staged=False)
    assert fast == slow
    assert fast_rows == slow_rows
    assert any(o[0] == "refused" for o in fast) or len(fast) < 10  # the mix really is mixed


def test_a_duplicate_report_later_in_the_same_batch_joins_the_case_opened_earlier(
    hub, world, clock, monkeypatch
):
    sc = Scenario(world, clock, "j", 0.0)
    a = sc.sign(sc.body(3, "first"), "j-1")
    b = sc.sign(sc.body(3, "second"), "j-2")  # same place and text, another origin record
    monkeypatch.setattr(intake, "_one_by_one", no_fallback)
    results = intake.submit_batch(hub, [a, b])
    assert [r.accepted.created for r in results if r.accepted] == [True, True]
    case_a, case_b = (r.accepted.case_id for r in results if r.accepted)
    assert case_a == case_b
    with hub.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 2
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        events = s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case_a)).all()
        assert "complaint.join" in events


def test_when_the_fast_way_meets_a_conflict_the_batch_is_judged_again_one_by_one(
    hub, world, clock, monkeypatch
):
    """A writer the batch could not foresee (here: the origin lookup made blind, as if
    another process stored the record meanwhile) trips a unique key at commit; the batch
    then goes the reference way and still answers every item right."""
    sc = Scenario(world, clock, "c", 0.0)
    intake.submit(hub, sc.sign(sc.body(4, "known"), "c-0").encode())
    monkeypatch.setattr(
        intake.handlers.BatchMemo, "prefetch", lambda *_: intake.handlers.BatchMemo()
    )
    before = table_counts(hub)
    again = sc.sign(sc.body(4, "known"), "c-1")  # the known record under a new message id
    other = sc.sign(sc.body(5, "other"), "c-2")
    results = intake.submit_batch(hub, [again, other])
    assert [r.accepted is not None and r.accepted.created for r in results] == [True, True]
    after = table_counts(hub)
    assert after["complaints"] - before["complaints"] == 1  # only the new record
    assert after["envelopes"] - before["envelopes"] == 2


def test_concurrent_single_submissions_share_transactions_and_each_gets_its_answer(
    hub, world, clock, monkeypatch
):
    """Group commit through ``intake.submit``: distinct complaints, a twin sent twice at
    once and a broken one, from threads at the same moment — each answered on its own."""
    sc = Scenario(world, clock, "g", 0.0)
    bodies = [sc.sign(sc.body(row, f"g{row}"), f"g-{row}") for row in range(1, 13)]
    twin = bodies[0]
    broken = bodies[1][:-6] + "AAAAAA"
    items = [*bodies, twin, broken]
    calls: list[int] = []
    real = intake._submit_raws

    def counting(hub_: Any, raws: Any) -> Any:
        calls.append(len(raws))
        time.sleep(0.05)  # hold the lead long enough for the others to queue up
        return real(hub_, raws)

    monkeypatch.setattr(intake, "_submit_raws", counting)
    hub.intake_group = None  # a group built on the counting function
    answers: dict[int, Any] = {}
    start = threading.Barrier(len(items))

    def send(n: int) -> None:
        start.wait()
        try:
            answers[n] = intake.submit(hub, items[n].encode())
        except HubError as exc:
            answers[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    created = [n for n, a in answers.items() if isinstance(a, intake.Accepted) and a.created]
    again = [n for n, a in answers.items() if isinstance(a, intake.Accepted) and not a.created]
    refused = {n: a.slug for n, a in answers.items() if isinstance(a, HubError)}
    assert len(created) == 12 and len(again) == 1  # the twin: one stored, one answered again
    assert answers[0].receipt == answers[12].receipt
    assert refused == {13: "bad-signature"}
    assert sum(calls) == len(items) and len(calls) < len(items)  # batches formed
    assert table_counts(hub)["complaints"] == 12


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_batch_asks_the_matcher_once_until_a_join_changes_what_it_would_see(
    hub, world, clock, monkeypatch
):
    """The duplicate matcher's candidates for a whole batch come from one statement. Once
    the batch flushes rows the database did not hold when it asked (a second complaint
    joining a case writes the first one's join), each later complaint asks for itself, as
    it always did: its own query sees what was flushed."""
    from sqlalchemy import event

    monkeypatch.setattr(intake, "_one_by_one", no_fallback)
    sc = Scenario(world, clock, "m", 0.0)
    statements: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    def matcher_queries() -> tuple[int, int]:
        batch = sum("CROSS JOIN LATERAL" in q for q in statements)
        own = sum("WITH near AS MATERIALIZED" in q for q in statements)
        return batch, own

    event.listen(hub.engine, "before_cursor_execute", listen)
    try:
        fresh = [sc.sign(sc.body(row, f"m{row}"), f"m-{row}") for row in range(1, 9)]
        results = intake.submit_batch(hub, fresh)
        assert all(r.accepted for r in results)
        assert matcher_queries() == (1, 0)
        statements.clear()
        cases = [r.accepted.case_id for r in results if r.accepted]
        rereports = [sc.sign(sc.body(row, f"m{row}-again"), f"m-{row}b") for row in (3, 5)]
        later = [sc.sign(sc.body(row, f"n{row}"), f"n-{row}") for row in range(10, 14)]
        results = intake.submit_batch(hub, [*rereports, *later])
    finally:
        event.remove(hub.engine, "before_cursor_execute", listen)
    joined = [r.accepted.case_id for r in results[:2] if r.accepted]
    assert joined == [cases[2], cases[4]]  # same place and text: both joined their case
    batch, own = matcher_queries()
    assert batch == 1 and own >= 1  # after the second join's flush, later ones asked again

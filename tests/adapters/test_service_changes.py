"""Native change → hub messages (pure): every sequence is a valid path through the hub's
status vocabulary, and the steps say what the native system did."""

from __future__ import annotations

import itertools

import pytest

from adapters.service.changes import Reading, detect
from hub import vocab
from hub.cases import allowed

HUB_VIEWS = ["offered", "accepted", "in_progress", "resolved", "closed", "rejected", "reopened"]
AFTER = ({"url": "https://example.org/after.jpg", "phase": "after"},)


def kinds(previous: dict, now: Reading) -> list[str]:
    return [i.type for i in detect(previous, now)[0]]


@pytest.mark.parametrize(
    ("was", "native", "forward_to", "reopened"),
    list(itertools.product(HUB_VIEWS, sorted(vocab.statuses()), (None, "mwa"), (0, 1))),
)
def test_every_sequence_is_a_valid_path_and_the_snapshot_is_where_it_ends(
    was: str, native: str, forward_to: str | None, reopened: int
) -> None:
    now = Reading(status=native, forward_to=forward_to, reopens=reopened)
    intents, kept = detect({"status": was, "reopens": 0, "events": 3}, now)
    status = was
    for intent in intents:
        nxt = allowed(status, intent.type)
        assert nxt is not None, f"{was} → {native}: {intent.type} not allowed from {status}"
        status = nxt
    assert kept["status"] == status and kept["reopens"] == reopened
    assert [i.suffix for i in intents] == [
        f"{4 + n}-{i.type.removeprefix('case.')}" for n, i in enumerate(intents)
    ]


def test_the_steps_say_what_the_native_system_did() -> None:
    offered = {"status": "offered"}
    assert kinds(offered, Reading("in_progress")) == ["case.accept", "case.status"]
    assert kinds(offered, Reading("resolved")) == ["case.resolve"]
    assert kinds({"status": "resolved"}, Reading("in_progress")) == [
        "case.reopen",
        "case.accept",
        "case.status",
    ]
    assert kinds({"status": "resolved", "reopens": 0}, Reading("offered", reopens=1)) == [
        "case.reopen"
    ]
    assert kinds({"status": "accepted"}, Reading("forwarded", forward_to="mwa")) == ["case.forward"]
    assert kinds({"status": "accepted"}, Reading("forwarded")) == []  # inside the native org
    assert kinds({"status": "in_progress"}, Reading("offered")) == []


def test_a_resolution_carries_the_note_the_outcome_and_the_after_photos() -> None:
    [resolve], _ = detect({"status": "accepted"}, Reading("resolved", note="ซ่อมแล้ว", after=AFTER))
    assert resolve.body == {"outcome": "fixed", "summary": "ซ่อมแล้ว", "media": list(AFTER)}
    [irrelevant], _ = detect({"status": "offered"}, Reading("rejected"))
    assert irrelevant.body["outcome"] == "irrelevant" and irrelevant.body["summary"]


def test_a_step_with_no_hub_message_keeps_the_snapshot_where_the_hub_is() -> None:
    intents, kept = detect({"status": "accepted", "events": 2}, Reading("forwarded"))
    assert intents == [] and kept["status"] == "accepted" and kept["events"] == 2
    intents, _ = detect(kept, Reading("in_progress", note="กำลังซ่อม"))
    assert [(i.type, i.body) for i in intents] == [("case.status", {"note": "กำลังซ่อม"})]

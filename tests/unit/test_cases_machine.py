"""The case state machine under random message sequences (hypothesis stateful testing).

Whatever agencies send, in whatever order: a refused message changes nothing; every change
is a transition the vocabulary allows; an open case always has an owner once the hub has
settled it; and a case is never resolved twice without a reopen in between.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hub import vocab
from hub.cases import OWNED, Event, InvalidTransition, State, allowed, apply, settle
from hub.errors import NotYourTurn

AGENCIES = ["a", "b", "c"]
ORIGIN, SUPERVISOR = "o", "sup"
ACTORS = [*AGENCIES, ORIGIN, SUPERVISOR, "hub"]
MESSAGES = [
    "case.accept",
    "case.decline",
    "case.forward",
    "case.assist",
    "case.status",
    "case.resolve",
    "case.reopen",
    "case.merge",
    "case.unmerge",
    "case.escalate",
    "hub.expire",
    "hub.close",
]


REACHED: set[str] = set()


class CaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = settle(State(origins=frozenset({ORIGIN})), AGENCIES, SUPERVISOR)
        self.resolved_since_reopen = 0

    @rule(
        kind=st.sampled_from(MESSAGES),
        who=st.sampled_from(["owner", "owner", "origin", "hub", "previous", *ACTORS]),
        to=st.sampled_from([*AGENCIES, SUPERVISOR, None]),
    )
    def send(self, kind: str, who: str, to: str | None) -> None:
        """Mostly the agencies that could be right (owner, origin, hub), sometimes anyone."""
        roles = {"owner": self.state.owner, "origin": ORIGIN, "previous": self.state.previous_owner}
        actor = roles.get(who, who) or "nobody"
        before = self.state
        try:
            after = apply(before, Event(kind, actor, to=to))
        except (NotYourTurn, InvalidTransition):
            assert self.state == before  # a refusal changes nothing
            return
        assert allowed(before.status, kind) == after.status
        if kind == "case.resolve":
            self.resolved_since_reopen += 1
        if kind == "case.reopen":
            self.resolved_since_reopen = 0
        self.state = settle(after, AGENCIES, SUPERVISOR)
        REACHED.add(self.state.status)
        REACHED.add(kind)

    @invariant()
    def status_is_in_the_vocabulary(self) -> None:
        assert self.state.status in vocab.statuses()

    @invariant()
    def an_open_case_has_an_owner(self) -> None:
        if self.state.status in OWNED:
            assert self.state.owner is not None, self.state

    @invariant()
    def settled_cases_are_never_left_unowned(self) -> None:
        assert self.state.status not in ("received", "routed", "forwarded")

    @invariant()
    def one_resolution_at_most(self) -> None:
        assert self.state.resolutions <= 1
        assert self.resolved_since_reopen <= 1


TestCaseMachine = CaseMachine.TestCase
TestCaseMachine.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


def test_a_decline_never_goes_back_to_the_decliner_or_the_origin() -> None:
    s = settle(State(origins=frozenset({ORIGIN})), [ORIGIN, "a", "b"], SUPERVISOR)
    assert s.owner == "a"
    s = settle(apply(s, Event("case.decline", "a")), [ORIGIN, "a", "b"], SUPERVISOR)
    assert (s.status, s.owner) == ("offered", "b")
    s = settle(apply(s, Event("case.decline", "b")), [ORIGIN, "a", "b"], SUPERVISOR)
    assert (s.status, s.owner) == ("offered", SUPERVISOR)  # escalated: nobody else may take it


def test_the_wrong_agency_gets_a_409_naming_whose_turn_it_is() -> None:
    s = settle(State(origins=frozenset({ORIGIN})), ["a"], SUPERVISOR)
    with pytest.raises(NotYourTurn) as exc:
        apply(s, Event("case.accept", "b"))
    assert exc.value.status == 409 and "turn of a" in exc.value.detail


def test_a_second_resolution_is_refused() -> None:
    s = settle(State(origins=frozenset({ORIGIN})), ["a"], SUPERVISOR)
    s = apply(apply(s, Event("case.accept", "a")), Event("case.resolve", "a"))
    with pytest.raises((NotYourTurn, InvalidTransition)):
        apply(s, Event("case.resolve", "a"))


def test_the_random_walk_reaches_every_settled_status() -> None:
    """Guards the test itself: a walk that never leaves 'offered' would prove nothing."""
    from hypothesis.stateful import run_state_machine_as_test

    REACHED.clear()
    run_state_machine_as_test(
        CaseMachine, settings=settings(max_examples=200, stateful_step_count=40, deadline=None)
    )
    statuses = {"offered", "accepted", "in_progress", "resolved", "closed", "merged"}
    messages = {"case.reopen", "case.forward", "case.decline", "case.escalate", "case.unmerge"}
    assert statuses | messages <= REACHED

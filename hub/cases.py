"""The case state machine: pure, driven by the status vocabulary, in one place.

``apply(state, event)`` checks two things and returns the next state or raises:

* the vocabulary (``schemas/vocab/statuses.json``) allows ``event.type`` from this status —
  else :class:`InvalidTransition`;
* it is ``event.actor``'s turn — else :class:`NotYourTurn`, which names whose turn it is.

Whose turn it is:

=================  ===============================================================
case.accept        the agency the case is offered to
case.decline       the agency the case is offered to (never the origin's problem)
case.forward       the holder; ``to`` must be another agency
case.assist        the holder; ``to`` joins as an assisting agency until the case ends
case.status        the holder
case.resolve       the holder (or the agency it is offered to: Traffy often finishes
                   without a separate acceptance); at most one resolution until a reopen
case.reopen        an origin of one of the case's complaints
case.merge         the holder, or an origin
case.unmerge       the holder, an origin, or the hub
case.escalate      the hub (SLA breach) or the holder; ``to`` is the supervisor
hub.*              the hub only
=================  ===============================================================

``settle`` is what the hub does after a message leaves a case without an owner (declined,
expired, reopened, unmerged): offer it to the next candidate that has not declined and is
not an origin, else to the supervisor. The service layer (``caseflow``) runs both inside
the message's transaction, so no committed case is ever open without an owner while any
agency can take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hub import vocab
from hub.errors import Conflict, NotYourTurn

HUB = "hub"
HOLDING = frozenset({"accepted", "in_progress", "reopened"})
OWNED = frozenset({"offered", "accepted", "in_progress", "forwarded", "reopened", "resolved"})
CLOSED = frozenset({"resolved", "closed", "rejected", "merged"})


class InvalidTransition(Conflict):
    slug, title = "invalid-transition", "The case's status does not allow this message"


@dataclass(frozen=True, slots=True)
class State:
    status: str = "received"
    owner: str | None = None  # the holder, or the agency the case is offered to
    origins: frozenset[str] = frozenset()
    declined: frozenset[str] = frozenset()
    assists: frozenset[str] = frozenset()
    resolutions: int = 0
    previous_owner: str | None = None  # a forward that is not accepted returns here
    escalations: int = 0

    @property
    def open(self) -> bool:
        return self.status not in CLOSED


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    actor: str
    to: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def allowed(status: str, event_type: str) -> str | None:
    """The status ``event_type`` leads to from ``status``, per the vocabulary, or None."""
    return _table().get((status, event_type))


def apply(state: State, event: Event) -> State:
    to = allowed(state.status, event.type)
    if to is None:
        raise InvalidTransition(f"a case that is {state.status} does not take {event.type}")
    _check_turn(state, event)
    return _next(state, event, to)


def whose_turn(state: State, event_type: str) -> str:
    """Who may send ``event_type`` now, in words, for the 409 problem's detail."""
    if event_type in ("case.reopen",):
        return "an origin agency (" + ", ".join(sorted(state.origins)) + ")"
    if event_type.startswith("hub."):
        return "the hub"
    return f"{state.owner}" if state.owner else "nobody (the case has no owner)"


def settle(
    state: State, candidates: Sequence[str], supervisor: str | None, *, initial: bool = False
) -> State:
    """Give an ownerless open case to the first candidate that may take it, else the
    supervisor; unchanged if nobody can (the caller records that as a problem case).

    A re-route never goes back to an agency that declined, nor to an origin; the first
    routing of a new case may land at its origin (a municipality handling its own Traffy
    ticket)."""
    if state.status not in ("received", "routed", "reopened", "forwarded"):
        return state
    if state.status == "received":
        state = apply(state, Event("hub.route", HUB))
    if state.status == "forwarded" or (state.status == "reopened" and state.owner):
        return apply(state, Event("hub.forward", HUB, to=state.owner))
    banned = state.declined if initial else state.declined | state.origins
    target = next((c for c in candidates if c not in banned), None) or supervisor
    if target is None:
        return state
    return apply(state, Event("hub.forward", HUB, to=target))


# --------------------------------------------------------------------------- internals


def _check_turn(state: State, e: Event) -> None:
    t, actor = e.type, e.actor
    ok: bool
    if t.startswith("hub."):
        ok = actor == HUB
    elif t in ("case.accept", "case.decline"):
        ok = actor == state.owner
    elif t in ("case.forward", "case.assist"):
        ok = actor == state.owner and e.to is not None and e.to != actor
    elif t == "case.status":
        ok = actor == state.owner
    elif t == "case.resolve":
        ok = actor == state.owner and state.resolutions == 0
    elif t == "case.reopen":
        ok = actor in state.origins
    elif t == "case.merge":
        ok = actor == state.owner or actor in state.origins
    elif t == "case.unmerge":
        ok = actor in (HUB, state.previous_owner) or actor in state.origins
    elif t == "case.escalate":
        ok = actor in (HUB, state.owner) and e.to is not None
    else:
        ok = False
    if not ok:
        raise NotYourTurn(
            f"{actor} may not send {t} now; it is the turn of {whose_turn(state, t)}",
            extra={"turn": state.owner, "status": state.status},
        )


def _next(s: State, e: Event, to: str) -> State:
    t = e.type
    if t == "hub.forward":
        return replace(s, status=to, owner=e.to)
    if t in ("case.decline", "hub.expire"):
        declined = s.declined | {s.owner} if s.owner and t == "case.decline" else s.declined
        return replace(s, status=to, owner=None, declined=declined, previous_owner=s.previous_owner)
    if t in ("case.forward", "case.escalate"):
        return replace(
            s,
            status=to,
            owner=e.to,
            previous_owner=s.owner,
            escalations=s.escalations + (t == "case.escalate"),
        )
    if t == "case.assist":
        return replace(s, status=to, assists=s.assists | {e.to or ""})
    if t == "case.resolve":
        return replace(s, status=to, resolutions=s.resolutions + 1, assists=frozenset())
    if t == "case.reopen":
        return replace(s, status=to, resolutions=0, declined=frozenset())
    if t == "case.merge":
        return replace(s, status=to, previous_owner=s.owner, owner=None, assists=frozenset())
    if t == "case.unmerge":
        return replace(s, status=to, owner=None)
    if t == "hub.reject":
        return replace(s, status=to, owner=None)
    return replace(s, status=to)


_TABLE: dict[tuple[str, str], str] | None = None


def _table() -> dict[tuple[str, str], str]:
    global _TABLE
    if _TABLE is None:
        _TABLE = {(t.from_, t.on): t.to for t in vocab.transitions()}
    return _TABLE

"""Intake: a signed envelope in, a signed receipt out, everything stored in ONE transaction.

The verifier follows a fixed order (numbered below) so that the cheapest refusals come first
and nothing is written before every check has passed:

1. size limit
2. parse the compact JWS (ASCII, three base64url parts, our ``typ``, an allowed ``alg``)
3. key lookup in the trust registry (unknown, revoked, retired or expired keys refused)
4. signature, with the key's own algorithm
5. payload: strict JSON, envelope schema, ``issuer`` owns the ``kid``, ``audience`` is us
6. idempotency: the same bytes again get the same receipt; the same ``id`` with other bytes
   is a replay (409)
7. freshness: ``issued_at`` within the clock skew
8. the body against the schema of its message type (every bad field, with its pointer)
9. store: envelope bytes, the message's effect (complaint, case), log leaf, receipt
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import caseflow
from hub.errors import FieldError, HubError, Replay, SchemaInvalid, TooLarge
from hub.exchange import envelopes, handlers, translog
from hub.exchange.envelopes import Policy, Verified, policy_for
from hub.exchange.group import GroupCommit
from hub.exchange.hubkey import HubSigner
from hub.models import Envelope
from hub.personal import Sealer

if TYPE_CHECKING:
    from hub.services import Hub

RECEIPT_TYP = "hub-receipt+jws"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the sender gets back; ``created`` is False for an idempotent re-send.

    Read it after the transaction commits: the log index and the receipt are stamped on the
    envelope as the last step of the commit (the log numbers leaves there).
    """

    envelope: Envelope
    created: bool
    destinations: tuple[str, ...] = ()
    case: str | None = None

    @property
    def receipt(self) -> str:
        return self.envelope.receipt or ""

    @property
    def message_id(self) -> str:
        return self.envelope.message_id

    @property
    def case_id(self) -> str | None:
        return self.envelope.case_id or self.case

    @property
    def log_index(self) -> int | None:
        return self.envelope.log_index

    def as_dict(self) -> dict[str, Any]:
        return {
            "receipt": self.receipt,
            "message_id": self.message_id,
            "case_id": self.case_id,
            "log_index": self.log_index,
        }


def accept(
    session: Session,
    raw: bytes,
    *,
    policy: Policy,
    signer: HubSigner,
    sealer: Sealer,
    now: datetime,
) -> Accepted:
    """Verify and store one envelope. Raises a HubError child; the caller rolls back."""
    v = envelopes.verify_envelope(session, raw, policy=policy, now=now)  # 1-5
    earlier = envelopes.earlier(session, v.payload["issuer"], v.payload["id"])  # 6
    if earlier is not None:
        return resend(earlier, v)
    checked = check(v, policy=policy, now=now)
    return store(session, checked, signer=signer, sealer=sealer, now=now)


def resend(earlier: Envelope, v: Verified) -> Accepted:
    """Step 6: the same bytes get the same receipt; other bytes under a used id are a replay."""
    if earlier.jws_sha256 != v.jws_sha256:
        raise Replay(f"message id {v.payload['id']!r} was already used by {v.key.agency!r}")
    return Accepted(earlier, created=False)


@dataclass(frozen=True, slots=True)
class Checked:
    """A new message that passed every check; storing it can no longer refuse it for its
    shape (a case message may still meet a case rule)."""

    verified: Verified
    issued_at: datetime


def check(v: Verified, *, policy: Policy, now: datetime) -> Checked:
    """Steps 7 and 8: freshness, then the body against its message type's schema."""
    issued_at = envelopes.fresh(v.payload["issued_at"], now, policy.clock_skew)  # 7
    if v.type not in handlers.HANDLED:  # 8
        raise SchemaInvalid(
            "message type not accepted",
            errors=[FieldError("/type", f"message type {v.type!r} is not accepted here")],
        )
    envelopes.check_body(v)
    return Checked(v, issued_at)


def store(
    session: Session,
    checked: Checked,
    *,
    signer: HubSigner,
    sealer: Sealer,
    now: datetime,
    envelope: Envelope | None = None,
) -> Accepted:
    """Step 9. A batch passes ``envelope``: its row, already written with the batch's others."""
    if envelope is None:
        envelope = envelopes.new_row(checked.verified, issued_at=checked.issued_at, now=now)
        session.add(envelope)
        session.flush()
    v = checked.verified

    effect: handlers.Effect | None = None

    def seal(_index: int) -> None:  # at commit, once the log has numbered the leaf
        envelope.case_id = effect.case_id if effect else None  # one UPDATE with the receipt
        envelope.receipt = signer.sign_json(receipt_payload(envelope), typ=RECEIPT_TYP)

    translog.enqueue_envelope(session, envelope, on_index=seal)  # before its forwards
    handle = handlers.HANDLED[v.type]
    effect = handle(session, envelope, v.body, handlers.Context(now, sealer, signer))
    return Accepted(envelope, created=True, destinations=effect.destinations, case=effect.case_id)


def receipt_payload(envelope: Envelope) -> dict[str, Any]:
    """What the hub vouches for: this issuer's message, these exact bytes, here in the log."""
    return {
        "message_id": envelope.message_id,
        "issuer": envelope.issuer,
        "payload_sha256": envelope.payload_sha256,
        "jws_sha256": envelope.jws_sha256,
        "leaf_hash": translog.leaf_hash_hex(envelope),
        "case_id": envelope.case_id,
        "log_index": envelope.log_index,
        "received_at": _rfc3339(envelope.received_at),
    }


def _rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- services


def submit(hub: Hub, raw: bytes) -> Accepted:
    """One envelope, stored with whatever else is arriving at the same moment (group
    commit, see :mod:`hub.exchange.group`); a concurrent twin is answered idempotently."""
    result = _group(hub).submit(raw)
    if result.error is not None:
        raise result.error
    assert result.accepted is not None
    return result.accepted


_groups_lock = threading.Lock()


def _group(hub: Hub) -> GroupCommit[ItemResult]:
    with _groups_lock:
        if hub.intake_group is None:
            hub.intake_group = GroupCommit(partial(_submit_raws, hub), hub.settings.batch_max)
        group: GroupCommit[ItemResult] = hub.intake_group
    return group


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    accepted: Accepted | None = None
    error: HubError | None = None


def submit_batch(hub: Hub, items: Sequence[str]) -> list[ItemResult]:
    """Each item judged alone, all committed together; a refused item changes nothing.

    The fast way first (:func:`_staged`): check every item, then store the new complaints
    without a savepoint or a flush each, so their rows reach the database in a few
    multi-row statements at commit. Should storing meet anything unexpected (a concurrent
    twin, a rule a complaint broke after all), that transaction rolls back whole and the
    batch is judged again one item per savepoint (:func:`_one_by_one`): the slow way is the
    reference, the fast way only has to agree with it.
    """
    if len(items) > hub.settings.batch_max:
        raise TooLarge(f"a batch holds at most {hub.settings.batch_max} envelopes")
    return _submit_raws(hub, [item.encode("utf-8", "surrogatepass") for item in items])


def _submit_raws(hub: Hub, raws: Sequence[bytes]) -> list[ItemResult]:
    policy, now = policy_for(hub.settings), hub.now()
    try:
        results = _staged(hub, raws, policy, now)
    except (HubError, IntegrityError) as exc:
        log.info("batch of %d: staged store gave way (%r); one item at a time", len(raws), exc)
        results = _one_by_one(hub, raws, policy, now)
    hub.wake({d for r in results if r.accepted for d in r.accepted.destinations})
    return results


def _staged(hub: Hub, raws: Sequence[bytes], policy: Policy, now: datetime) -> list[ItemResult]:
    results: list[ItemResult | None] = [None] * len(raws)
    with hub.transaction() as session:
        verified: list[tuple[int, Verified]] = []
        for i, raw in enumerate(raws):  # 1-5, nothing written
            try:
                verified.append(
                    (i, envelopes.verify_envelope(session, raw, policy=policy, now=now))
                )
            except HubError as exc:
                results[i] = ItemResult(i, error=exc)
        known = envelopes.earlier_many(session, [_message_key(v) for _, v in verified])
        fresh: dict[int, Checked] = {}
        first_in_batch: dict[tuple[str, str], int] = {}
        twins: dict[int, tuple[int, Verified]] = {}  # item -> (the item it repeats, itself)
        for i, v in verified:  # 6-8
            try:
                key = _message_key(v)
                if key in known:
                    results[i] = ItemResult(i, accepted=resend(known[key], v))
                elif key in first_in_batch:
                    twins[i] = (first_in_batch[key], v)
                else:
                    fresh[i] = check(v, policy=policy, now=now)
                    first_in_batch[key] = i
            except HubError as exc:
                results[i] = ItemResult(i, error=exc)
        session.info[handlers.BATCH_MEMO] = handlers.BatchMemo.prefetch(
            session, [c.verified for c in fresh.values() if c.verified.type == "complaint.submit"]
        )
        # The complaints' envelope rows first, in one statement: every other row points at
        # its envelope, and the unit of work orders tables only by the relationships it
        # knows of (there are none), else by class name.
        rows = {
            i: envelopes.new_row(c.verified, issued_at=c.issued_at, now=now)
            for i, c in fresh.items()
            if c.verified.type == "complaint.submit"
        }
        session.add_all(rows.values())
        session.flush()
        session.info[handlers.BATCH_MEMO].match_ahead(session)  # after that flush
        store_one = partial(store, session, signer=hub.signer, sealer=hub.sealer, now=now)
        for i in sorted({*fresh, *twins}):  # in the batch's order: case rules depend on it
            if i in rows:
                with session.no_autoflush:  # the rest wait for the commit's one flush
                    results[i] = ItemResult(i, accepted=store_one(fresh[i], envelope=rows[i]))
                continue
            try:
                if i in twins:  # an id twice in one batch: as if sent again later
                    first, v = twins[i]
                    stored = results[first]
                    if stored is not None and stored.accepted is not None:
                        results[i] = ItemResult(i, accepted=resend(stored.accepted.envelope, v))
                        continue
                    fresh[i] = check(v, policy=policy, now=now)  # the first was refused
                with session.begin_nested():  # case rules may refuse: only this item's rows go
                    results[i] = ItemResult(i, accepted=store_one(fresh[i]))
            except HubError as exc:
                caseflow.forget(session)
                results[i] = ItemResult(i, error=exc)
        session.info.pop(handlers.BATCH_MEMO, None)
    done = [r for r in results if r is not None]
    assert len(done) == len(raws), "every item is judged"
    return done


def _message_key(v: Verified) -> tuple[str, str]:
    return str(v.payload["issuer"]), str(v.payload["id"])


def _one_by_one(hub: Hub, raws: Sequence[bytes], policy: Policy, now: datetime) -> list[ItemResult]:
    """Each item in its own savepoint: a refusal rolls back only its own changes."""
    results: list[ItemResult] = []
    with hub.transaction() as session:
        for i, raw in enumerate(raws):
            results.append(_one(hub, session, i, raw, policy, now))
    return results


def _one(
    hub: Hub, session: Session, i: int, raw: bytes, policy: Policy, now: datetime
) -> ItemResult:
    """One item in a savepoint. A unique key tripped by a twin that another transaction
    committed meanwhile: a second look finds the twin and answers as for any re-send."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                accepted = accept(
                    session, raw, policy=policy, signer=hub.signer, sealer=hub.sealer, now=now
                )
            return ItemResult(i, accepted=accepted)
        except HubError as exc:
            caseflow.forget(session)
            return ItemResult(i, error=exc)
        except IntegrityError:
            caseflow.forget(session)
            if attempt == 2:
                return ItemResult(i, error=Replay("a twin of this message is being stored"))
    raise AssertionError("unreachable")

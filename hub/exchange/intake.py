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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import caseflow
from hub.errors import FieldError, HubError, Replay, SchemaInvalid, TooLarge
from hub.exchange import envelopes, handlers, translog
from hub.exchange.envelopes import Policy, policy_for
from hub.exchange.hubkey import HubSigner
from hub.models import Envelope
from hub.personal import Sealer

if TYPE_CHECKING:
    from hub.services import Hub

RECEIPT_TYP = "hub-receipt+jws"


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
        if earlier.jws_sha256 != v.jws_sha256:
            raise Replay(f"message id {v.payload['id']!r} was already used by {v.key.agency!r}")
        return Accepted(earlier, created=False)
    issued_at = envelopes.fresh(v.payload["issued_at"], now, policy.clock_skew)  # 7
    if v.type not in handlers.HANDLED:  # 8
        raise SchemaInvalid(
            "message type not accepted",
            errors=[FieldError("/type", f"message type {v.type!r} is not accepted here")],
        )
    envelopes.check_body(v)
    envelope = envelopes.new_row(v, issued_at=issued_at, now=now)  # 9
    session.add(envelope)
    session.flush()

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
    """One envelope in its own transaction; a concurrent twin is answered idempotently."""
    for attempt in (1, 2):
        try:
            with hub.transaction() as session:
                accepted = accept(
                    session,
                    raw,
                    policy=policy_for(hub.settings),
                    signer=hub.signer,
                    sealer=hub.sealer,
                    now=hub.now(),
                )
            hub.wake(accepted.destinations)  # after commit: a job never sees a rolled-back row
            return accepted
        except IntegrityError:
            # another process stored the same (issuer, id) between our check and our insert;
            # the second pass finds it and answers as for any re-send
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    accepted: Accepted | None = None
    error: HubError | None = None


def submit_batch(hub: Hub, items: Sequence[str]) -> list[ItemResult]:
    """Each item judged alone (a savepoint each), all committed together.

    One commit for the batch is what makes batches fast; a refused item rolls back only its
    own savepoint, so it changes nothing and never spoils the others.
    """
    if len(items) > hub.settings.batch_max:
        raise TooLarge(f"a batch holds at most {hub.settings.batch_max} envelopes")
    policy, now = policy_for(hub.settings), hub.now()
    results: list[ItemResult] = []
    with hub.transaction() as session:
        for i, item in enumerate(items):
            try:
                with session.begin_nested():
                    accepted = accept(
                        session,
                        item.encode("utf-8", "surrogatepass"),
                        policy=policy,
                        signer=hub.signer,
                        sealer=hub.sealer,
                        now=now,
                    )
                results.append(ItemResult(i, accepted=accepted))
            except HubError as exc:
                caseflow.forget(session)
                results.append(ItemResult(i, error=exc))
            except IntegrityError:
                caseflow.forget(session)
                results.append(
                    ItemResult(i, error=Replay("a twin of this message is being stored"))
                )
    hub.wake({d for r in results if r.accepted for d in r.accepted.destinations})
    return results

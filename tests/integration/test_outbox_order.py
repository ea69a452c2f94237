"""A destination's messages about one case never overtake each other."""

from __future__ import annotations

from datetime import timedelta

from hub.exchange import outbox
from hub.models import Agency, Delivery, Envelope


def _setup(hub, clock):
    now = clock()
    with hub.transaction() as s:
        s.add(
            Agency(
                code="mwa",
                kind="state_enterprise",
                name_th="กปน.",
                mode="push",
                endpoint="http://x",
                areas=[],
                categories=[],
                roles=["receive"],
            )
        )
        env = Envelope(
            issuer="bma",
            message_id="m",
            type="complaint.submit",
            audience="hub",
            kid="bma/k",
            jws=b"x",
            payload_sha256="0" * 64,
            jws_sha256="0" * 64,
            issued_at=now,
            received_at=now,
        )
        s.add(env)
        s.flush()
        plan = [
            ("case:a", 0),
            ("case:b", 0),
            ("case:a", 0),
            ("case:c", 60),
            ("case:c", 0),
            ("case:b", 0),
        ]
        for i, (case, later) in enumerate(plan):
            s.add(
                Delivery(
                    envelope_id=env.id,
                    destination="mwa",
                    case_id=case,
                    forward_id=f"fwd:{i}",
                    forward_jws=b"x",
                    state="pending",
                    next_attempt_at=now + timedelta(seconds=later),
                )
            )


def test_next_in_order_holds_back_a_case_behind_its_not_yet_due_message(hub, clock):
    _setup(hub, clock)
    with hub.transaction() as s:
        due = [d.forward_id for d in outbox.next_in_order(s, "mwa", now=clock(), limit=10)]
    assert due == ["fwd:0", "fwd:1", "fwd:2", "fwd:5"]  # fwd:4 waits behind fwd:3 (same case)


def test_a_failed_message_blocks_its_case_until_retried(hub, clock):
    _setup(hub, clock)
    with hub.transaction() as s:
        first = s.query(Delivery).filter_by(forward_id="fwd:0").one()
        outbox.mark_failed(
            s, first, "boom", now=clock(), policy=outbox.RetryPolicy(base_seconds=30)
        )
    with hub.transaction() as s:
        due = [d.forward_id for d in outbox.next_in_order(s, "mwa", now=clock(), limit=10)]
    assert "fwd:2" not in due and due[:2] == ["fwd:1", "fwd:5"]
    clock.advance(seconds=120)
    with hub.transaction() as s:
        due = [d.forward_id for d in outbox.next_in_order(s, "mwa", now=clock(), limit=10)]
    assert due == ["fwd:0", "fwd:1", "fwd:2", "fwd:3", "fwd:4", "fwd:5"]


def test_a_lease_keeps_a_second_deliverer_out_until_it_expires(hub, clock):
    _setup(hub, clock)
    with hub.transaction() as s:
        assert outbox.take_lease(s, "mwa", owner="w1", now=clock(), seconds=30)
    with hub.transaction() as s:
        assert not outbox.take_lease(s, "mwa", owner="w2", now=clock(), seconds=30)
    clock.advance(seconds=31)  # w1 was killed: its lease runs out
    with hub.transaction() as s:
        assert outbox.take_lease(s, "mwa", owner="w2", now=clock(), seconds=30)

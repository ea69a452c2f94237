"""What happens while the log's lock is held: every intake and every round of acks in every
process queues on the ``log_state`` row, so the frontier comes back with the lock and the
stamps the leaves put on their rows (log indexes, receipts) go out with the leaves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, update

from hub.exchange import merkle, translog
from hub.models import Delivery, Envelope, LogLeaf, LogState
from tests.support.envelopes import traffy_complaint


def _append(hub, count: int, tag: str) -> None:
    with hub.transaction() as s:
        for j in range(count):
            translog.enqueue(s, f"{tag}/{j}".encode(), envelope_id=None, now=datetime.now(UTC))


def _check_tree(hub) -> int:
    """The stored frontier is the frontier of the stored nodes, and both give the root of
    the leaves recomputed from scratch."""
    with hub.transaction() as s:
        leaves = s.scalars(select(LogLeaf.leaf_input).order_by(LogLeaf.leaf_index)).all()
        size, packed = s.execute(select(LogState.size, LogState.frontier)).one()
        assert size == len(leaves)
        stored = translog.unpack_frontier(packed, size)
        nodes = translog.DbNodes(s)
        assert stored == dict(nodes.get_nodes(merkle.root_keys(size)))
        expected = merkle.MemoryNodes(leaves)
        assert merkle.root_hash(size, nodes) == expected.root(size)
    return size


def test_the_frontier_travels_with_the_log_state_row(hub):
    for n, batch in enumerate((1, 1, 3, 5, 1, 8, 2)):
        _append(hub, batch, f"t{n}")
        _check_tree(hub)


def test_a_missing_or_foreign_frontier_is_read_from_the_nodes_once(hub):
    _append(hub, 5, "a")
    with hub.transaction() as s:  # a log written before the column existed
        s.execute(update(LogState).where(LogState.id == 1).values(frontier=None))
    _append(hub, 3, "b")
    assert _check_tree(hub) == 8  # filled in again
    with hub.transaction() as s:  # a frontier left by a process that did not keep it
        nodes = translog.DbNodes(s).get_nodes(merkle.root_keys(5))
        stale = translog.pack_frontier(5, dict(nodes))
        s.execute(update(LogState).where(LogState.id == 1).values(frontier=stale))
    _append(hub, 4, "c")
    assert _check_tree(hub) == 12


@pytest.mark.parametrize(
    ("size", "packed"),
    [(0, None), (3, b""), (3, b"\x00" * 8 + b"x" * 64), (2, (3).to_bytes(8, "big") + b"y" * 32)],
)
def test_unpack_refuses_what_is_not_this_size_s_frontier(size, packed):
    assert translog.unpack_frontier(packed, size) is None


def test_pack_then_unpack_is_the_identity_at_every_size():
    tree = merkle.MemoryNodes()
    for i in range(70):
        keys = merkle.root_keys(tree.size)
        nodes = dict(tree.get_nodes(keys))
        assert translog.unpack_frontier(translog.pack_frontier(tree.size, nodes), tree.size) == (
            nodes
        )
        tree.append(f"leaf {i}".encode())


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_under_the_lock_intake_sends_one_write_then_commits(agencies, hub):
    """From the lock to COMMIT: one statement, carrying leaves, nodes, size, frontier and
    the envelope's and forwards' stamps; nothing is left for the ORM to flush after it."""
    agencies.enrol("bma", areas=["10"], endpoint="http://127.0.0.1:9/in", mode="push")
    sender = agencies.enrol("ops1111", kind="hotline", areas=[], roles=["submit"])
    sender.client.send("complaint.submit", traffy_complaint(0))  # a log that is not empty
    statements: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    def committed(_conn: object) -> None:
        statements.append("COMMIT")

    event.listen(hub.engine, "before_cursor_execute", listen)
    event.listen(hub.engine, "commit", committed)
    try:
        receipt = sender.client.send("complaint.submit", traffy_complaint(1))
    finally:
        event.remove(hub.engine, "before_cursor_execute", listen)
        event.remove(hub.engine, "commit", committed)
    locked = next(i for i, q in enumerate(statements) if "FOR UPDATE" in q and "log_state" in q)
    after = statements[locked + 1 :]
    assert len(after) == 2 and after[1] == "COMMIT", after
    write = after[0]
    for part in ("INSERT INTO log_leaves", "UPDATE log_state", "UPDATE envelopes"):
        assert part in write
    assert "UPDATE deliveries" in write  # the forward to bma is a leaf of its own
    assert not [q for q in statements if "log_nodes" in q and q.lstrip().startswith("SELECT")]
    with hub.transaction() as s:  # what the one statement wrote is what the receipt says
        env = s.scalars(select(Envelope).where(Envelope.message_id == receipt.message_id)).one()
        assert env.log_index == receipt.log_index
        assert env.case_id == receipt.case_id
        assert env.receipt == receipt.jws
        forward = s.scalars(select(Delivery).where(Delivery.envelope_id == env.id)).one()
        assert forward.log_index == receipt.log_index + 1
        leaf = s.get(LogLeaf, forward.log_index)
        assert leaf is not None and forward.forward_id.encode() in leaf.leaf_input

"""The transparency log in the database: gap-free leaves, write-once subtree nodes, heads.

Appends run inside the caller's transaction and lock the single ``log_state`` row, so leaf
indexes are gap-free even with many API processes; the lock is held until commit, which is
the price of a log without holes. Proofs read O(log n) rows in one query (see merkle.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from hub.exchange import merkle
from hub.exchange.canonical import canonicalize
from hub.models import Envelope, LogLeaf, LogNode, LogState

TREE_HEAD_TYP = "hub-tree-head+jws"


class DbNodes:
    """``merkle.NodeReader`` over ``log_nodes``: one SELECT per call."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_nodes(self, keys: Sequence[merkle.NodeKey]) -> Mapping[merkle.NodeKey, bytes]:
        if not keys:
            return {}
        rows = self.session.execute(
            select(LogNode.level, LogNode.idx, LogNode.hash).where(
                tuple_(LogNode.level, LogNode.idx).in_(list(keys))
            )
        )
        return {(level, idx): h for level, idx, h in rows}


def leaf_input(envelope: Envelope) -> bytes:
    """What the log holds for a message: its fingerprint, never its content."""
    return canonicalize(
        {
            "type": envelope.type,
            "id": envelope.message_id,
            "issuer": envelope.issuer,
            "received_at": envelope.received_at.isoformat().replace("+00:00", "Z"),
            "jws_sha256": envelope.jws_sha256,
        }
    )


def append_envelope(session: Session, envelope: Envelope) -> int:
    return append(session, leaf_input(envelope), envelope_id=envelope.id, now=envelope.received_at)


def append(session: Session, data: bytes, *, envelope_id: int | None, now: datetime) -> int:
    """Append one leaf; returns its index. Holds the log lock until the transaction ends."""
    size = session.execute(
        select(LogState.size).where(LogState.id == 1).with_for_update()
    ).scalar_one()
    hashed = merkle.leaf_hash(data)
    rows = merkle.nodes_to_store(size, hashed, DbNodes(session))
    session.execute(
        insert(LogLeaf),
        [
            {
                "leaf_index": size,
                "leaf_input": data,
                "leaf_hash": hashed,
                "envelope_id": envelope_id,
                "created_at": now,
            }
        ],
    )
    session.execute(insert(LogNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in rows])
    session.execute(update(LogState).where(LogState.id == 1).values(size=size + 1))
    return size


def size(session: Session) -> int:
    return session.execute(select(LogState.size).where(LogState.id == 1)).scalar_one()


def tree_head_payload(tree_size: int, root: bytes, timestamp: datetime) -> dict[str, Any]:
    return {
        "tree_size": tree_size,
        "root_hash": root.hex(),
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
    }

"""The transparency log in the database: gap-free leaves, write-once subtree nodes, heads.

Leaves are queued during a transaction and numbered at its very end (:func:`sequence`, run
by a ``before_commit`` hook on every session): the single ``log_state`` row is locked only
then, so leaf indexes are gap-free across any number of API processes while the lock is
held for a few bulk statements. Proofs read O(log n) rows in one query (see merkle.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TypeDecorator, insert, select, tuple_, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value

from hub.errors import FieldError, NotFound, RequestInvalid
from hub.exchange import merkle
from hub.exchange.canonical import canonicalize
from hub.exchange.hubkey import HubSigner
from hub.models import Envelope, LogLeaf, LogNode, LogState, TreeHead

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
    return leaf_bytes(
        envelope.type,
        envelope.message_id,
        envelope.issuer,
        envelope.received_at,
        envelope.jws_sha256,
    )


def leaf_bytes(type_: str, id_: str, issuer: str, received_at: datetime, jws_sha256: str) -> bytes:
    """RFC 8785 canonical JSON of ``{type, id, issuer, received_at, jws_sha256}``."""
    return canonicalize(
        {
            "type": type_,
            "id": id_,
            "issuer": issuer,
            "received_at": received_at.isoformat().replace("+00:00", "Z"),
            "jws_sha256": jws_sha256,
        }
    )


PENDING = "translog.pending"


@dataclass(frozen=True, slots=True)
class _Pending:
    data: bytes
    hashed: bytes
    envelope_id: int | None
    now: datetime
    owner: object | None
    on_index: Callable[[int], None] | None


def enqueue(
    session: Session,
    data: bytes,
    *,
    envelope_id: int | None,
    now: datetime,
    owner: object | None = None,
    on_index: Callable[[int], None] | None = None,
) -> None:
    """Queue a leaf; it gets its index when the transaction commits (see :func:`sequence`).

    ``owner`` is the row the leaf stands for: if a savepoint rolls that row back, the leaf
    goes with it. ``on_index`` is told the index (to stamp a receipt, say) before commit.
    """
    item = _Pending(data, merkle.leaf_hash(data), envelope_id, now, owner, on_index)
    session.info.setdefault(PENDING, []).append(item)


def enqueue_envelope(
    session: Session, envelope: Envelope, on_index: Callable[[int], None] | None = None
) -> None:
    def stamp(index: int) -> None:
        envelope.log_index = index
        if on_index is not None:
            on_index(index)

    enqueue(
        session,
        leaf_input(envelope),
        envelope_id=envelope.id,
        now=envelope.received_at,
        owner=envelope,
        on_index=stamp,
    )


def sequence(session: Session) -> None:
    """Give every queued leaf its gap-free index and write them: run just before commit.

    The log's lock is taken here, at the end of the transaction, so it is held for a few
    bulk statements rather than for all the work before them: concurrent intakes verify,
    validate and route in parallel and only queue up to be numbered.
    """
    if session.in_nested_transaction():
        return  # a savepoint ending; numbering waits for the real commit
    pending = [p for p in session.info.pop(PENDING, []) if _alive(p.owner)]
    if not pending:
        return
    session.flush()  # write everything else first: the lock below is held until COMMIT
    # From here to COMMIT every intake and every round of acks in every process waits on
    # this row, so on PostgreSQL it is three round trips: the lock (which brings the
    # frontier with it), one multi-statement write, COMMIT.
    size, packed = session.execute(
        select(LogState.size, LogState.frontier).where(LogState.id == 1).with_for_update()
    ).one()
    frontier: Mapping[merkle.NodeKey, bytes] | None = unpack_frontier(packed, size)
    if frontier is None:  # a log written before the column existed: read it once
        frontier = DbNodes(session).get_nodes(merkle.root_keys(size))
    nodes = merkle.nodes_to_store_many(size, [p.hashed for p in pending], frontier)
    new_size = size + len(pending)
    leaves = [
        (size + i, p.data, p.hashed, p.envelope_id, p.now.astimezone(UTC))
        for i, p in enumerate(pending)
    ]
    for i, p in enumerate(pending):  # stamps and receipts, before the write that carries them
        if p.on_index is not None:
            p.on_index(size + i)
    new_frontier = pack_frontier(new_size, {**frontier, **{(lv, ix): h for lv, ix, h in nodes}})
    if session.get_bind().dialect.name == "postgresql":
        owners = [p.owner for p in pending if p.owner is not None]
        _write_in_one_round_trip(session, leaves, nodes, new_size, new_frontier, owners)
    else:
        _write(session, leaves, nodes, new_size, new_frontier)


def pack_frontier(size: int, nodes: Mapping[merkle.NodeKey, bytes]) -> bytes:
    """``log_state.frontier``: the size it belongs to (8 bytes, big-endian), then the hashes
    of ``root_keys(size)`` in order. The size inside guards against a process that updated
    ``size`` without it (an older version during a rolling upgrade): such a frontier is
    simply not used."""
    return size.to_bytes(8, "big") + b"".join(nodes[k] for k in merkle.root_keys(size))


def unpack_frontier(packed: bytes | None, size: int) -> dict[merkle.NodeKey, bytes] | None:
    """The frontier nodes of a log of ``size`` leaves, or None when ``packed`` is missing or
    belongs to another size (then read ``log_nodes``)."""
    keys = merkle.root_keys(size)
    if packed is None or len(packed) != 8 + 32 * len(keys):
        return None
    if int.from_bytes(packed[:8], "big") != size:
        return None
    return {k: packed[8 + 32 * i : 8 + 32 * (i + 1)] for i, k in enumerate(keys)}


_LEAF = ("leaf_index", "leaf_input", "leaf_hash", "envelope_id", "created_at")


def _write_in_one_round_trip(
    session: Session,
    leaves: Sequence[tuple[Any, ...]],
    nodes: Sequence[tuple[int, int, bytes]],
    new_size: int,
    frontier: bytes,
    owners: Sequence[object],
) -> None:
    """PostgreSQL: the leaves, the nodes, the new size and frontier, and the columns the
    leaves' ``on_index`` stamped on their rows (log indexes, receipts) as one multi-statement
    string (values quoted by psycopg2 itself): one round trip instead of four."""
    conn = session.connection()
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:

        def values(template: str, rows: Sequence[tuple[Any, ...]]) -> str:
            return ",".join(cursor.mogrify(template, r).decode() for r in rows)

        leaf_rows = values("(%s,%s,%s,%s,%s)", leaves)
        writes = [
            f"INSERT INTO log_leaves ({', '.join(_LEAF)}) VALUES {leaf_rows}",
            cursor.mogrify(
                "UPDATE log_state SET size = %s, frontier = %s WHERE id = 1",
                (new_size, frontier),
            ).decode(),
        ]
        if nodes:
            writes.append(
                f"INSERT INTO log_nodes (level, idx, hash) VALUES {values('(%s,%s,%s)', nodes)}"
            )
        stamped, settle = _stamp_updates(session, owners, cursor)
        writes += stamped
    finally:
        cursor.close()
    conn.exec_driver_sql(";\n".join(writes))
    settle()


def _stamp_updates(
    session: Session, owners: Sequence[object], cursor: Any
) -> tuple[list[str], Callable[[], None]]:
    """UPDATE statements for the plain columns ``on_index`` changed on already written rows
    (one per table and set of columns, ``UPDATE ... FROM (VALUES ...)``), and a function that
    then tells the ORM those values are stored, so its flush at COMMIT has nothing left to
    send. A row with any other kind of change (a relationship, a column whose type processes
    its values) is left to the ORM's flush, as before."""
    dialect = session.get_bind().dialect
    groups: dict[tuple[Any, tuple[str, ...]], list[Any]] = {}
    seen: set[int] = set()
    for obj in owners:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        state = sa_inspect(obj)
        changed = tuple(sorted(state.committed_state))
        if not state.persistent or not changed:
            continue
        columns = state.mapper.column_attrs
        if len(state.mapper.primary_key) != 1 or any(
            k not in columns
            or len(columns[k].columns) != 1
            or isinstance(columns[k].columns[0].type, TypeDecorator)  # values need processing
            for k in changed
        ):
            continue
        groups.setdefault((state.mapper, changed), []).append(state)
    statements: list[str] = []
    done: list[tuple[Any, tuple[str, ...]]] = []
    for (mapper, keys), states in groups.items():
        table = mapper.local_table
        pk = mapper.primary_key[0]
        cols = [mapper.column_attrs[k].columns[0] for k in keys]
        casts = ",".join(f"CAST(%s AS {c.type.compile(dialect=dialect)})" for c in [pk, *cols])
        rows = ",".join(
            cursor.mogrify(
                f"({casts})",
                (mapper.primary_key_from_instance(st.obj())[0], *(st.dict[k] for k in keys)),
            ).decode()
            for st in states
        )
        names = ", ".join(c.name for c in [pk, *cols])
        sets = ", ".join(f"{c.name} = v.{c.name}" for c in cols)
        statements.append(
            f"UPDATE {table.name} AS t SET {sets} FROM (VALUES {rows}) AS v({names}) "
            f"WHERE t.{pk.name} = v.{pk.name}"
        )
        done.extend((st, keys) for st in states)

    def settle() -> None:
        for st, keys in done:
            obj = st.obj()
            for k in keys:
                set_committed_value(obj, k, st.dict[k])

    return statements, settle


def _write(
    session: Session,
    leaves: Sequence[tuple[Any, ...]],
    nodes: Sequence[tuple[int, int, bytes]],
    new_size: int,
    frontier: bytes,
) -> None:
    """Any other backend (SQLite: one writer at a time, no row lock to share)."""
    session.execute(insert(LogLeaf), [dict(zip(_LEAF, leaf, strict=True)) for leaf in leaves])
    session.execute(insert(LogNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes])
    session.execute(
        update(LogState).where(LogState.id == 1).values(size=new_size, frontier=frontier)
    )


def discard(session: Session, previous_transaction: SessionTransaction) -> None:
    """Forget queued leaves when the whole transaction rolls back (savepoints don't count:
    their leaves are dropped at :func:`sequence` because their rows are gone)."""
    if previous_transaction.parent is None:
        session.info.pop(PENDING, None)


def _alive(owner: object | None) -> bool:
    if owner is None:
        return True
    state = sa_inspect(owner)
    return bool(state.persistent or state.pending)


def append(session: Session, data: bytes, *, envelope_id: int | None, now: datetime) -> int:
    """Append one leaf now and return its index (tools and benchmarks; intake queues)."""
    box: list[int] = []
    enqueue(session, data, envelope_id=envelope_id, now=now, on_index=box.append)
    sequence(session)
    return box[-1]


def size(session: Session) -> int:
    return session.execute(select(LogState.size).where(LogState.id == 1)).scalar_one()


def tree_head_payload(tree_size: int, root: bytes, timestamp: datetime) -> dict[str, Any]:
    return {
        "tree_size": tree_size,
        "root_hash": root.hex(),
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
    }


def leaf_hash_hex(envelope: Envelope) -> str:
    return merkle.leaf_hash(leaf_input(envelope)).hex()


# --------------------------------------------------------------------------- tree heads


@dataclass(frozen=True, slots=True)
class Head:
    tree_size: int
    root_hash: str
    timestamp: datetime
    signature: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": _iso(self.timestamp),
            "signature": self.signature,
        }


def publish_head(session: Session, signer: HubSigner, *, now: datetime) -> Head:
    """Sign and keep a head for the current size, unless the newest head already covers it.

    Safe to call from any number of processes: a head for a size is written once.
    """
    latest = latest_head(session)
    current = size(session)
    if latest is not None and latest.tree_size >= current:
        return latest
    root = merkle.root_hash(current, DbNodes(session))
    payload = tree_head_payload(current, root, now)
    head = Head(current, root.hex(), now, signer.sign_json(payload, typ=TREE_HEAD_TYP))
    try:
        with session.begin_nested():
            session.add(TreeHead(**{**head.as_dict(), "timestamp": now}))
    except IntegrityError:
        found = session.get(TreeHead, current)
        assert found is not None
        return _head(found)
    return head


def latest_head(session: Session) -> Head | None:
    row = session.scalars(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)).first()
    return _head(row) if row else None


def head_at(session: Session, tree_size: int) -> Head:
    row = session.get(TreeHead, tree_size)
    if row is None:
        raise NotFound(f"no published tree head of size {tree_size}")
    return _head(row)


def _head(row: TreeHead) -> Head:
    return Head(row.tree_size, row.root_hash, row.timestamp, row.signature)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- proofs


def inclusion(
    session: Session, *, tree_size: int, leaf_index: int | None = None, leaf_hash: str | None = None
) -> tuple[int, list[str]]:
    """(leaf index, audit path in hex) for a leaf in the tree of ``tree_size``."""
    _check_size(session, tree_size)
    if leaf_index is None:
        found = _index_of(session, leaf_hash or "")
        leaf_index = found
    if not 0 <= leaf_index < tree_size:
        raise RequestInvalid(
            f"leaf {leaf_index} is not in a tree of size {tree_size}",
            errors=[FieldError("/query/leaf_index", "must be below tree_size")],
        )
    path = merkle.inclusion_proof(leaf_index, tree_size, DbNodes(session))
    return leaf_index, [h.hex() for h in path]


def consistency(session: Session, *, first: int, second: int) -> list[str]:
    _check_size(session, second)
    if not 0 < first <= second:
        raise RequestInvalid(
            "need 0 < first <= second",
            errors=[FieldError("/query/first", "must be between 1 and second")],
        )
    return [h.hex() for h in merkle.consistency_proof(first, second, DbNodes(session))]


def entries(session: Session, *, start: int, end: int, limit: int = 1000) -> list[LogLeaf]:
    """Leaves ``start <= index < end`` (at most ``limit``), with the exact logged bytes."""
    if not 0 <= start < end:
        raise RequestInvalid(
            "need 0 <= start < end", errors=[FieldError("/query/end", "must be > start")]
        )
    stmt = (
        select(LogLeaf)
        .where(LogLeaf.leaf_index >= start, LogLeaf.leaf_index < min(end, start + limit))
        .order_by(LogLeaf.leaf_index)
    )
    return list(session.scalars(stmt))


def _check_size(session: Session, tree_size: int) -> None:
    current = size(session)
    if not 0 < tree_size <= current:
        raise RequestInvalid(
            f"tree_size must be between 1 and the log's size {current}",
            errors=[FieldError("/query/tree_size", f"must be between 1 and {current}")],
        )


def _index_of(session: Session, leaf_hash_hex: str) -> int:
    try:
        wanted = bytes.fromhex(leaf_hash_hex)
    except ValueError as exc:
        raise RequestInvalid(
            "leaf_hash is not hex", errors=[FieldError("/query/leaf_hash", "not hex")]
        ) from exc
    index = session.scalar(
        select(LogLeaf.leaf_index)
        .where(LogLeaf.leaf_hash == wanted)
        .order_by(LogLeaf.leaf_index)
        .limit(1)
    )
    if index is None:
        raise NotFound("no leaf with that hash")
    return int(index)


def heads_after(session: Session, *, after: int, limit: int) -> list[Head]:
    stmt = (
        select(TreeHead).where(TreeHead.tree_size > after).order_by(TreeHead.tree_size).limit(limit)
    )
    return [_head(row) for row in session.scalars(stmt)]

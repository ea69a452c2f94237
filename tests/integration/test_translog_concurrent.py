"""The transparency log under concurrent appends: every process's transactions queue on one
row, and the nodes written while holding it must be exactly the tree of the leaves."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from hub.exchange import merkle, translog
from hub.models import LogLeaf


def _naive_root(hashes: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursing on the leaf hashes."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return merkle.node_hash(_naive_root(hashes[:k]), _naive_root(hashes[k:]))


def test_concurrent_appends_are_gap_free_and_build_the_exact_tree(hub):
    threads, per_thread, batch = 6, 12, 3
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(0, per_thread, batch):
                with hub.transaction() as s:
                    for j in range(i, i + batch):
                        translog.enqueue(
                            s,
                            f"leaf {t}/{j}".encode(),
                            envelope_id=None,
                            now=datetime.now(UTC),
                        )
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    total = threads * per_thread
    with hub.transaction() as s:
        leaves = s.scalars(select(LogLeaf).order_by(LogLeaf.leaf_index)).all()
        assert [leaf.leaf_index for leaf in leaves] == list(range(total))
        assert translog.size(s) == total
        # each transaction's leaves got consecutive indexes, in the order it queued them
        by_input = {leaf.leaf_input.decode(): leaf.leaf_index for leaf in leaves}
        for t in range(threads):
            for i in range(0, per_thread, batch):
                first = by_input[f"leaf {t}/{i}"]
                assert [by_input[f"leaf {t}/{j}"] for j in range(i, i + batch)] == list(
                    range(first, first + batch)
                )
        hashes = [merkle.leaf_hash(leaf.leaf_input) for leaf in leaves]
        assert [leaf.leaf_hash for leaf in leaves] == hashes
        nodes = translog.DbNodes(s)
        for size in (1, 2, 3, 7, 8, 31, total - 1, total):
            assert merkle.root_hash(size, nodes) == _naive_root(hashes[:size]), size
        for index in (0, 5, total - 1):
            path = merkle.inclusion_proof(index, total, nodes)
            assert merkle.root_from_inclusion(hashes[index], index, total, path) == _naive_root(
                hashes
            )

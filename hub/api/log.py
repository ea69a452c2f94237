"""The transparency log over HTTP: public, read-only, fingerprints only."""

from __future__ import annotations

import base64

from hub.api.deps import Reply, hub, ok
from hub.errors import FieldError, RequestInvalid
from hub.exchange import translog


def tree_head() -> Reply:
    h = hub()
    with h.transaction() as s:
        return ok(translog.publish_head(s, h.signer, now=h.now()).as_dict())


def tree_heads(after: int = 0, limit: int = 100) -> Reply:
    with hub().transaction() as s:
        heads = translog.heads_after(s, after=after, limit=limit)
        return ok({"tree_heads": [head.as_dict() for head in heads]})


def inclusion_proof(
    tree_size: int, leaf_index: int | None = None, leaf_hash: str | None = None
) -> Reply:
    if (leaf_index is None) == (leaf_hash is None):
        raise RequestInvalid(
            "give exactly one of leaf_index and leaf_hash",
            errors=[FieldError("/query/leaf_index", "exactly one of leaf_index, leaf_hash")],
        )
    with hub().transaction() as s:
        index, path = translog.inclusion(
            s, tree_size=tree_size, leaf_index=leaf_index, leaf_hash=leaf_hash
        )
    return ok({"leaf_index": index, "tree_size": tree_size, "audit_path": path})


def consistency_proof(first: int, second: int) -> Reply:
    with hub().transaction() as s:
        path = translog.consistency(s, first=first, second=second)
    return ok({"first": first, "second": second, "consistency_path": path})


def log_entries(start: int, end: int) -> Reply:
    with hub().transaction() as s:
        leaves = translog.entries(s, start=start, end=end)
        return ok(
            {
                "entries": [
                    {
                        "leaf_index": leaf.leaf_index,
                        "leaf_input": base64.b64encode(leaf.leaf_input).decode(),
                    }
                    for leaf in leaves
                ]
            }
        )

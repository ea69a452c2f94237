"""RFC 9162 Merkle tree for the hub's transparency log — pure, no database, no I/O.

Why this shape
--------------
The log grows to tens of millions of leaves, so nothing here ever walks the leaves. The
storage model is *write-once complete subtrees*: node ``(level, index)`` is the Merkle Tree
Hash (RFC 9162 §2.1.1) of leaves ``[index * 2**level, (index + 1) * 2**level)`` and is stored
the moment its last leaf is appended (about two rows per leaf, amortised). A complete node
never changes afterwards, so one node table serves proofs for *every* tree size the log has
ever had: a proof for size ``n`` only reads nodes that were already complete at ``n``.

Every hash a proof or a root needs is either such a complete subtree (read it) or the root
of an *incomplete right-edge* subtree ``[start, n)`` — which is computed on the fly by
folding its O(log n) complete parts right to left, exactly like MTH splits at the largest
power of two smaller than the size (RFC 9162 §2.1.1). So:

* ``required_nodes_*`` / ``root_keys`` say which ``(level, index)`` keys are needed — at
  most about ``2 * log2(n)`` — and
* ``root_hash`` / ``inclusion_proof`` / ``consistency_proof`` call ``reader.get_nodes``
  exactly once (zero times when no node is needed), so a database answers each proof with a
  single ``SELECT ... WHERE (level, idx) IN (...)``.

Appending (the write side) is split the same way so the caller can batch its reads inside
its own transaction::

    keys = siblings_needed(size)                     # the left siblings, <= log2(n) keys
    rows = nodes_to_store(size, leaf_hash(data), store.get_nodes(keys))
    store.insert(rows)                               # (level, index, hash) rows

``nodes_to_store`` also accepts a ``NodeReader`` directly and then fetches in one call.
Appends must be serialised by the caller (the hub holds a lock on the tree size row): leaf
number ``size`` must be appended exactly once, after leaf ``size - 1``.

The verifiers (``verify_inclusion``, ``verify_consistency``, ``root_from_inclusion``) follow
RFC 9162 §2.1.3.2 and §2.1.4.2 literally and share nothing with the proof-building code but
the two hash functions, so a bug in one side cannot hide a bug in the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodes",
    "MissingNodeError",
    "NodeKey",
    "NodeReader",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_to_store",
    "nodes_to_store_many",
    "required_nodes_consistency",
    "required_nodes_inclusion",
    "root_from_inclusion",
    "root_hash",
    "root_keys",
    "siblings_needed",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""SHA-256 output length; every leaf hash, node hash and proof entry has this length."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH({}) = HASH() — the root of the empty tree (RFC 9162 §2.1.1)."""

NodeKey = tuple[int, int]
"""``(level, index)`` of a complete perfect subtree.

It covers leaves ``[index << level, (index + 1) << level)``; the ``log_nodes`` table
stores it as ``(level, idx, hash)``.
"""


# --------------------------------------------------------------------------- hashing


def leaf_hash(leaf_input: bytes) -> bytes:
    """MTH({d}) = HASH(0x00 || d) (RFC 9162 §2.1.1).

    The 0x00 prefix domain-separates leaves from interior nodes so a leaf can never be
    passed off as a node (second-preimage protection, RFC 9162 §2.1.1 note).
    """
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right), the interior node hash (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# --------------------------------------------------------------------------- errors


class ProofError(ValueError):
    """A proof did not verify; the message says which check failed (RFC 9162 §2.1.3.2/§2.1.4.2)."""


class MissingNodeError(LookupError):
    """The node store did not return a node that must exist — the store is incomplete or
    was asked about a tree size larger than the log. Never a client error."""


# --------------------------------------------------------------------------- storage seam


@runtime_checkable
class NodeReader(Protocol):
    """Where complete-subtree hashes live (a database table, or ``MemoryNodes``).

    ``get_nodes`` is called at most once per root/proof with every key it needs, so an
    implementation can answer with one query. It returns the hashes it has; keys it lacks
    are simply absent (the caller raises ``MissingNodeError``).
    """

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        """Return ``{(level, index): hash}`` for the requested complete subtrees."""
        ...


class MemoryNodes:
    """Dict-backed ``NodeReader`` holding every complete node of one growing log.

    For tests, tools and small logs. It stores exactly the rows the hub's database would
    (via ``nodes_to_store``), so it exercises the same write path.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self._size = 0
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf: bytes, *, prehashed: bool = False) -> int:
        """Append one leaf and return its 0-based index.

        ``leaf`` is the leaf *input* (hashed with ``leaf_hash``) unless ``prehashed=True``,
        in which case it is already a 32-byte leaf hash. The flag is explicit because a
        32-byte input is a legitimate leaf input too — guessing would be ambiguous.
        """
        hashed = leaf if prehashed else leaf_hash(leaf)
        index = self._size
        for level, idx, value in nodes_to_store(index, hashed, self._nodes):
            self._nodes[(level, idx)] = value
        self._size += 1
        return index

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Return the stored hashes for ``keys`` (absent keys are omitted)."""
        nodes = self._nodes
        return {key: nodes[key] for key in keys if key in nodes}

    def root(self, size: int | None = None) -> bytes:
        """Root hash at ``size`` (default: current size)."""
        return root_hash(self._size if size is None else size, self)


# --------------------------------------------------------------------------- planning


def _check_size(size: int, what: str = "size") -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"{what} must be a non-negative int, got {size!r}")


def _split(width: int) -> int:
    """Largest power of two strictly smaller than ``width`` (``width >= 2``): RFC 9162 k."""
    return 1 << ((width - 1).bit_length() - 1)


def _range_keys(start: int, end: int) -> list[NodeKey]:
    """Decompose ``[start, end)`` into complete perfect subtrees, left to right.

    Takes the binary digits of the width from the top. Because every range produced by the
    RFC recursion starts at a multiple of a power of two at least as large as its width,
    each piece is an aligned subtree — the same pieces MTH would split into (RFC 9162
    §2.1.1: split at the largest power of two < n, recurse on the right part).
    """
    keys: list[NodeKey] = []
    pos = start
    width = end - start
    for level in range(width.bit_length() - 1, -1, -1):
        if (width >> level) & 1:
            if pos & ((1 << level) - 1):  # pragma: no cover - guards the invariant above
                raise AssertionError(f"unaligned range [{start}, {end})")
            keys.append((level, pos >> level))
            pos += 1 << level
    return keys


def _hash_range(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from its complete parts, folded right to left (RFC 9162 §2.1.1)."""
    keys = _range_keys(start, end)
    acc = _lookup(nodes, keys[-1])
    for key in reversed(keys[:-1]):
        acc = node_hash(_lookup(nodes, key), acc)
    return acc


def _lookup(nodes: Mapping[NodeKey, bytes], key: NodeKey) -> bytes:
    try:
        return nodes[key]
    except KeyError:
        raise MissingNodeError(f"node (level={key[0]}, index={key[1]}) not in store") from None


def _keys_for(ranges: Iterable[tuple[int, int]]) -> list[NodeKey]:
    return sorted({key for start, end in ranges for key in _range_keys(start, end)})


def _fetch(reader: NodeReader, keys: list[NodeKey]) -> Mapping[NodeKey, bytes]:
    """The single batched read; skipped entirely when nothing is needed."""
    return reader.get_nodes(keys) if keys else {}


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges whose MTH form PATH(index, D[0:size]), in proof order (RFC 9162 §2.1.3.1).

    PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])   if m < k
                  = PATH(m-k, D[k:n]) : MTH(D[0:k]) if m >= k
    Walked top-down, so the collected siblings are reversed to put the leaf's sibling first.
    """
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Ranges whose MTH form PROOF(first, D[0:second]) in order (RFC 9162 §2.1.4.1).

    SUBPROOF(m, D[m], true) = {};  SUBPROOF(m, D[m], false) = {MTH(D[m])}
    SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])        if m <= k
                         = SUBPROOF(m-k, D[k:n], false) : MTH(D[0:k])  if m > k
    ``first`` is kept absolute: the sub-tree ``[lo, hi)`` is "D[m]" when ``hi == first``.
    """
    outer: list[tuple[int, int]] = []
    lo, hi, whole = 0, second, True
    while hi != first:
        mid = lo + _split(hi - lo)
        if first <= mid:
            outer.append((mid, hi))
            hi = mid
        else:
            outer.append((lo, mid))
            lo = mid
            whole = False
    head = [] if whole else [(lo, hi)]
    outer.reverse()
    return head + outer


def root_keys(size: int) -> list[NodeKey]:
    """Keys of the complete subtrees whose fold is MTH(D[0:size]) — at most log2(size)+1.

    These are also the log's *frontier*: the only existing nodes a future append can need.
    """
    _check_size(size)
    return _range_keys(0, size)


def required_nodes_inclusion(index: int, size: int) -> list[NodeKey]:
    """Sorted, de-duplicated keys ``inclusion_proof(index, size)`` reads (one batched query)."""
    _check_inclusion_args(index, size)
    return _keys_for(_inclusion_ranges(index, size))


def required_nodes_consistency(first: int, second: int) -> list[NodeKey]:
    """Sorted, de-duplicated keys ``consistency_proof(first, second)`` reads."""
    _check_consistency_args(first, second)
    if first == second:
        return []
    return _keys_for(_consistency_ranges(first, second))


def _check_inclusion_args(index: int, size: int) -> None:
    _check_size(size)
    _check_size(index, "index")
    if index >= size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")


def _check_consistency_args(first: int, second: int) -> None:
    _check_size(first, "first")
    _check_size(second, "second")
    if first == 0:
        raise ValueError("no consistency proof from the empty tree (RFC 9162 §2.1.4: 0 < m)")
    if first > second:
        raise ValueError(f"first size {first} is larger than second size {second}")


# --------------------------------------------------------------------------- reading


def root_hash(size: int, reader: NodeReader) -> bytes:
    """MTH(D[0:size]) from at most log2(size)+1 complete subtrees in one ``get_nodes`` call.

    RFC 9162 §2.1.1 splits at the largest power of two below n and recurses on the right;
    unrolled, that is the binary decomposition of ``size`` folded right to left.
    """
    _check_size(size)
    if size == 0:
        return EMPTY_ROOT
    nodes = _fetch(reader, root_keys(size))
    return _hash_range(0, size, nodes)


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf's sibling first.

    Reads ``required_nodes_inclusion(index, size)`` with one ``get_nodes`` call; the one
    possibly incomplete sibling (the right edge) is folded from its complete parts.
    Raises ``ValueError`` if ``index >= size``.
    """
    _check_inclusion_args(index, size)
    ranges = _inclusion_ranges(index, size)
    nodes = _fetch(reader, _keys_for(ranges))
    return [_hash_range(start, end, nodes) for start, end in ranges]


def consistency_proof(first: int, second: int, reader: NodeReader) -> list[bytes]:
    """PROOF(first, D[0:second]) (RFC 9162 §2.1.4.1); empty when ``first == second``.

    ``first == 0`` is refused (``ValueError``): RFC 9162 §2.1.4 defines proofs for
    ``0 < m``, and ``verify_consistency`` rejects size 0, as the transparency-dev vectors
    require. One ``get_nodes`` call.
    """
    _check_consistency_args(first, second)
    if first == second:
        return []
    ranges = _consistency_ranges(first, second)
    nodes = _fetch(reader, _keys_for(ranges))
    return [_hash_range(start, end, nodes) for start, end in ranges]


# --------------------------------------------------------------------------- writing


def siblings_needed(size_before: int) -> list[NodeKey]:
    """Left siblings that appending leaf ``size_before`` combines with, bottom-up.

    Leaf ``i`` completes one parent per trailing 1-bit of ``i``: at each level the node is
    a right child and its (already complete) left sibling is ``(level, (i >> level) - 1)``.
    """
    _check_size(size_before, "size_before")
    keys: list[NodeKey] = []
    i, level = size_before, 0
    while i & 1:
        keys.append((level, i - 1))
        i >>= 1
        level += 1
    return keys


def _as_mapping(
    siblings: Mapping[NodeKey, bytes] | NodeReader, keys: list[NodeKey]
) -> Mapping[NodeKey, bytes]:
    if isinstance(siblings, Mapping):
        return siblings
    if isinstance(siblings, NodeReader):
        return _fetch(siblings, keys)
    raise TypeError("siblings must be a Mapping or a NodeReader")


def nodes_to_store(
    size_before: int,
    new_leaf_hash: bytes,
    siblings: Mapping[NodeKey, bytes] | NodeReader,
) -> list[tuple[int, int, bytes]]:
    """Rows ``(level, index, hash)`` that become complete when leaf ``size_before`` is added.

    Always the leaf itself at level 0, plus one parent per trailing 1-bit of
    ``size_before`` (amortised two rows per leaf). ``siblings`` is either the mapping
    returned for ``siblings_needed(size_before)`` (lets the caller batch its read) or a
    ``NodeReader`` (fetched here with one call). Caller must serialise appends.
    """
    _check_size(size_before, "size_before")
    if len(new_leaf_hash) != HASH_SIZE:
        raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(new_leaf_hash)}")
    keys = siblings_needed(size_before)
    nodes = _as_mapping(siblings, keys)
    rows = [(0, size_before, new_leaf_hash)]
    acc = new_leaf_hash
    for level, left_index in keys:
        acc = node_hash(_lookup(nodes, (level, left_index)), acc)
        rows.append((level + 1, (left_index + 1) >> 1, acc))
    return rows


def nodes_to_store_many(
    size_before: int,
    new_leaf_hashes: Sequence[bytes],
    siblings: Mapping[NodeKey, bytes] | NodeReader,
) -> list[tuple[int, int, bytes]]:
    """Rows for appending several leaves at once (one read, one bulk insert).

    The only pre-existing nodes a batch can need are the frontier ``root_keys(size_before)``;
    ``siblings`` is their mapping or a ``NodeReader`` (fetched with one call). Nodes made
    inside the batch are kept in a local overlay.
    """
    _check_size(size_before, "size_before")
    overlay: dict[NodeKey, bytes] = dict(_as_mapping(siblings, root_keys(size_before)))
    rows: list[tuple[int, int, bytes]] = []
    for offset, hashed in enumerate(new_leaf_hashes):
        new_rows = nodes_to_store(size_before + offset, hashed, overlay)
        for level, index, value in new_rows:
            overlay[(level, index)] = value
        rows.extend(new_rows)
    return rows


# --------------------------------------------------------------------------- verifying


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _inner_border(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion path length into inner (below the right-edge) and border parts."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Root implied by an inclusion proof, per RFC 9162 §2.1.3.2 steps 1-4.

    Raises ``ProofError`` when the proof is malformed for ``(index, size)``; comparing the
    result against a trusted root (step 5) is ``verify_inclusion``'s job.
    """
    if index < 0 or size < 0:
        raise ProofError(f"negative index or size ({index}, {size})")
    if index >= size:
        raise ProofError(f"leaf index {index} is not less than tree size {size}")
    _check_hash(leaf_hash, "leaf hash")
    for i, entry in enumerate(proof):
        _check_hash(entry, f"proof[{i}]")
    inner, border = _inner_border(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"wrong proof length {len(proof)} for index {index} in size {size}, "
            f"want {inner + border}"
        )
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Returns ``None`` on success, raises ``ProofError`` otherwise.
    """
    computed = root_from_inclusion(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError("inclusion proof does not lead to the given root")


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree of size ``second`` extends the tree of size ``first``.

    RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots. ``first == 0`` is
    always refused: RFC 9162 §2.1.4 defines proofs for ``0 < m``, a proof from the empty
    tree proves nothing, and the transparency-dev vectors expect an error. Raises
    ``ProofError`` on any failure.
    """
    if first < 0 or second < 0:
        raise ProofError(f"negative tree size ({first}, {second})")
    if first > second:
        raise ProofError(f"first size {first} is larger than second size {second}")
    if first == 0:
        raise ProofError("a consistency proof from the empty tree is not defined (0 < m)")
    for i, entry in enumerate(proof):
        _check_hash(entry, f"proof[{i}]")
    if first == second:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if first_root != second_root:
            raise ProofError("sizes are equal but the roots differ")
        return
    if not proof:  # step 1
        raise ProofError("empty consistency proof for different sizes")

    shift = (first & -first).bit_length() - 1  # trailing zeros: levels shared with first
    inner, border = _inner_border(first - 1, second)
    inner -= shift
    seeded = first == 1 << shift  # step 2: first is a power of two
    want = (0 if seeded else 1) + inner + border
    if len(proof) != want:
        raise ProofError(
            f"wrong proof length {len(proof)} for sizes {first}->{second}, want {want}"
        )

    path = [first_root, *proof] if seeded else list(proof)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 7
        raise ProofError("proof is shorter than the path to the root")
    if fr != first_root:
        raise ProofError("consistency proof does not reproduce the first root")
    if sr != second_root:
        raise ProofError("consistency proof does not reproduce the second root")

"""Tests for hub.exchange.merkle against published RFC 6962/9162 vectors and a naive MTH.

Vectors live in tests/fixtures/vectors/merkle (copied from transparency-dev/merkle,
Apache-2.0, see SOURCE.md there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.exchange.merkle import (
    EMPTY_ROOT,
    MemoryNodes,
    MissingNodeError,
    NodeKey,
    NodeReader,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_to_store,
    nodes_to_store_many,
    required_nodes_consistency,
    required_nodes_inclusion,
    root_from_inclusion,
    root_hash,
    root_keys,
    siblings_needed,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "vectors" / "merkle"
TESTDATA = VECTORS / "transparency-dev-testdata"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


RFC = _load("rfc6962_vectors.json")
H = bytes.fromhex


# --------------------------------------------------------------------------- naive reference


def naive_mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH written straight from the definition (leaf hashes in)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(naive_mth(leaves[:k]), naive_mth(leaves[k:]))


def naive_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH, literally."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF, literally."""
    n = len(leaves)
    if m == n:
        return [] if whole else [naive_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], whole), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


MAX_N = 300
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_N)]


@cache
def store_of(n: int) -> MemoryNodes:
    store = MemoryNodes()
    for leaf in LEAVES[:n]:
        store.append(leaf, prehashed=True)
    return store


BIG_STORE = store_of(MAX_N)


@cache
def naive_root(n: int) -> bytes:
    return naive_mth(LEAVES[:n])


class CountingReader:
    """Wraps a reader and records each get_nodes call's keys."""

    def __init__(self, inner: NodeReader) -> None:
        self.inner = inner
        self.calls: list[list[NodeKey]] = []

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        self.calls.append(list(keys))
        return self.inner.get_nodes(keys)


# --------------------------------------------------------------------------- RFC 6962 vectors


@pytest.mark.parametrize("vector", RFC["hasher_vectors"], ids=lambda v: v["desc"])
def test_hasher_vectors(vector: dict[str, str]) -> None:
    if vector["op"] == "empty_root":
        got = EMPTY_ROOT
        assert root_hash(0, MemoryNodes()) == EMPTY_ROOT
    elif vector["op"] == "leaf_hash":
        got = leaf_hash(H(vector["input_hex"]))
    else:
        got = node_hash(H(vector["left_hex"]), H(vector["right_hex"]))
    assert got.hex() == vector["want"]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def rfc_store() -> MemoryNodes:
    return MemoryNodes(H(x) for x in RFC["leaf_inputs_hex"])


def test_rfc_stored_nodes_match_published_levels() -> None:
    store = rfc_store()
    for level, hashes in enumerate(RFC["node_hashes_by_level"]):
        keys = [(level, i) for i in range(len(hashes))]
        got = store.get_nodes(keys)
        assert [got[k].hex() for k in keys] == hashes
    # nothing beyond the complete nodes is stored: 8+4+2+1
    assert len(store.get_nodes([(lv, i) for lv in range(5) for i in range(9)])) == 15


def test_rfc_roots_for_sizes_0_to_8() -> None:
    store = rfc_store()
    roots = RFC["root_hashes_by_tree_size"]
    assert sorted(int(s) for s in roots) == list(range(9))
    for size, want in roots.items():
        assert root_hash(int(size), store).hex() == want
        assert store.root(int(size)).hex() == want


def _rfc_inclusion_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = RFC["inclusion_proofs"]
    derived: list[dict[str, Any]] = RFC["derived_all_proofs_8_leaf_tree"]["inclusion"]
    return cases + derived


def _rfc_consistency_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = RFC["consistency_proofs"]
    derived: list[dict[str, Any]] = RFC["derived_all_proofs_8_leaf_tree"]["consistency"]
    return cases + derived


def test_rfc_inclusion_proofs_are_reproduced_and_verify() -> None:
    store = rfc_store()
    roots = RFC["root_hashes_by_tree_size"]
    cases = _rfc_inclusion_cases()
    assert len(cases) == 5 + 36
    for case in cases:
        m, n = case["leaf_index"], case["tree_size"]
        got = inclusion_proof(m, n, store)
        assert [h.hex() for h in got] == case["proof"], (m, n)
        lh = leaf_hash(H(RFC["leaf_inputs_hex"][m]))
        if "leaf_hash" in case:
            assert lh.hex() == case["leaf_hash"]
            assert case["root"] == roots[str(n)]
        verify_inclusion(lh, m, n, got, H(roots[str(n)]))


def test_rfc_consistency_proofs_are_reproduced_and_verify() -> None:
    store = rfc_store()
    roots = RFC["root_hashes_by_tree_size"]
    cases = _rfc_consistency_cases()
    assert len(cases) == 5 + 28
    for case in cases:
        m, n = case["size1"], case["size2"]
        got = consistency_proof(m, n, store)
        assert [h.hex() for h in got] == case["proof"], (m, n)
        verify_consistency(m, n, H(roots[str(m)]), H(roots[str(n)]), got)


# --------------------------------------------------------------------------- 196 probes


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(x) for x in value or []]


def _tree_probes(kind: str) -> list[tuple[str, dict[str, Any]]]:
    root = TESTDATA / kind
    return [
        (str(path.relative_to(TESTDATA)), json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(root.rglob("*.json"))
    ]


INCLUSION_PROBES = _tree_probes("inclusion")
CONSISTENCY_PROBES = _tree_probes("consistency")


def test_probe_counts_and_bundles_match_the_tree() -> None:
    """The *_probes.json bundles are the testdata/ tree plus bookkeeping: 196 cases total."""
    assert len(INCLUSION_PROBES) == 98
    assert len(CONSISTENCY_PROBES) == 98
    assert len(INCLUSION_PROBES) + len(CONSISTENCY_PROBES) == 196
    for bundle_name, tree in (
        ("inclusion_probes.json", INCLUSION_PROBES),
        ("consistency_probes.json", CONSISTENCY_PROBES),
    ):
        bundle = {
            p["file"].removeprefix("testdata/"): {
                k: v for k, v in p.items() if k not in ("file", "python_rfc6962_got_error")
            }
            for p in _load(bundle_name)["probes"]
        }
        assert bundle == dict(tree)
    wanted = [p["wantErr"] for _, p in INCLUSION_PROBES + CONSISTENCY_PROBES]
    assert wanted.count(False) == 12
    assert wanted.count(True) == 184


def _run_inclusion_probe(p: dict[str, Any]) -> None:
    verify_inclusion(
        _b64(p["leafHash"]), p["leafIdx"], p["treeSize"], _proof(p["proof"]), _b64(p["root"])
    )


def _run_consistency_probe(p: dict[str, Any]) -> None:
    verify_consistency(
        p["size1"], p["size2"], _b64(p["root1"]), _b64(p["root2"]), _proof(p["proof"])
    )


def _check_probe(name: str, p: dict[str, Any], run: Any) -> None:
    if p["wantErr"]:
        with pytest.raises(ProofError):
            run(p)
    else:
        run(p)


@pytest.mark.parametrize(("name", "probe"), INCLUSION_PROBES, ids=[n for n, _ in INCLUSION_PROBES])
def test_inclusion_probe(name: str, probe: dict[str, Any]) -> None:
    _check_probe(name, probe, _run_inclusion_probe)


@pytest.mark.parametrize(
    ("name", "probe"), CONSISTENCY_PROBES, ids=[n for n, _ in CONSISTENCY_PROBES]
)
def test_consistency_probe(name: str, probe: dict[str, Any]) -> None:
    _check_probe(name, probe, _run_consistency_probe)


def test_all_196_probes_in_one_sweep() -> None:
    """Belt and braces: count what actually ran and what passed/failed as wanted."""
    ran = passed = rejected = 0
    for name, p in INCLUSION_PROBES + CONSISTENCY_PROBES:
        run = _run_inclusion_probe if name.startswith("inclusion") else _run_consistency_probe
        try:
            run(p)
        except ProofError:
            assert p["wantErr"], name
            rejected += 1
        else:
            assert not p["wantErr"], name
            passed += 1
        ran += 1
    assert (ran, passed, rejected) == (196, 12, 184)


# --------------------------------------------------------------------------- exhaustive / property


def test_roots_match_naive_mth_for_all_sizes() -> None:
    for n in range(MAX_N + 1):
        assert root_hash(n, BIG_STORE) == naive_root(n), n
    for n in range(41):
        assert store_of(n).root() == naive_root(n), n


def test_store_rows_are_exactly_the_complete_subtrees() -> None:
    n = 77
    store = store_of(n)
    all_keys = [(lv, i) for lv in range(8) for i in range(n + 1)]
    got = store.get_nodes(all_keys)
    want = {(lv, i) for lv, i in all_keys if (i + 1) << lv <= n}
    assert set(got) == want
    for (lv, i), value in got.items():
        assert value == naive_mth(LEAVES[i << lv : (i + 1) << lv])


def test_nodes_to_store_amortised_two_rows_per_leaf() -> None:
    """Drive the write path the way a database caller would: batch-read, then insert rows."""
    table: dict[NodeKey, bytes] = {}
    total = 0
    for i in range(1024):
        wanted = siblings_needed(i)
        rows = nodes_to_store(i, LEAVES[i % MAX_N], {k: table[k] for k in wanted})
        total += len(rows)
        table.update({(lv, idx): value for lv, idx, value in rows})
    assert total == 2 * 1024 - 1
    assert len(table) == total
    assert table[(10, 0)] == naive_mth([LEAVES[i % MAX_N] for i in range(1024)])


def test_nodes_to_store_accepts_a_reader_with_one_call() -> None:
    reader = CountingReader(store_of(7))
    rows = nodes_to_store(7, LEAVES[7], reader)
    assert reader.calls == [[(0, 6), (1, 2), (2, 0)]]
    assert [(lv, i) for lv, i, _ in rows] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert rows[-1][2] == naive_root(8)
    with pytest.raises(MissingNodeError):
        nodes_to_store(7, LEAVES[7], {})
    with pytest.raises(ValueError, match="32 bytes"):
        nodes_to_store(0, b"short", {})


@pytest.mark.parametrize("before", [0, 1, 5, 8, 63, 64, 100])
@pytest.mark.parametrize("batch", [0, 1, 3, 17, 64])
def test_nodes_to_store_many_equals_one_by_one(before: int, batch: int) -> None:
    reader = CountingReader(store_of(before))
    rows = nodes_to_store_many(before, LEAVES[before : before + batch], reader)
    assert len(reader.calls) <= 1
    want = store_of(before + batch).get_nodes(
        [(lv, i) for lv in range(9) for i in range(before + batch)]
    )
    new = {(lv, i): v for lv, i, v in rows}
    assert new == {k: v for k, v in want.items() if (k[1] + 1) << k[0] > before}


NAIVE_UPTO = 100  # literal RFC recursion is slow; beyond this we only verify


def test_every_inclusion_proof_up_to_300_verifies() -> None:
    """All 45,150 (index, size) pairs; the first ~5,000 also equal the literal PATH."""
    count = 0
    for n in range(1, MAX_N + 1):
        root = naive_root(n)
        for m in range(n):
            proof = inclusion_proof(m, n, BIG_STORE)  # store is larger: old sizes still work
            if n <= NAIVE_UPTO:
                assert proof == naive_path(m, LEAVES[:n]), (m, n)
            verify_inclusion(LEAVES[m], m, n, proof, root)
            count += 1
    assert count == MAX_N * (MAX_N + 1) // 2


def test_every_consistency_proof_up_to_300_verifies() -> None:
    """All 45,150 pairs 1 <= m <= n <= 300; small ones also equal the literal SUBPROOF."""
    count = 0
    for n in range(1, MAX_N + 1):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, BIG_STORE)
            if n <= NAIVE_UPTO:
                assert proof == naive_subproof(m, LEAVES[:n], True), (m, n)
            verify_consistency(m, n, naive_root(m), naive_root(n), proof)
            count += 1
    assert count == MAX_N * (MAX_N + 1) // 2


sizes = st.integers(min_value=1, max_value=MAX_N)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), n=sizes)
def test_inclusion_property_up_to_300(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(m, n, BIG_STORE)
    assert proof == naive_path(m, LEAVES[:n])
    verify_inclusion(LEAVES[m], m, n, proof, naive_root(n))
    assert root_from_inclusion(LEAVES[m], m, n, proof) == naive_root(n)
    # a modified leaf, root, proof entry, index or size must fail
    flip = bytes([LEAVES[m][0] ^ 1]) + LEAVES[m][1:]
    with pytest.raises(ProofError):
        verify_inclusion(flip, m, n, proof, naive_root(n))
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[m], m, n, proof, flip)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:j], bytes([proof[j][0] ^ 0x80]) + proof[j][1:], *proof[j + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[m], m, n, bad, naive_root(n))
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[m], m, n, proof[:-1], naive_root(n))
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[m], m, n, [*proof, LEAVES[0]], naive_root(n))
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda x: x != m))
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[m], other, n, proof, naive_root(n))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), n=sizes)
def test_consistency_property_up_to_300(data: st.DataObject, n: int) -> None:
    m = data.draw(st.integers(1, n))
    proof = consistency_proof(m, n, BIG_STORE)
    assert proof == naive_subproof(m, LEAVES[:n], True)
    r1, r2 = naive_root(m), naive_root(n)
    verify_consistency(m, n, r1, r2, proof)
    flip1 = bytes([r1[0] ^ 1]) + r1[1:]
    flip2 = bytes([r2[0] ^ 1]) + r2[1:]
    with pytest.raises(ProofError):
        verify_consistency(m, n, flip1, r2, proof)
    with pytest.raises(ProofError):
        verify_consistency(m, n, r1, flip2, proof)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:j], bytes([proof[j][0] ^ 0x80]) + proof[j][1:], *proof[j + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(m, n, r1, r2, bad)
        with pytest.raises(ProofError):
            verify_consistency(m, n, r1, r2, proof[1:])
    with pytest.raises(ProofError):
        verify_consistency(m, n, r1, r2, [*proof, r1])
    with pytest.raises(ProofError):
        verify_consistency(0, n, EMPTY_ROOT, r2, proof)
    if m != n:
        with pytest.raises(ProofError):
            verify_consistency(n, m, r2, r1, proof)


def test_argument_errors() -> None:
    store = store_of(5)
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(5, 5, store)
    with pytest.raises(ValueError, match="empty tree"):
        consistency_proof(0, 5, store)
    with pytest.raises(ValueError, match="larger"):
        consistency_proof(6, 5, store)
    with pytest.raises(ValueError):
        root_hash(-1, store)
    with pytest.raises(MissingNodeError):
        root_hash(6, store)  # the store only knows 5 leaves
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(b"", 0, 1, [], b"")
    assert consistency_proof(5, 5, store) == []
    assert required_nodes_consistency(5, 5) == []
    assert required_nodes_inclusion(0, 1) == []


# --------------------------------------------------------------------------- O(log n) at 10M


class SyntheticReader:
    """A log of ``size`` leaves that are all ``leaf_hash(b"x")``.

    Then node (level, j) is the same hash P[level] for every j, so the tree is *genuinely*
    consistent (proofs verify) while costing nothing to synthesise. It also refuses any key
    that is not a complete subtree at ``size`` — a proof asking for one would be a bug.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.levels = [leaf_hash(b"x")]
        while 1 << len(self.levels) <= size:
            self.levels.append(node_hash(self.levels[-1], self.levels[-1]))
        self.calls: list[list[NodeKey]] = []

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        self.calls.append(list(keys))
        out = {}
        for level, index in keys:
            assert (index + 1) << level <= self.size, f"incomplete node {(level, index)}"
            out[(level, index)] = self.levels[level]
        return out


class HashOfKeyReader:
    """Arbitrary deterministic hashes: hash of (level, index). Checks read patterns only."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls: list[list[NodeKey]] = []

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        self.calls.append(list(keys))
        for level, index in keys:
            assert (index + 1) << level <= self.size
        return {k: hashlib.sha256(b"%d/%d" % k).digest() for k in keys}


TEN_M = 10_000_000
BOUND = 2 * math.ceil(math.log2(TEN_M)) + 2


@pytest.mark.parametrize(
    "index", [0, 1, 4_999_999, 8_388_607, 8_388_608, 9_999_998, TEN_M - 1, 1_234_567]
)
def test_inclusion_at_10m_is_one_read_of_log_n_keys(index: int) -> None:
    reader = SyntheticReader(TEN_M)
    proof = inclusion_proof(index, TEN_M, reader)
    assert len(reader.calls) == 1
    assert len(reader.calls[0]) <= BOUND
    assert reader.calls[0] == required_nodes_inclusion(index, TEN_M)
    root = root_hash(TEN_M, reader)
    verify_inclusion(reader.levels[0], index, TEN_M, proof, root)
    other = HashOfKeyReader(TEN_M)
    assert len(inclusion_proof(index, TEN_M, other)) == len(proof)
    assert len(other.calls) == 1


@pytest.mark.parametrize(
    "first", [1, 2, 3, 1_000_000, 4_194_304, 8_388_607, 8_388_608, 9_999_999, TEN_M]
)
def test_consistency_at_10m_is_one_read_of_log_n_keys(first: int) -> None:
    reader = SyntheticReader(TEN_M)
    proof = consistency_proof(first, TEN_M, reader)
    assert len(reader.calls) == (0 if first == TEN_M else 1)
    assert all(len(c) <= BOUND for c in reader.calls)
    verify_consistency(first, TEN_M, root_hash(first, reader), root_hash(TEN_M, reader), proof)


def test_key_counts_bounded_everywhere_small() -> None:
    for n in range(1, 257):
        bound = 2 * math.ceil(math.log2(n)) + 2
        assert len(root_keys(n)) <= bound
        for m in range(n):
            assert len(required_nodes_inclusion(m, n)) <= bound, (m, n)
        for m in range(1, n + 1):
            assert len(required_nodes_consistency(m, n)) <= bound, (m, n)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 2**40), data=st.data())
def test_key_counts_bounded_at_any_scale(n: int, data: st.DataObject) -> None:
    bound = 2 * math.ceil(math.log2(n)) + 2
    m = data.draw(st.integers(0, n - 1))
    keys = required_nodes_inclusion(m, n)
    assert len(keys) <= bound
    assert all((i + 1) << lv <= n for lv, i in keys)
    keys = required_nodes_consistency(m + 1, n)
    assert len(keys) <= bound
    assert all((i + 1) << lv <= n for lv, i in keys)

"""The transparency log end to end: receipts → signed heads → proofs → the verifier's verdict."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from hub.exchange import merkle
from hub.exchange.logverify import Verifier
from hub.models import LogLeaf
from tests.support.envelopes import traffy_complaint


@pytest.fixture
def bma(agencies):
    return agencies.enrol("bma")


def _send(agency, tmp_path: Path, start: int, count: int) -> list[Path]:
    paths = []
    for i in range(start, start + count):
        receipt = agency.client.send("complaint.submit", traffy_complaint(i))
        path = tmp_path / f"receipt-{i}.json"
        path.write_text(json.dumps({"receipt": receipt.jws}))
        paths.append(path)
    return paths


def test_verifier_accepts_an_honest_log_and_remembers_its_head(bma, client, tmp_path):
    state = tmp_path / "state.json"
    receipts = _send(bma, tmp_path, 0, 7)
    verdict = Verifier(client).run(state=state, receipts=receipts, full=True)
    assert verdict.ok, verdict.lines
    assert json.loads(state.read_text())["tree_size"] == 7
    more = _send(bma, tmp_path, 7, 4)
    verdict = Verifier(client).run(state=state, receipts=receipts[:2] + more, full=True)
    assert verdict.ok, verdict.lines
    assert any("grew consistently from 7 to 11" in line for line in verdict.lines)


def test_rewritten_history_is_caught_by_consistency(bma, client, tmp_path):
    _send(bma, tmp_path, 0, 5)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"tree_size": 3, "root_hash": "00" * 32}))  # a head we "saw" once
    verdict = Verifier(client).run(state=state)
    assert not verdict.ok
    assert any("is not a prefix" in line for line in verdict.lines)


def test_a_shrunken_log_is_caught(bma, client, tmp_path):
    _send(bma, tmp_path, 0, 2)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"tree_size": 9, "root_hash": "ab" * 32}))
    verdict = Verifier(client).run(state=state)
    assert not verdict.ok and any("shrank" in line for line in verdict.lines)


def test_an_altered_stored_message_fingerprint_is_caught(bma, client, hub, tmp_path):
    receipts = _send(bma, tmp_path, 0, 6)
    with hub.transaction() as s:
        s.execute(
            update(LogLeaf).where(LogLeaf.leaf_index == 4).values(leaf_input=b'{"id":"forged"}')
        )
    verdict = Verifier(client).run(state=None, receipts=[receipts[4]], full=True)
    assert not verdict.ok
    assert any("not the receipted message" in line for line in verdict.lines)
    assert any("hash to" in line for line in verdict.lines)


def test_a_dropped_leaf_is_caught(bma, client, hub, tmp_path):
    _send(bma, tmp_path, 0, 5)
    with hub.transaction() as s:
        s.execute(delete(LogLeaf).where(LogLeaf.leaf_index == 2))
    verdict = Verifier(client).run(state=None, full=True)
    assert not verdict.ok and any("entry 2 is missing" in line for line in verdict.lines)


def test_proofs_from_the_api_verify_with_plain_rfc9162_hashing(bma, client, tmp_path):
    _send(bma, tmp_path, 0, 9)
    head = client.get("/v1/log/tree-head").json()
    assert head["tree_size"] == 9
    entries = client.get("/v1/log/entries", params={"start": 0, "end": 9}).json()["entries"]
    leaves = [base64.b64decode(e["leaf_input"]) for e in entries]
    assert all(
        set(json.loads(leaf)) == {"type", "id", "issuer", "received_at", "jws_sha256"}
        for leaf in leaves
    )
    root = bytes.fromhex(head["root_hash"])
    for i, leaf in enumerate(leaves):
        path = client.get(
            "/v1/log/proofs/inclusion", params={"leaf_index": i, "tree_size": 9}
        ).json()["audit_path"]
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf), i, 9, [bytes.fromhex(h) for h in path], root
        )
    by_hash = client.get(
        "/v1/log/proofs/inclusion",
        params={"leaf_hash": merkle.leaf_hash(leaves[5]).hex(), "tree_size": 9},
    ).json()
    assert by_hash["leaf_index"] == 5
    first = merkle.MemoryNodes(leaves[:4]).root()
    path = client.get("/v1/log/proofs/consistency", params={"first": 4, "second": 9}).json()[
        "consistency_path"
    ]
    merkle.verify_consistency(4, 9, first, root, [bytes.fromhex(h) for h in path])


def test_heads_are_kept_and_listed(bma, client, tmp_path):
    _send(bma, tmp_path, 0, 2)
    client.get("/v1/log/tree-head")
    _send(bma, tmp_path, 2, 1)
    client.get("/v1/log/tree-head")
    heads = client.get("/v1/log/tree-heads").json()["tree_heads"]
    assert [h["tree_size"] for h in heads] == [2, 3]


@pytest.mark.parametrize(
    ("path", "params", "pointer"),
    [
        ("/v1/log/proofs/inclusion", {"leaf_index": 5, "tree_size": 2}, "/query/leaf_index"),
        ("/v1/log/proofs/inclusion", {"leaf_index": 0, "tree_size": 99}, "/query/tree_size"),
        ("/v1/log/proofs/inclusion", {"tree_size": 2}, "/query/leaf_index"),
        ("/v1/log/proofs/consistency", {"first": 3, "second": 2}, "/query/first"),
        ("/v1/log/entries", {"start": 2, "end": 1}, "/query/end"),
    ],
)
def test_bad_proof_requests_are_problems(bma, client, tmp_path, path, params, pointer):
    _send(bma, tmp_path, 0, 2)
    r = client.get(path, params=params)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in r.json()["errors"]]

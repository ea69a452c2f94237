"""What an oversight body runs against a hub: ``hub log verify --hub URL``.

It trusts nothing the hub says without checking it with standard hashing (RFC 9162) and the
hub's published keys:

1. fetch the hub's JWKS and the newest signed tree head; check the head's signature and that
   the signed values are the ones served;
2. if a previous head is remembered (the state file), check that the log only grew: a
   consistency proof from the old head to the new one;
3. for each receipt given: check the hub's signature on it, fetch the logged entry at its
   index and check it is this message, then check an inclusion proof to the new head;
4. with ``full``: download every entry and recompute the root from scratch;
5. remember the new head, print a verdict; any failure is evidence, and exits non-zero.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hub.errors import HubError
from hub.exchange import merkle
from hub.exchange.canonical import loads_strict
from hub.exchange.jws import parse_compact, verify
from hub.exchange.keys import PublicKey, load_public_jwk


@dataclass
class Verdict:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def good(self, line: str) -> None:
        self.lines.append(f"ok    {line}")

    def bad(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"FAIL  {line}")


class Verifier:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.keys: dict[str, tuple[PublicKey, str]] = {}

    def run(
        self, *, state: Path | None, receipts: Sequence[Path] = (), full: bool = False
    ) -> Verdict:
        verdict = Verdict()
        try:
            self.keys = {
                k["kid"]: load_public_jwk(k) for k in self._get("/.well-known/jwks.json")["keys"]
            }
            head = self._head(verdict)
            if head is None:
                return verdict
            previous = _load_state(state)
            if previous is not None:
                self._consistency(previous, head, verdict)
            for path in receipts:
                self._receipt(path, head, verdict)
            if full:
                self._full(head, verdict)
            if verdict.ok and state is not None:
                state.write_text(
                    json.dumps({"tree_size": head["tree_size"], "root_hash": head["root_hash"]})
                )
        except (httpx.HTTPError, HubError, ValueError, KeyError) as exc:
            verdict.bad(f"could not complete the check: {exc}")
        return verdict

    # -- steps ---------------------------------------------------------------------------

    def _head(self, verdict: Verdict) -> dict[str, Any] | None:
        head: dict[str, Any] = self._get("/v1/log/tree-head")
        signed = self._signed(head["signature"])
        served = {k: head[k] for k in ("tree_size", "root_hash", "timestamp")}
        if signed != served:
            verdict.bad(f"tree head served {served} differs from what the hub signed {signed}")
            return None
        verdict.good(
            f"tree head size {head['tree_size']} root {head['root_hash'][:16]}… signed by the hub"
        )
        return head

    def _consistency(self, old: dict[str, Any], new: dict[str, Any], verdict: Verdict) -> None:
        m, n = old["tree_size"], new["tree_size"]
        if n < m:
            verdict.bad(f"log shrank from {m} to {n} leaves")
            return
        if m == 0:
            verdict.good("no earlier non-empty head to compare")
            return
        path = (
            []
            if m == n
            else self._get("/v1/log/proofs/consistency", first=m, second=n)["consistency_path"]
        )
        try:
            merkle.verify_consistency(
                m,
                n,
                bytes.fromhex(old["root_hash"]),
                bytes.fromhex(new["root_hash"]),
                [bytes.fromhex(h) for h in path],
            )
            verdict.good(f"log grew consistently from {m} to {n} leaves")
        except merkle.ProofError as exc:
            verdict.bad(f"head {m} ({old['root_hash']}) is not a prefix of head {n}: {exc}")

    def _receipt(self, path: Path, head: dict[str, Any], verdict: Verdict) -> None:
        text = path.read_text().strip()
        token = json.loads(text)["receipt"] if text.startswith("{") else text
        try:
            receipt = self._signed(token)
        except HubError as exc:
            verdict.bad(f"{path.name}: receipt signature: {exc.detail}")
            return
        index, size = receipt["log_index"], head["tree_size"]
        if index is None or index >= size:
            verdict.bad(f"{path.name}: leaf {index} is not in the tree of size {size}")
            return
        entry = self._get("/v1/log/entries", start=index, end=index + 1)["entries"]
        leaf_input = base64.b64decode(entry[0]["leaf_input"]) if entry else b""
        logged = json.loads(leaf_input) if leaf_input else {}
        expect = {
            "id": receipt["message_id"],
            "issuer": receipt["issuer"],
            "jws_sha256": receipt["jws_sha256"],
        }
        if {k: logged.get(k) for k in expect} != expect or merkle.leaf_hash(
            leaf_input
        ).hex() != receipt["leaf_hash"]:
            verdict.bad(f"{path.name}: log entry {index} is not the receipted message: {logged}")
            return
        proof = self._get("/v1/log/proofs/inclusion", leaf_index=index, tree_size=size)[
            "audit_path"
        ]
        try:
            merkle.verify_inclusion(
                bytes.fromhex(receipt["leaf_hash"]),
                index,
                size,
                [bytes.fromhex(h) for h in proof],
                bytes.fromhex(head["root_hash"]),
            )
            verdict.good(
                f"{path.name}: message {receipt['message_id']} is leaf {index} of the signed tree"
            )
        except merkle.ProofError as exc:
            verdict.bad(f"{path.name}: inclusion proof for leaf {index} fails: {exc}")

    def _full(self, head: dict[str, Any], verdict: Verdict) -> None:
        tree = merkle.MemoryNodes()
        size = head["tree_size"]
        while tree.size < size:
            chunk = self._get("/v1/log/entries", start=tree.size, end=min(size, tree.size + 1000))[
                "entries"
            ]
            if not chunk or chunk[0]["leaf_index"] != tree.size:
                verdict.bad(f"entry {tree.size} is missing from the log")
                return
            for e in chunk:
                if e["leaf_index"] != tree.size:
                    verdict.bad(f"entry {tree.size} is missing from the log")
                    return
                tree.append(base64.b64decode(e["leaf_input"]))
        root = tree.root(size).hex()
        if root != head["root_hash"]:
            verdict.bad(
                f"the {size} logged entries hash to {root}, not the signed root {head['root_hash']}"
            )
        else:
            verdict.good(f"all {size} entries recomputed to the signed root")

    # -- wire ----------------------------------------------------------------------------

    def _signed(self, token: str) -> dict[str, Any]:
        parsed = parse_compact(token)
        key, alg = self.keys[parsed.header["kid"]]
        verify(parsed, key, alg=alg)
        payload = loads_strict(parsed.payload)
        assert isinstance(payload, dict)
        return payload

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params or None)
        response.raise_for_status()
        return response.json()


def _load_state(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data

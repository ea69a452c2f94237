"""Personal data sealed at rest (Thailand's PDPA): AES-256-GCM with a key id in every blob.

Blob layout: ``b"v1" | key-id (8 ASCII bytes) | nonce (12) | ciphertext+tag``. The key id lets
several keys coexist during rotation: seal with the newest, open with whichever sealed it
(rotation procedure in README.md). The associated data binds a blob to its row, so a sealed
contact copied onto another complaint does not open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.files import write_private_bytes

VERSION = b"v1"


class Sealer:
    """Seals with ``keys[0]``; opens with any key it holds."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError("current data key missing")
        for kid, key in keys.items():
            if len(kid) != 8 or len(key) != 32:
                raise ValueError("data keys are 32 bytes with 8-character ids")
        self._keys = {k: AESGCM(v) for k, v in keys.items()}
        self.current = current

    @classmethod
    def load(cls, key_dir: Path, *, create: bool = False) -> Sealer:
        files = sorted(key_dir.glob("data-*.key"), key=lambda p: p.stat().st_mtime, reverse=True)
        if not files and create:
            kid = os.urandom(4).hex()
            key_dir.mkdir(parents=True, exist_ok=True)
            write_private_bytes(key_dir / f"data-{kid}.key", AESGCM.generate_key(bit_length=256))
            files = [key_dir / f"data-{kid}.key"]
        if not files:
            raise ValueError(f"no data key in {key_dir} (data-<id>.key)")
        keys = {p.stem.removeprefix("data-"): p.read_bytes() for p in files}
        return cls(keys, files[0].stem.removeprefix("data-"))

    def seal(self, value: Any, *, bound_to: str) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = self._keys[self.current].encrypt(nonce, plain, bound_to.encode())
        return VERSION + self.current.encode() + nonce + sealed

    def open(self, blob: bytes, *, bound_to: str) -> Any:
        if blob[:2] != VERSION:
            raise ValueError("unknown sealed-data version")
        kid, nonce, sealed = blob[2:10].decode(), blob[10:22], blob[22:]
        if kid not in self._keys:
            raise ValueError(f"data key {kid} not available")
        try:
            plain = self._keys[kid].decrypt(nonce, sealed, bound_to.encode())
        except InvalidTag as exc:
            raise ValueError("sealed data does not open (tampered or moved)") from exc
        return json.loads(plain)

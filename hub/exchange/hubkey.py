"""The hub's own signing keys: sign with the newest, publish all that still verify.

Keys live as private JWK files (mode 0600) in ``HUB_KEY_DIR``, named ``hub-<key-id>.jwk``.
A real deployment keeps them in an HSM or a secret store mounted there (see certs/README.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.exchange.canonical import canonicalize
from hub.exchange.jws import sign
from hub.exchange.keys import (
    PrivateKey,
    generate_private_key,
    jwk_thumbprint,
    load_private_jwk,
    private_jwk,
    public_jwk,
    read_jwk,
    write_private_jwk,
)

log = logging.getLogger(__name__)

HUB_CODE = "hub"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: PrivateKey
    public: dict[str, Any]


class HubSigner:
    """Signs receipts, forwards and tree heads. ``keys[0]`` is the newest."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("the hub needs at least one signing key (run `hub keys init`)")
        self.keys = keys

    @classmethod
    def load(cls, key_dir: Path, *, create: bool = False) -> HubSigner:
        files = sorted(key_dir.glob("hub-*.jwk"), key=lambda p: p.stat().st_mtime, reverse=True)
        if not files and create:
            files = [init_key(key_dir)]
        keys = []
        for path in files:
            jwk = read_jwk(path)
            key = load_private_jwk(jwk)
            keys.append(SigningKey(jwk["kid"], key, public_jwk(key, kid=jwk["kid"])))
        return cls(keys)

    @property
    def current(self) -> SigningKey:
        return self.keys[0]

    def sign_json(self, obj: object, *, typ: str) -> str:
        k = self.current
        return sign(canonicalize(obj), k.key, kid=k.kid, typ=typ)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public for k in self.keys]}


def init_key(key_dir: Path, *, alg: str = "EdDSA", now: datetime | None = None) -> Path:
    """Create a new hub signing key; the kid is ``hub/<date>-<thumbprint prefix>``."""
    key = generate_private_key(alg)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d")
    key_id = f"{stamp}-{jwk_thumbprint(public_jwk(key))[:12]}"
    kid = f"{HUB_CODE}/{key_id}"
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / f"hub-{key_id}.jwk"
    write_private_jwk(path, private_jwk(key, kid=kid))
    log.info("created hub signing key %s at %s", kid, path)
    return path

"""Identifiers: time-ordered and carrying what they name (``case:…``, ``TRK-…``).

Case ids follow the schema's record-id shape ``<namespace>:<id>``, like ``traffy:2023-FCX4QQ``.
"""

from __future__ import annotations

import os
import time

_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U to misread on a phone


def _b32(n: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_B32[n & 31])
        n >>= 5
    return "".join(reversed(out))


def ulid() -> str:
    """26 characters: 48-bit millisecond time then 80 random bits; sorts by creation time."""
    ms = int(time.time() * 1000)
    return _b32(ms, 10) + _b32(int.from_bytes(os.urandom(10), "big"), 16)


def case_id() -> str:
    return "case:" + ulid().lower()


def tracking_code() -> str:
    """What a citizen reads out on the phone: ``TRK-XXXX-XXXX-XX``, 50 random bits."""
    s = _b32(int.from_bytes(os.urandom(7), "big") >> 6, 10)
    return f"TRK-{s[:4]}-{s[4:8]}-{s[8:]}"

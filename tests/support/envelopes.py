"""Hand-made envelopes, including broken ones, for intake and attack tests."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from adapters.traffy_fondue import SAMPLE_CSV
from adapters.traffy_fondue.mapping import row_to_complaint
from hub.exchange.canonical import b64url_encode, canonicalize
from hub.exchange.jws import sign
from hub.exchange.keys import PrivateKey
from hub.models import Case, Complaint, Envelope, LogLeaf


def traffy_rows() -> list[dict[str, str]]:
    with SAMPLE_CSV.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def traffy_complaint(n: int = 0) -> dict[str, Any]:
    return row_to_complaint(traffy_rows()[n])


def payload(
    issuer: str,
    body: dict[str, Any],
    *,
    now: datetime,
    id: str = "m-1",
    type: str = "complaint.submit",
    audience: str = "hub",
) -> dict[str, Any]:
    return {
        "type": type,
        "id": id,
        "issued_at": now.isoformat().replace("+00:00", "Z"),
        "issuer": issuer,
        "audience": audience,
        "body": body,
    }


def signed(obj: dict[str, Any], key: PrivateKey, kid: str) -> str:
    return sign(canonicalize(obj), key, kid=kid)


def raw_jws(header: dict[str, Any], payload_bytes: bytes, signature: bytes) -> str:
    h = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    return f"{h}.{b64url_encode(payload_bytes)}.{b64url_encode(signature)}"


def hs256_with_public_key(header: dict[str, Any], payload_bytes: bytes, secret: bytes) -> str:
    h = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    p = b64url_encode(payload_bytes)
    mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url_encode(mac)}"


def counts(hub: Any) -> dict[str, int]:
    with hub.transaction() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Envelope, Complaint, Case, LogLeaf)
        }

"""POST /v1/envelopes and /v1/envelopes:batch — signed messages in, signed receipts out."""

from __future__ import annotations

from typing import Any

from hub.api.deps import Reply, hub, ok
from hub.errors import FieldError, RequestInvalid
from hub.exchange import intake


def submit(token: bytes | str | None = None) -> Reply:
    if not isinstance(token, bytes | str) or not token:
        raise RequestInvalid(
            "request body must be one compact JWS", errors=[FieldError("/body", "required")]
        )
    raw = token.encode("utf-8", "surrogatepass") if isinstance(token, str) else token
    accepted = intake.submit(hub(), raw)
    return ok(accepted.as_dict(), 201 if accepted.created else 200)


def submit_batch(envelopes: list[str]) -> Reply:
    results = intake.submit_batch(hub(), envelopes)
    out: list[dict[str, Any]] = []
    for r in results:
        if r.accepted is not None:
            out.append(
                {
                    "index": r.index,
                    "status": 201 if r.accepted.created else 200,
                    "receipt": r.accepted.as_dict(),
                }
            )
        else:
            assert r.error is not None
            out.append(
                {"index": r.index, "status": r.error.status, "problem": r.error.to_problem()}
            )
    accepted = sum(1 for r in results if r.accepted is not None)
    return ok({"accepted": accepted, "refused": len(results) - accepted, "results": out})

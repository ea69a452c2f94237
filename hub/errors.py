"""The one error tree of the hub; ``hub.api.problems`` renders it once as RFC 9457.

Every refusal a client can cause is a :class:`HubError` child with a stable ``type`` (a
relative URI, ``/problems/<slug>``, documented at that path on every hub), an HTTP status
and a title. Validation errors also carry the JSON pointer of each bad field.

::

    HubError (500 internal)
    ├── BadRequest (400 bad-request)
    │   ├── Malformed (400 malformed)            not a compact JWS / not JSON / bad UTF-8
    │   ├── RequestInvalid (400 request-invalid) query or body breaks the API contract
    │   ├── AlgorithmNotAllowed (400 algorithm-not-allowed)
    │   └── Stale (400 stale)                    issued_at outside the clock-skew window
    ├── SchemaInvalid (422 schema-invalid)       a record breaks the shared schema
    ├── Unauthorized (401 unauthorized)
    │   ├── UnknownKey (401 unknown-key)
    │   ├── RevokedKey (401 revoked-key)
    │   └── BadSignature (401 bad-signature)
    ├── Forbidden (403 forbidden)
    │   └── IssuerMismatch (403 issuer-mismatch) issuer does not own the kid
    ├── NotFound (404 not-found)
    ├── MethodNotAllowed (405 method-not-allowed)
    ├── NotAcceptable (406 not-acceptable)
    ├── Conflict (409 conflict)
    │   ├── Replay (409 replay)                  same id, different bytes
    │   └── NotYourTurn (409 not-your-turn)
    ├── TooLarge (413 too-large)
    ├── UnsupportedMediaType (415 unsupported-media-type)
    ├── RateLimited (429 rate-limited)
    └── Unavailable (503 unavailable)            database or Redis unreachable
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field: ``pointer`` is an RFC 6901 JSON pointer into the offending document."""

    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


class HubError(Exception):
    """Base of every error the hub shapes for a client."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = list(errors or [])
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 body; extension members never override the standard ones."""
        body: dict[str, Any] = {**self.extra}
        body.update(type=self.type, title=self.title, status=self.status, detail=self.detail)
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


class BadRequest(HubError):
    status, slug, title = 400, "bad-request", "Bad request"


class Malformed(BadRequest):
    slug, title = "malformed", "Malformed message"


class RequestInvalid(BadRequest):
    slug, title = "request-invalid", "Request does not match the API contract"


class AlgorithmNotAllowed(BadRequest):
    slug, title = "algorithm-not-allowed", "Signature algorithm not allowed"


class Stale(BadRequest):
    slug, title = "stale", "Message time outside the allowed clock skew"


class SchemaInvalid(HubError):
    status, slug, title = 422, "schema-invalid", "Record does not match the shared schema"


class Unauthorized(HubError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class UnknownKey(Unauthorized):
    slug, title = "unknown-key", "Signing key is not registered"


class RevokedKey(Unauthorized):
    slug, title = "revoked-key", "Signing key is revoked or not valid at this time"


class BadSignature(Unauthorized):
    slug, title = "bad-signature", "Signature does not verify"


class Forbidden(HubError):
    status, slug, title = 403, "forbidden", "Not allowed for this agency"


class IssuerMismatch(Forbidden):
    slug, title = "issuer-mismatch", "Issuer does not own the signing key"


class NotFound(HubError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(HubError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class NotAcceptable(HubError):
    status, slug, title = 406, "not-acceptable", "Cannot answer in an acceptable media type"


class Conflict(HubError):
    status, slug, title = 409, "conflict", "Conflict"


class Replay(Conflict):
    slug, title = "replay", "Message id already used with different content"


class NotYourTurn(Conflict):
    slug, title = "not-your-turn", "Another agency holds this turn"


class TooLarge(HubError):
    status, slug, title = 413, "too-large", "Request body too large"


class UnsupportedMediaType(HubError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class RateLimited(HubError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class Unavailable(HubError):
    status, slug, title = 503, "unavailable", "A backing service is unavailable"


def all_problem_types() -> dict[str, type[HubError]]:
    """Every concrete problem type by slug, for the ``/problems/<slug>`` documentation."""
    found: dict[str, type[HubError]] = {}
    stack: list[type[HubError]] = [HubError]
    while stack:
        cls = stack.pop()
        found[cls.slug] = cls
        stack.extend(cls.__subclasses__())
    return found

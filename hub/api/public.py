"""Endpoints anyone may call: health, the hub's JWKS, problem-type documentation."""

from __future__ import annotations

from hub import __version__
from hub.api.deps import Reply, hub, ok
from hub.errors import NotFound, all_problem_types


def health() -> Reply:
    h = hub()
    database = "ok" if h.database_ok() else "down"
    redis = h.redis_status()
    healthy = database == "ok" and redis != "down"
    body = {"status": "ok" if healthy else "degraded", "database": database, "redis": redis}
    return ok({**body, "version": __version__}, 200 if healthy else 503)


def jwks() -> Reply:
    return ok(hub().signer.jwks())


def problem_type(slug: str) -> Reply:
    cls = all_problem_types().get(slug)
    if cls is None:
        raise NotFound(f"no problem type {slug!r}")
    doc = {"type": f"/problems/{slug}", "title": cls.title, "status": cls.status}
    return ok({**doc, "description": (cls.__doc__ or cls.title).strip()})

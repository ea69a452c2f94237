"""``create_app(settings)`` builds the connexion app from ``openapi.yaml`` (and mounts the
Open311 facade and the oversight dashboard beside it); nothing else."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from connexion import FlaskApp
from connexion.exceptions import ProblemException
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException

from hub import dashboard
from hub.api import open311, problems
from hub.api.limits import BodyLimit
from hub.api.validation import VALIDATOR_MAP
from hub.config import Settings
from hub.errors import HubError
from hub.services import Hub, build_hub

SPEC = Path(os.environ.get("HUB_OPENAPI", Path(__file__).resolve().parent.parent / "openapi.yaml"))
OPEN311_SPEC = SPEC.parent / "open311.yaml"


def create_app(
    settings: Settings | None = None, *, hub: Hub | None = None, validate_responses: bool = False
) -> FlaskApp:
    """The WSGI/ASGI app. Tests pass ``validate_responses=True`` to police our own answers."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level)
    for noisy in ("httpx", "connexion"):  # a line per request or per start is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    hub = hub or build_hub(settings)
    app = FlaskApp(__name__, specification_dir=str(SPEC.parent))
    app.app.extensions["hub"] = hub
    app.app.json.ensure_ascii = False  # Thai stays readable in JSON answers
    app.add_api(
        SPEC.name,
        resolver=Resolver(),
        strict_validation=True,
        validate_responses=validate_responses,
        validator_map=VALIDATOR_MAP,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/v1/ui", spec_path="/v1/openapi.json"),
    )
    app.add_api(
        OPEN311_SPEC.name,
        base_path="/open311/v2",
        resolver=Resolver(),
        strict_validation=True,
        validate_responses=validate_responses,
        validator_map=VALIDATOR_MAP,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui", spec_path="/openapi.json"),
    )
    dashboard.register(app)  # /dashboard: static files, outside both specs
    # under /open311/ the same errors are rendered as the spec's [{code, description}]
    app.add_error_handler(HubError, open311.as_open311(problems.hub_error))
    app.add_error_handler(ProblemException, open311.as_open311(problems.connexion_problem))
    app.add_error_handler(HTTPException, open311.as_open311(problems.http_exception))
    app.add_error_handler(Exception, open311.as_open311(problems.unexpected))
    app.add_middleware(
        BodyLimit,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        max_bytes=settings.max_body_bytes,
        hub=hub,
    )
    return app


def serve_app() -> FlaskApp:
    """Factory for multi-process serving (``uvicorn --factory hub.app:serve_app``).

    Each worker process wakes rq after its commits when Redis is configured; without Redis
    the parent process (``hub serve``) or a separate ``hub worker`` sweeps and delivers.
    """
    settings = Settings.from_env()
    hub = build_hub(settings)
    if settings.redis_url:
        from hub.exchange.dispatch import RqDispatcher

        hub.wake = RqDispatcher(hub, sweep_thread=False).wake
    return create_app(settings, hub=hub)

"""The oversight dashboard: static HTML, CSS and JavaScript modules served at ``/dashboard``.

No build step and nothing from a CDN: the files in ``static/`` are what the browser runs,
so the page works on an air-gapped network. The page holds no data of its own; it calls
``/v1/index/*`` with a bearer token it signs per request, in the browser, with the
analyst's private JWK (WebCrypto). The key never leaves the browser, which is why the
responses here carry a strict Content-Security-Policy: only our own scripts may run on a
page that holds a signing key.

``/dashboard/meta.json`` is the one dynamic, unauthenticated file: the token audience and
lifetime the hub accepts, the hub's clock (so a browser with a wrong clock still signs
valid tokens) and the public vocabularies the filters are labelled with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, redirect, send_from_directory

from hub import vocab

if TYPE_CHECKING:
    from connexion import FlaskApp

STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def register(app: FlaskApp) -> None:
    """Mount the dashboard on the hub's Flask app (paths outside both OpenAPI specs)."""
    app.app.register_blueprint(blueprint())


def blueprint() -> Blueprint:
    bp = Blueprint(
        "dashboard",
        __name__,
        url_prefix="/dashboard",
        static_folder=str(STATIC),
        static_url_path="/static",
    )
    bp.add_url_rule("", "index", index)
    bp.add_url_rule("/", "slash", lambda: redirect("/dashboard", code=308))
    bp.add_url_rule("/meta.json", "meta", meta)
    bp.after_request(_secure)
    return bp


def index() -> Response:
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


def meta() -> Response:
    hub: Any = current_app.extensions["hub"]
    response = jsonify(
        {
            "audience": hub.settings.audience,
            "token_max_seconds": hub.settings.token_max_seconds,
            "now": hub.now().isoformat(),
            "categories": {c.code: {"th": c.th, "en": c.en} for c in vocab.categories().values()},
            "statuses": {
                s.code: {"th": s.th, "en": s.en, "terminal": s.terminal}
                for s in vocab.statuses().values()
            },
            "channels": {code: {"th": c.th, "en": c.en} for code, c in vocab.channels().items()},
        }
    )
    response.headers["Cache-Control"] = "no-store"  # it carries the hub's clock
    return response


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response

"""The service's HTTP side: the hub's pushes, the native system's webhooks, a health page.

- ``POST /hub/messages`` — the SDK's receiver blueprint (:mod:`hub.exchange.receiver`): both
  signatures checked, repeats dropped through the service's journal, a signed
  ``delivery.ack`` back; while the native system is down the answer is 503 with
  ``Retry-After`` and the hub tries again later;
- ``POST /webhooks/<adapter>`` — a native system's "something changed" call; the records it
  names are re-read at once (never fed back anywhere: Traffy's rule). With a secret
  configured the call must carry it in ``X-Webhook-Secret``;
- ``GET /health`` — the service's counters, as JSON.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

from adapters.service.runner import Service, Transient

RETRY_AFTER = 5


def create_app(service: Service, *, webhook_secret: str | None = None) -> Flask:
    app = Flask(f"adapter-{service.source.name}")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.register_blueprint(service.hub.receiver(service.on_forward, seen=service))

    @app.errorhandler(Transient)
    def busy(exc: Transient) -> Response:
        body = json.dumps({"error": f"native system unavailable: {exc}"}, ensure_ascii=False)
        return Response(
            body, 503, headers={"Retry-After": str(RETRY_AFTER)}, mimetype="application/json"
        )

    @app.post(f"/webhooks/{service.source.adapter.name.split(':')[0]}")
    def webhook() -> Response:
        given = request.headers.get("X-Webhook-Secret", "")
        if webhook_secret and not hmac.compare_digest(given, webhook_secret):
            return _json({"error": "wrong or missing X-Webhook-Secret"}, 401)
        payload = request.get_json(silent=True)
        queued = service.webhook(payload)
        return _json({"queued": queued}, 202 if queued else 200)

    @app.get("/health")
    def health() -> Response:
        return _json({"adapter": service.source.name, "counts": dict(service.counts)}, 200)

    return app


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


class Server:
    """The app on a werkzeug threaded server, in a background thread."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="adapter-web", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.server_port}"

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

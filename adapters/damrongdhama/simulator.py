"""The reference REST API of a Damrongdhama centre (``format.md``) in a Flask app, in memory.

Records are the reference layout's flat Thai-keyed objects. ``X-Api-Key`` is required;
updates must carry a known สถานะ; creation is idempotent on เลขที่อ้างอิงศูนย์กลาง.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.damrongdhama.mapping import REFERENCE, FieldMap
from adapters.ministry.wsgi import pep3333_path


def create_simulator(
    records: Iterable[Mapping[str, Any]] = (),
    *,
    api_key: str = "centre-secret",
    fmap: FieldMap = REFERENCE,
    centre: str = "DC50",
) -> Flask:
    """The simulator; ``app.extensions["damrongdhama_store"]`` is the dict of records by ref."""
    app = Flask("damrongdhama_simulator")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.wsgi_app = pep3333_path(app.wsgi_app)  # type: ignore[method-assign,assignment]
    ref_col, status_col = fmap.columns["ref"], fmap.columns["status"]
    hub_col = fmap.columns["hub_ref"]
    store = {str(r[ref_col]): copy.deepcopy(dict(r)) for r in records}
    app.extensions["damrongdhama_store"] = store
    lock, serial = threading.Lock(), [0]

    def error(message: str, status: int) -> tuple[Response, int]:
        return jsonify({"error": message}), status

    @app.before_request
    def authenticate() -> tuple[Response, int] | None:
        if request.headers.get("X-Api-Key") != api_key:
            return error("invalid API key", 401)
        return None

    @app.get("/api/v1/cases")
    def list_cases() -> Response:
        with lock:
            return jsonify({"items": [copy.deepcopy(r) for r in store.values()]})

    @app.get("/api/v1/cases/<path:ref>")
    def get_case(ref: str) -> Response | tuple[Response, int]:
        with lock:
            found = store.get(ref)
            return jsonify({"item": copy.deepcopy(found)}) if found else error("no such case", 404)

    @app.patch("/api/v1/cases/<path:ref>")
    def update_case(ref: str) -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        if body.get(status_col) not in fmap.tables["status"]:
            return error(f"unknown {status_col} {body.get(status_col)!r}", 400)
        with lock:
            found = store.get(ref)
            if found is None:
                return error("no such case", 404)
            found.update({k: v for k, v in body.items() if k in fmap.columns.values()})
            return jsonify({"item": copy.deepcopy(found)})

    @app.post("/api/v1/cases")
    def create_case() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        if not body.get(hub_col):
            return error(f"{hub_col} is required", 400)
        with lock:
            known = next((r for r in store.values() if r.get(hub_col) == body[hub_col]), None)
            if known is not None:
                return jsonify({"item": copy.deepcopy(known)}), 200
            serial[0] += 1
            ref = f"{centre}-SIM-{serial[0]:05d}"
            store[ref] = {**body, ref_col: ref}
            return jsonify({"item": copy.deepcopy(store[ref])}), 201

    return app

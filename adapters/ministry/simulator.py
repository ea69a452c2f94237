"""Any configured ministry's API in a Flask app, in memory: paths, auth and envelope keys
from its ``ministries.json`` entry. Updates must carry a known status label; creation is
idempotent on the ``hub_ref`` field.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.ministry.config import Ministry
from adapters.ministry.mapping import field, get_path, set_path
from adapters.ministry.wsgi import pep3333_path


def _route(path: str) -> str:
    return path.replace("{ref}", "<path:ref>")


def _wrap(key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    set_path(out, key, value)
    return out


def create_simulator(
    m: Ministry, records: Iterable[Mapping[str, Any]] = (), *, token: str = "ministry-secret"
) -> Flask:
    """The simulator; ``app.extensions["ministry_store"]`` holds the records by ref."""
    app = Flask(f"ministry_{m.code}_simulator")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.wsgi_app = pep3333_path(app.wsgi_app)  # type: ignore[method-assign,assignment]
    store = {field(m, r, "ref"): copy.deepcopy(dict(r)) for r in records}
    app.extensions["ministry_store"] = store
    lock, serial = threading.Lock(), [0]
    paths, item_key = m.paths, m.paths["item_key"]

    def error(message: str, status: int) -> tuple[Response, int]:
        return jsonify({"error": message}), status

    def item(record: Mapping[str, Any], status: int = 200) -> tuple[Response, int]:
        return jsonify(_wrap(item_key, copy.deepcopy(dict(record)))), status

    @app.before_request
    def authenticate() -> tuple[Response, int] | None:
        if request.headers.get(m.auth_header) != m.auth_prefix + token:
            return error("unauthorised", 401)
        return None

    def list_records() -> tuple[Response, int]:
        with lock:
            return jsonify(_wrap(paths["list_key"], copy.deepcopy(list(store.values())))), 200

    def get_record(ref: str) -> tuple[Response, int]:
        with lock:
            return item(store[ref]) if ref in store else error("no such record", 404)

    def update_record(ref: str) -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        label = get_path(body, m.fields["status"])
        if label not in m.tables["status"]:
            return error(f"unknown status {label!r}", 400)
        with lock:
            if ref not in store:
                return error("no such record", 404)
            set_path(store[ref], m.fields["status"], label)
            if "note" in m.fields and get_path(body, m.fields["note"]):
                set_path(store[ref], m.fields["note"], get_path(body, m.fields["note"]))
            return item(store[ref])

    def create_record() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        hub_ref = get_path(body, m.fields["hub_ref"])
        if not hub_ref:
            return error("hub reference required", 400)
        with lock:
            for known in store.values():
                if get_path(known, m.fields["hub_ref"]) == hub_ref:
                    return item(known)
            serial[0] += 1
            ref = f"{m.code.upper()}-SIM-{serial[0]:05d}"
            set_path(body, m.fields["ref"], ref)
            store[ref] = body
            return item(body, 201)

    app.add_url_rule(_route(paths["records"]), "records", list_records, methods=["GET"])
    app.add_url_rule(_route(paths["record"]), "record", get_record, methods=["GET"])
    method = paths.get("update_method", "POST")
    app.add_url_rule(_route(paths["update"]), "update", update_record, methods=[method])
    app.add_url_rule(_route(paths["intake"]), "intake", create_record, methods=["POST"])
    return app

"""A simulated agency on loopback: the SDK's receiver behind a real HTTP server, with faults.

``mode`` can be switched while it runs: ``ok``; ``error`` (500 with Retry-After); ``slow``
(answers after ``delay`` seconds — a timeout for the hub); ``reset`` (drops the connection);
``bad_ack`` (signs the ack with a key the registry does not know); ``wrong_ack`` (acks other
bytes). ``calls`` counts how often the agency's callback saw each message id;
``most_in_flight`` is the most requests it ever served at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

from hub.exchange.client import HubClient
from hub.exchange.keys import generate_private_key
from hub.exchange.receiver import Forwarded, receiver_blueprint


class SimulatedAgency:
    def __init__(self, client: HubClient) -> None:
        self.client = client
        self.mode = "ok"
        self.delay = 0.0
        self.calls: Counter[str] = Counter()
        self.received: list[Forwarded] = []
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.app = Flask(f"agency-{client.agency}")
        self.app.register_blueprint(receiver_blueprint(client, self._on_message))
        self.app.before_request(self._enter)
        self.app.before_request(self._fault)
        self.app.after_request(self._spoil)
        self.app.teardown_request(self._leave)
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hub/messages"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SimulatedAgency:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _on_message(self, message: Forwarded) -> None:
        with self._lock:
            self.calls[message.message_id] += 1
            self.received.append(message)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _leave(self, _exc: BaseException | None) -> None:
        with self._lock:
            self.in_flight -= 1

    def _fault(self) -> Response | None:
        if self.mode == "error":
            return Response("down for maintenance", 500, headers={"Retry-After": "1"})
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "reset":
            sock = request.environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                sock.close()
            return Response("", 500)
        return None

    def _spoil(self, response: Response) -> Response:
        if response.status_code != 200:
            return response
        if self.mode == "bad_ack":
            impostor = HubClient(
                "http://unused",
                agency=self.client.agency,
                key=generate_private_key(),
                kid=self.client.kid,
                http=self.client.http,
            )
            response.set_data(
                impostor.envelope("delivery.ack", {"message_id": "x", "payload_sha256": "0" * 64})
            )
        elif self.mode == "wrong_ack":
            body: dict[str, Any] = {"message_id": "fwd:nothing", "payload_sha256": "0" * 64}
            response.set_data(self.client.envelope("delivery.ack", body))
        return response

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.calls.values() if n > 1)

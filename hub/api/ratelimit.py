"""A token bucket per client for public endpoints (per process; put a shared limiter in
front of the hub — the load balancer or an API gateway — when running many processes)."""

from __future__ import annotations

import threading
import time

from hub.errors import RateLimited


class Buckets:
    def __init__(self, *, rate_per_second: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate, self.burst, self.max_clients = rate_per_second, burst, max_clients
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                wait = (1 - tokens) / self.rate
                raise RateLimited(
                    "too many tracking requests; slow down", extra={"retry_after": int(wait) + 1}
                )
            if len(self._state) >= self.max_clients:
                self._state.clear()  # crude bound on memory; a burst of clients resets all
            self._state[client] = (tokens - 1, now)


TRACKING = Buckets(rate_per_second=1.0, burst=20)

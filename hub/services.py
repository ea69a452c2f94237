"""The hub's services wired from one :class:`Settings`: engine, sessions, signer, clock.

One object per process (API or worker). The clock is a seam so tests can move time; the
signer holds the hub's own private keys, loaded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.config import Settings
from hub.db import make_engine, make_sessionmaker, ping, transaction
from hub.exchange.hubkey import HubSigner
from hub.exchange.keys import load_certificate_chain
from hub.personal import Sealer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Hub:
    """What a request handler or a job needs; built by :func:`build_hub`."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    signer: HubSigner
    sealer: Sealer
    clock: Clock = field(default=system_clock)
    wake: Callable[[Iterable[str]], None] = field(default=lambda _destinations: None)
    """Told, after a commit, which destinations have new deliveries (see exchange.dispatch)."""
    intake_group: Any = field(default=None, repr=False, compare=False)
    """Single submissions stored together (``hub.exchange.group``); made on first use."""

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def trusted_roots(self) -> list[x509.Certificate]:
        """The CAs whose agency certificates this hub accepts (HUB_TRUSTED_CA_FILE)."""
        path = self.settings.trusted_ca_file
        return load_certificate_chain(path.read_bytes()) if path else []

    def now(self) -> datetime:
        return self.clock()

    def database_ok(self) -> bool:
        return ping(self.engine)

    def redis_status(self) -> str:
        """``ok``, ``down`` or ``not-configured`` (the embedded default)."""
        if not self.settings.redis_url:
            return "not-configured"
        import redis

        try:
            client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1)
            client.ping()
            client.close()
            return "ok"
        except redis.RedisError:
            log.warning("redis ping failed", exc_info=True)
            return "down"


def build_hub(settings: Settings, *, clock: Clock = system_clock, create_key: bool = True) -> Hub:
    """Wire the services. ``create_key`` makes a hub key on first start (development)."""
    engine = make_engine(settings.database_url)
    signer = HubSigner.load(settings.key_dir, create=create_key)
    sealer = Sealer.load(settings.key_dir, create=create_key)
    return Hub(settings, engine, make_sessionmaker(engine), signer, sealer, clock)

"""Settings, read once from ``HUB_*`` environment variables into one typed object.

The whole surface is the table below (also in README.md). ``create_app(settings)`` and every
CLI command take a :class:`Settings`; nothing else reads the environment.

| variable               | default                  | meaning                               |
|------------------------|--------------------------|---------------------------------------|
| HUB_DATABASE_URL       | sqlite:///var/hub.db     | SQLAlchemy URL (PostgreSQL in prod)   |
| HUB_REDIS_URL          | unset: embedded delivery | Redis for rq workers                  |
| HUB_HOST / HUB_PORT    | 127.0.0.1 / 8000         | where `hub serve` listens             |
| HUB_PUBLIC_URL         | http://HOST:PORT         | how others reach this hub             |
| HUB_AUDIENCE           | hub                      | token `aud`, envelope `audience`      |
| HUB_KEY_DIR            | var/keys                 | hub signing keys, data keys (0600)    |
| HUB_TRUSTED_CA_FILE    | unset                    | PEM roots for certificate enrolment   |
| HUB_MAX_BODY_BYTES     | 1048576                  | larger request bodies get 413         |
| HUB_BATCH_MAX          | 1000                     | envelopes per batch request           |
| HUB_CLOCK_SKEW_SECONDS | 300                      | allowed `issued_at` distance from now |
| HUB_TOKEN_MAX_SECONDS  | 300                      | longest bearer-token lifetime         |
| HUB_LOG_LEVEL          | INFO                     | Python logging level                  |
| HUB_DELIVERY_MAX_ATTEMPTS | 12                    | attempts before a delivery is dead    |
| HUB_DELIVERY_MAX_AGE_HOURS | 72                   | age after which a delivery is dead    |
| HUB_DELIVERY_CONNECT_TIMEOUT | 3                  | seconds to connect to a destination   |
| HUB_DELIVERY_READ_TIMEOUT | 10                    | seconds to wait for its signed ack    |
| HUB_DELIVERY_BACKOFF_BASE | 2                     | first retry delay (s), doubling       |
| HUB_DELIVERY_BACKOFF_CAP | 600                    | longest retry delay / pause (s)       |
| HUB_DELIVERY_BREAKER   | 5                        | failures in a row that pause a dest.  |
| HUB_DELIVERY_LEASE_SECONDS | 30                   | a deliverer's hold on a destination   |
| HUB_DISPATCH_INTERVAL  | 1.0                      | seconds between outbox sweeps         |
| HUB_OPEN311_AGENCY     | open311                  | agency Open311 requests are signed as |
| HUB_GIL_SWITCH_MS      | 0.5                      | serve/worker: GIL hand-over interval  |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about one hub process."""

    database_url: str = "sqlite:///var/hub.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    audience: str = "hub"
    key_dir: Path = field(default_factory=lambda: Path("var/keys"))
    trusted_ca_file: Path | None = None
    max_body_bytes: int = 1_048_576
    batch_max: int = 1000
    clock_skew_seconds: int = 300
    token_max_seconds: int = 300
    log_level: str = "INFO"
    delivery_max_attempts: int = 12
    delivery_max_age_hours: float = 72.0
    delivery_connect_timeout: float = 3.0
    delivery_read_timeout: float = 10.0
    delivery_backoff_base: float = 2.0
    delivery_backoff_cap: float = 600.0
    delivery_breaker: int = 5
    delivery_lease_seconds: float = 30.0
    delivery_concurrency: int = 8
    dispatch_interval: float = 1.0
    open311_agency: str = "open311"
    gil_switch_ms: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Read the ``HUB_*`` variables; unset ones keep their defaults."""
        e = os.environ if env is None else env
        d = cls()
        host = e.get("HUB_HOST", d.host)
        port = int(e.get("HUB_PORT", d.port))
        ca = e.get("HUB_TRUSTED_CA_FILE")
        return cls(
            database_url=e.get("HUB_DATABASE_URL", d.database_url),
            redis_url=e.get("HUB_REDIS_URL") or None,
            host=host,
            port=port,
            public_url=e.get("HUB_PUBLIC_URL", f"http://{host}:{port}"),
            audience=e.get("HUB_AUDIENCE", d.audience),
            key_dir=Path(e.get("HUB_KEY_DIR", str(d.key_dir))),
            trusted_ca_file=Path(ca) if ca else None,
            max_body_bytes=int(e.get("HUB_MAX_BODY_BYTES", d.max_body_bytes)),
            batch_max=int(e.get("HUB_BATCH_MAX", d.batch_max)),
            clock_skew_seconds=int(e.get("HUB_CLOCK_SKEW_SECONDS", d.clock_skew_seconds)),
            token_max_seconds=int(e.get("HUB_TOKEN_MAX_SECONDS", d.token_max_seconds)),
            log_level=e.get("HUB_LOG_LEVEL", d.log_level),
            delivery_max_attempts=int(e.get("HUB_DELIVERY_MAX_ATTEMPTS", d.delivery_max_attempts)),
            delivery_max_age_hours=float(
                e.get("HUB_DELIVERY_MAX_AGE_HOURS", d.delivery_max_age_hours)
            ),
            delivery_connect_timeout=float(
                e.get("HUB_DELIVERY_CONNECT_TIMEOUT", d.delivery_connect_timeout)
            ),
            delivery_read_timeout=float(
                e.get("HUB_DELIVERY_READ_TIMEOUT", d.delivery_read_timeout)
            ),
            delivery_backoff_base=float(
                e.get("HUB_DELIVERY_BACKOFF_BASE", d.delivery_backoff_base)
            ),
            delivery_backoff_cap=float(e.get("HUB_DELIVERY_BACKOFF_CAP", d.delivery_backoff_cap)),
            delivery_breaker=int(e.get("HUB_DELIVERY_BREAKER", d.delivery_breaker)),
            delivery_concurrency=int(e.get("HUB_DELIVERY_CONCURRENCY", d.delivery_concurrency)),
            delivery_lease_seconds=float(
                e.get("HUB_DELIVERY_LEASE_SECONDS", d.delivery_lease_seconds)
            ),
            dispatch_interval=float(e.get("HUB_DISPATCH_INTERVAL", d.dispatch_interval)),
            open311_agency=e.get("HUB_OPEN311_AGENCY", d.open311_agency),
            gil_switch_ms=float(e.get("HUB_GIL_SWITCH_MS", d.gil_switch_ms)),
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the CLI's flags)."""
        return replace(self, **changes)  # type: ignore[arg-type]

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
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the CLI's flags)."""
        return replace(self, **changes)  # type: ignore[arg-type]

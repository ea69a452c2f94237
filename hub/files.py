"""Writing secrets: created 0600 from the first byte, then renamed into place atomically."""

from __future__ import annotations

import os
from pathlib import Path


def write_private_bytes(path: Path, data: bytes) -> None:
    """Never world-readable, even briefly; refuses to overwrite an existing secret."""
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite a key")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)

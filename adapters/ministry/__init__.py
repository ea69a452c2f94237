"""Ministry systems of the Damrongdhama MOU: one configurable adapter, one entry per ministry.

Justice, Labour, Education, Public Health, Digital Economy and Society, Social Development
and Human Security, and the Royal Thai Police each keep their own complaint system. What
differs between them — field names and nesting, labels, time formats, URLs, push or pull —
is data in ``ministries.json``; the code is one generic mapping, client and simulator.

``ADAPTERS`` maps a ministry code (``moph``...) to its :class:`adapters.base.Adapter`;
``ADAPTER`` is the one named by ``MINISTRY`` in the environment (default: the first
configured), so ``MINISTRY=moph hub adapters check ministry`` works with today's loader.
"""

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "ministries.json"
FIXTURES = HERE / "fixtures"


def __getattr__(name: str) -> Any:
    if name in ("ADAPTER", "ADAPTERS"):
        from adapters.ministry import adapter

        return getattr(adapter, name)
    raise AttributeError(name)

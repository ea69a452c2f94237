"""The national index's test world: agencies with real keys send signed complaints and case
messages through the API; the index is read back over HTTP with agency-signed tokens.

The cast:

* ``traffy`` — an origin system (submits every complaint; party to every case);
* ``bma`` (Bangkok, area 10) and ``cmcity`` (Chiang Mai, area 50) — the owners routing picks;
* ``mea`` — an agency on no case; ``ombudsman`` — oversight; ``root`` — hub admin.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def cast(agencies) -> dict[str, Any]:
    return {
        "traffy": agencies.enrol("traffy", areas=[]),
        "ops1111": agencies.enrol("ops1111", kind="hotline", areas=[]),
        "bma": agencies.enrol("bma", areas=["10"]),
        "cmcity": agencies.enrol("cmcity", areas=["50"]),
        "mea": agencies.enrol(
            "mea", kind="state_enterprise", areas=["10"], categories=["electricity"]
        ),
        "ombudsman": agencies.enrol("ombudsman", kind="oversight", areas=[], roles=["oversight"]),
        "root": agencies.enrol("root", kind="hub", areas=[], roles=["admin"]),
    }

"""1111 (OPM government contact centre): cases from its partner web service, CoreService.

CoreService is SOAP 1.1 over ASMX with JSON strings inside the SOAP results; see
:mod:`.soap`, :mod:`.client` and :mod:`.simulator`. ``ADAPTER`` (the
:class:`adapters.base.Adapter` descriptor) is loaded on first use, so that importing the
mapping stays light.
"""

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def __getattr__(name: str) -> Any:
    if name == "ADAPTER":
        from adapters.ops1111.adapter import ADAPTER

        return ADAPTER
    raise AttributeError(name)

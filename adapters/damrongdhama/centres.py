"""Damrongdhama centres as hub agencies: codes, levels, and how a case climbs between them.

A centre's agency code is ``dc-<DOPA code of its area>``: ``dc-50`` is the provincial centre
of Chiang Mai, ``dc-5001`` the amphoe centre of Mueang Chiang Mai, ``dc-500101`` a tambon
centre (Si Phum). The seeded ``dc-10`` (Bangkok) already follows it.

Escalation, as the hub does it today (``hub.routing.supervisor``): a case whose offer is not
accepted in time, or that is not resolved in time, is escalated to the **provincial**
Damrongdhama centre of the case's province (an agency of kind ``damrongdhama_centre`` whose
``areas`` hold the two-digit province code), then to the 1111 hotline. So an amphoe centre
escalates to its province as long as the amphoe centre is enrolled with its four-digit
amphoe code only (never the province code) — which :func:`enrolment` guarantees. The full
administrative chain (tambon → amphoe → province → 1111) is :func:`escalation_chain`; the hub
honours its last two steps, a tambon centre's breach goes straight to the province.

Pure: no I/O; a deployment feeds :func:`deployment` to ``hub agencies enrol`` / ``hub routing
add`` (or to ``hub.exchange.registry.enrol`` and ``hub.routing.add_rule``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from hub.vocab import area

Level = Literal["tambon", "amphoe", "province"]
PREFIX = "dc-"
HOTLINE = "opm1111"
KIND = "damrongdhama_centre"
DIGITS: dict[str, int] = {"province": 2, "amphoe": 4, "tambon": 6}
LEVEL_OF_DIGITS: dict[int, Level] = {2: "province", 4: "amphoe", 6: "tambon"}
LEVEL_TH = {"province": "จังหวัด", "amphoe": "อำเภอ", "tambon": "ตำบล"}
CENTRE_CATEGORIES = ("general_complaint", "help_request", "corruption", "consumer_protection")


def centre_code(level: str, area_code: str) -> str:
    """``dc-<code>`` of the ``level`` centre over ``area_code`` (any deeper code is cut).

    Raises ValueError for an unknown level or an area code shallower than the level.
    """
    if level not in DIGITS:
        raise ValueError(f"unknown centre level {level!r}")
    digits = DIGITS[level]
    if len(area_code) < digits or not area_code.isdigit():
        raise ValueError(f"area {area_code!r} has no {level} part")
    return PREFIX + area_code[:digits]


def area_of(code: str) -> str:
    """The DOPA area code a centre covers (``dc-5001`` → ``5001``); ValueError if not a centre."""
    digits = code.removeprefix(PREFIX)
    if not code.startswith(PREFIX) or len(digits) not in LEVEL_OF_DIGITS or not digits.isdigit():
        raise ValueError(f"{code!r} is not a Damrongdhama centre code")
    return digits


def level_of(code: str) -> Level:
    """``province``, ``amphoe`` or ``tambon`` for a centre code."""
    return LEVEL_OF_DIGITS[len(area_of(code))]


def parent_centre(code: str) -> str | None:
    """tambon → amphoe → province centre; None above a province centre."""
    digits = area_of(code)
    return PREFIX + digits[: len(digits) - 2] if len(digits) > 2 else None


def escalation_chain(code: str, *, hotline: str = HOTLINE) -> list[str]:
    """``code`` and everyone above it, ending with the 1111 hotline."""
    chain, current = [code], parent_centre(code)
    while current is not None:
        chain.append(current)
        current = parent_centre(current)
    return [*chain, hotline]


def name_th(code: str) -> str:
    """``ศูนย์ดำรงธรรมอำเภอเมืองเชียงใหม่`` (``ศูนย์ดำรงธรรมกรุงเทพมหานคร`` for Bangkok)."""
    found = area(area_of(code))
    place = found.name_th if found else area_of(code)
    if code == PREFIX + "10":
        return "ศูนย์ดำรงธรรมกรุงเทพมหานคร"
    return f"ศูนย์ดำรงธรรม{LEVEL_TH[level_of(code)]}{place}"


def enrolment(code: str, *, categories: Sequence[str] = CENTRE_CATEGORIES) -> dict[str, Any]:
    """Arguments for ``registry.enrol`` (keys aside): the centre covers its own area only."""
    return {
        "code": code,
        "kind": KIND,
        "name_th": name_th(code),
        "areas": [area_of(code)],
        "categories": list(categories),
        "roles": ["submit", "receive"],
    }


def routing_rules(
    code: str, categories: Iterable[str] = ("general_complaint",)
) -> list[dict[str, Any]]:
    """Explicit rules sending ``categories`` in the centre's area to it (``hub routing add``)."""
    where = area_of(code)
    return [
        {"area": where, "category": c, "agency": code, "note": f"{name_th(code)} รับเรื่อง {c}"}
        for c in categories
    ]


def deployment(codes: Iterable[str]) -> dict[str, Any]:
    """What a deployment enrols for these centres and every centre above them.

    ``{"enrol": [enrolment...], "rules": [rule...], "escalation": {code: chain}}``, parents
    first so a province centre exists before its amphoe centres.
    """
    wanted: set[str] = set()
    for code in codes:
        wanted.update(escalation_chain(code)[:-1])
    ordered = sorted(wanted, key=lambda c: (len(c), c))
    return {
        "enrol": [enrolment(c) for c in ordered],
        "rules": [r for c in ordered for r in routing_rules(c)],
        "escalation": {c: escalation_chain(c) for c in ordered},
    }

"""Reference agencies a fresh hub (and the demo) starts with, so routing has somewhere to go.

Codes are short and stable; areas are DOPA codes ("10" = Bangkok). A real deployment enrols
agencies with their own keys through ``hub agencies add`` or ``POST /v1/agencies``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reference:
    code: str
    kind: str
    name_th: str
    name_en: str
    areas: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("submit", "receive")
    extra: dict[str, str] = field(default_factory=dict)


REFERENCE_AGENCIES: tuple[Reference, ...] = (
    Reference(
        "hub-admin", "hub", "ผู้ดูแลระบบศูนย์แลกเปลี่ยน", "Hub operator", roles=("admin", "oversight")
    ),
    Reference(
        "bma",
        "local_government",
        "กรุงเทพมหานคร",
        "Bangkok Metropolitan Administration",
        areas=("10",),
    ),
    Reference(
        "mwa",
        "state_enterprise",
        "การประปานครหลวง",
        "Metropolitan Waterworks Authority",
        areas=("10", "11", "12"),
        categories=("water_supply",),
    ),
    Reference(
        "mea",
        "state_enterprise",
        "การไฟฟ้านครหลวง",
        "Metropolitan Electricity Authority",
        areas=("10", "11", "12"),
        categories=("electricity", "overhead_cables"),
    ),
    Reference(
        "opm1111",
        "hotline",
        "ศูนย์บริการประชาชน 1111",
        "1111 Government Contact Center",
        roles=("submit", "receive", "oversight"),
    ),
    Reference(
        "dc-10",
        "damrongdhama_centre",
        "ศูนย์ดำรงธรรมกรุงเทพมหานคร",
        "Damrongdhama Centre Bangkok",
        areas=("10",),
        categories=("general_complaint",),
    ),
    Reference(
        "ombudsman", "oversight", "ผู้ตรวจการแผ่นดิน", "Office of the Ombudsman", roles=("oversight",)
    ),
)

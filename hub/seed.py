"""Reference agencies a fresh hub (and the demo) starts with, so routing has somewhere to go.

Codes are short and stable; areas are DOPA codes ("10" = Bangkok, "1046" = เขตคลองสามวา,
"50" = Chiang Mai, "TH" = the whole country). A real deployment enrols agencies with their own
keys through ``hub agencies add`` or ``POST /v1/agencies``.

``push`` marks the agencies the demo runs as push receivers (the SDK receiver blueprint on a
loopback server): the channels citizens used, which must get each resolution back. The rest
pull their inbox, as an agency without a public endpoint does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.damrongdhama.centres import CENTRE_CATEGORIES


@dataclass(frozen=True)
class Reference:
    code: str
    kind: str
    name_th: str
    name_en: str
    areas: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("submit", "receive")
    push: bool = False
    extra: dict[str, str] = field(default_factory=dict)


REFERENCE_AGENCIES: tuple[Reference, ...] = (
    Reference(
        "hub-admin", "hub", "ผู้ดูแลระบบศูนย์แลกเปลี่ยน", "Hub operator", roles=("admin", "oversight")
    ),
    # Traffy Fondue deployments of two municipalities
    Reference(
        "bma",
        "local_government",
        "กรุงเทพมหานคร (Traffy Fondue)",
        "Bangkok Metropolitan Administration (Traffy Fondue)",
        areas=("10",),
        push=True,
    ),
    Reference(
        "nonthaburi",
        "local_government",
        "เทศบาลนครนนทบุรี (Traffy Fondue)",
        "Nonthaburi City Municipality (Traffy Fondue)",
        areas=("1201",),
        push=True,
    ),
    # district offices Bangkok's Traffy routes to by area (the most frequent in the sample)
    Reference(
        "khet-khlongsamwa",
        "local_government",
        "สำนักงานเขตคลองสามวา",
        "Khlong Sam Wa District Office",
        areas=("1046",),
    ),
    Reference(
        "khet-buengkum",
        "local_government",
        "สำนักงานเขตบึงกุ่ม",
        "Bueng Kum District Office",
        areas=("1027",),
    ),
    # state enterprises
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
    # the 1111 hotline
    Reference(
        "opm1111",
        "hotline",
        "ศูนย์บริการประชาชน 1111",
        "1111 Government Contact Center",
        roles=("submit", "receive", "oversight"),
        push=True,
    ),
    # Damrongdhama centres: Bangkok's, and Chiang Mai's provincial and Mueang amphoe centres
    Reference(
        "dc-10",
        "damrongdhama_centre",
        "ศูนย์ดำรงธรรมกรุงเทพมหานคร",
        "Damrongdhama Centre Bangkok",
        areas=("10",),
        categories=("general_complaint",),
    ),
    Reference(
        "dc-50",
        "damrongdhama_centre",
        "ศูนย์ดำรงธรรมจังหวัดเชียงใหม่",
        "Damrongdhama Centre Chiang Mai Province",
        areas=("50",),
        categories=CENTRE_CATEGORIES,
        push=True,
    ),
    Reference(
        "dc-5001",
        "damrongdhama_centre",
        "ศูนย์ดำรงธรรมอำเภอเมืองเชียงใหม่",
        "Damrongdhama Centre Mueang Chiang Mai District",
        areas=("5001",),
        categories=CENTRE_CATEGORIES,
        push=True,
    ),
    # ministries (national; they take cases forwarded to them)
    Reference(
        "moph",
        "ministry",
        "กระทรวงสาธารณสุข",
        "Ministry of Public Health",
        areas=("TH",),
        categories=("air_pollution", "help_request"),
    ),
    Reference(
        "rtp",
        "ministry",
        "สำนักงานตำรวจแห่งชาติ",
        "Royal Thai Police",
        areas=("TH",),
        categories=("noise", "traffic_violation", "corruption"),
    ),
    Reference(
        "ombudsman", "oversight", "ผู้ตรวจการแผ่นดิน", "Office of the Ombudsman", roles=("oversight",)
    ),
)

"""The shared vocabularies (``schemas/vocab/*.json``), loaded once and read-only.

Why a module of its own: routing, the case state machine, adapters and the index all need the
same code lists, and they must agree with the enums in the schema files. Mapping tables fail
loudly (:class:`UnmappedValue`) instead of defaulting, so a new label in an origin system is
noticed the first time it arrives. Areas carry DOPA codes (generated from geothai, shipped
as JSON so geothai is not a run-time dependency); old records keep resolving abolished codes.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal


class UnmappedValue(ValueError):
    """A value from an external system has no entry in a mapping table."""

    def __init__(self, system: str, field: str, value: str) -> None:
        self.system = system
        self.field = field
        self.value = value
        super().__init__(f"{system}: no mapping for {field} {value!r}")


@dataclass(frozen=True, slots=True)
class Category:
    """A hub complaint category; ``family`` groups categories for duplicate matching."""

    code: str
    th: str
    en: str
    family: str
    traffy: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Status:
    """A case status; a terminal status is left only by reopen or unmerge."""

    code: str
    th: str
    en: str
    terminal: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """``on`` (a message type or a hub-internal event) moves a case ``from_`` → ``to``."""

    from_: str
    to: str
    on: str


@dataclass(frozen=True, slots=True)
class Label:
    """A plain coded term with Thai and English labels (channels, outcomes)."""

    code: str
    th: str
    en: str


def schemas_dir() -> Path:
    """The schemas directory: ``HUB_SCHEMAS_DIR`` or the one shipped beside ``hub/``."""
    override = os.environ.get("HUB_SCHEMAS_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "schemas"


def load_json(relative: str) -> Any:
    """Read one JSON file under the schemas directory (UTF-8, always)."""
    return json.loads((schemas_dir() / relative).read_text(encoding="utf-8"))


@cache
def categories() -> dict[str, Category]:
    """Hub category code → :class:`Category`."""
    data = load_json("vocab/categories.json")["categories"]
    return {
        code: Category(code, c["th"], c["en"], c["family"], tuple(c["traffy"]))
        for code, c in data.items()
    }


@cache
def _traffy_categories() -> dict[str, str]:
    table: dict[str, str] = {}
    for category in categories().values():
        for label in category.traffy:
            if label in table:
                raise ValueError(f"Traffy type {label!r} maps to two categories")
            table[label] = category.code
    return table


def category_for_traffy(label: str) -> str:
    """Hub category code for one Traffy Fondue type label (``ถนน`` → ``road``).

    Raises :class:`UnmappedValue` for an unknown label; an empty type list is the caller's
    decision (``uncategorised``), not a label.
    """
    try:
        return _traffy_categories()[label.strip()]
    except KeyError:
        raise UnmappedValue("traffy_fondue", "type", label) from None


@cache
def statuses() -> dict[str, Status]:
    """Case status code → :class:`Status`."""
    data = load_json("vocab/statuses.json")["statuses"]
    return {code: Status(code, s["th"], s["en"], s["terminal"]) for code, s in data.items()}


@cache
def transitions() -> tuple[Transition, ...]:
    """Every allowed transition; ``(from_, on)`` is unique, so a state machine can look up."""
    rows = load_json("vocab/statuses.json")["transitions"]
    return tuple(Transition(t["from"], t["to"], t["on"]) for t in rows)


@cache
def internal_events() -> frozenset[str]:
    """Hub-internal events that drive transitions without a message (``hub.route``...)."""
    return frozenset(load_json("vocab/statuses.json")["internal_events"])


@cache
def allowed_transitions() -> dict[str, frozenset[str]]:
    """Status → the statuses it may move to (self-loops included, e.g. status updates)."""
    found: dict[str, set[str]] = {code: set() for code in statuses()}
    for t in transitions():
        found[t.from_].add(t.to)
    return {code: frozenset(targets) for code, targets in found.items()}


@cache
def _traffy_statuses() -> dict[str, str]:
    table: dict[str, str] = {}
    for code, s in load_json("vocab/statuses.json")["statuses"].items():
        for label in [*s["traffy"], *s["traffy_state"]]:
            if label in table:
                raise ValueError(f"Traffy status {label!r} maps to two statuses")
            table[label] = code
    return table


def status_for_traffy(label: str) -> str:
    """Hub status for a Traffy status label (``เสร็จสิ้น``) or state type (``finish``)."""
    try:
        return _traffy_statuses()[label.strip()]
    except KeyError:
        raise UnmappedValue("traffy_fondue", "state", label) from None


def _labels(file: str, key: str) -> dict[str, Label]:
    data = load_json(f"vocab/{file}")[key]
    return {code: Label(code, v["th"], v["en"]) for code, v in data.items()}


@cache
def channels() -> dict[str, Label]:
    """Channel code → label (how the citizen reached the government)."""
    return _labels("channels.json", "channels")


@cache
def outcomes() -> dict[str, Label]:
    """Resolution outcome code → label (the ``outcome`` of ``case.resolve``)."""
    return _labels("outcomes.json", "outcomes")


@dataclass(frozen=True, slots=True)
class Area:
    """A Thai administrative area with its DOPA code; ``parent`` is None for a province."""

    code: str
    level: Literal["province", "amphoe", "tambon"]
    name_th: str
    name_en: str | None
    parent: str | None
    abolished: bool


_LEVELS: dict[int, Literal["province", "amphoe", "tambon"]] = {
    2: "province",
    4: "amphoe",
    6: "tambon",
}
# Short forms need their dot ("อ." is อำเภอ; a bare อ starts names such as อ่างทอง).
_SHORT = re.compile(r"^(?:จ|อ|ต|ข)\.")
_MARKS = re.compile(r"[\s.'\-]")
_PREFIX = re.compile(r"^(?:จังหวัด|กิ่งอำเภอ|อำเภอ|เขต|ตำบล|แขวง)+")
_PAREN = re.compile(r"^(.*?)\((.*)\)$")
_BANGKOK_ALIASES = ("กรุงเทพ", "กรุงเทพฯ", "กทม", "krungthep")


def _norm(name: str) -> str:
    """One spelling for comparison: no spaces, dots or hyphens, no level word in front."""
    text = _SHORT.sub("", unicodedata.normalize("NFC", name).strip())
    return _PREFIX.sub("", _MARKS.sub("", text).lower())


def _keys(a: Area, areas: dict[str, Area]) -> set[str]:
    """Every normalised name an area answers to, including a ``(former name)`` and "เมือง"."""
    names = {a.name_th, a.name_en or ""}
    for name in list(names):
        if m := _PAREN.match(name):
            names |= {m.group(1), m.group(2)}
    keys = {_norm(n) for n in names} - {""}
    province = areas.get(a.code[:2])
    if a.level == "amphoe" and province and _norm(a.name_th) == "เมือง" + _norm(province.name_th):
        keys |= {"เมือง", "mueang"}
    if a.code == "10":
        keys |= set(_BANGKOK_ALIASES)
    return keys


@cache
def _areas() -> dict[str, Area]:
    doc = load_json("vocab/areas.json")
    col = {name: i for i, name in enumerate(doc["columns"])}
    found: dict[str, Area] = {}
    for row in doc["rows"]:
        code = row[col["code"]]
        found[code] = Area(
            code=code,
            level=_LEVELS[len(code)],
            name_th=row[col["name_th"]],
            name_en=row[col["name_en"]],
            parent=row[col["parent"]],
            abolished=row[col["abolished"]],
        )
    return found


@cache
def _by_name() -> dict[tuple[str | None, str], tuple[Area, ...]]:
    """(parent code, normalised name) → areas, active ones before abolished ones."""
    index: dict[tuple[str | None, str], list[Area]] = {}
    areas = _areas()
    for a in sorted(areas.values(), key=lambda a: (a.abolished, a.code)):
        for key in _keys(a, areas):
            index.setdefault((a.parent, key), []).append(a)
    return {k: tuple(v) for k, v in index.items()}


def area(code: str) -> Area | None:
    """The area with this DOPA code (2, 4 or 6 digits), abolished ones included."""
    return _areas().get(code)


def _child(parent: str | None, name: str) -> Area | None:
    found = _by_name().get((parent, _norm(name)), ())
    return found[0] if found else None


def find_area(
    province_name: str, amphoe_name: str | None = None, tambon_name: str | None = None
) -> Area | None:
    """The most specific area named, or None when any given name does not match.

    Tolerates level words (จังหวัด, อำเภอ/เขต, ตำบล/แขวง and จ./อ./ต.), spaces, English names
    and the common spellings of Bangkok; prefers a current area to an abolished one.
    """
    found = _child(None, province_name)
    for name in (amphoe_name, tambon_name):
        if found is None or name is None:
            break
        found = _child(found.code, name)
    return found


def clear_caches() -> None:
    """Forget everything loaded, e.g. after a test points ``HUB_SCHEMAS_DIR`` elsewhere."""
    cached: tuple[Any, ...] = (
        categories,
        _traffy_categories,
        statuses,
        transitions,
        internal_events,
        allowed_transitions,
        _traffy_statuses,
        channels,
        outcomes,
        _areas,
        _by_name,
    )
    for fn in cached:
        fn.cache_clear()

"""Which agency must act on (area, category), and why.

Candidates come from admin-managed routing rules and from each agency's enrolment (its
``areas`` and ``categories`` are its default rule). Ranking, best first:

1. the most specific area: tambon over amphoe over province over national (``TH``);
2. a rule naming the category over one that takes every category;
3. an explicit rule over an enrolment default; then the agency code, for determinism.

With no candidate, the provincial Damrongdhama centre of the complaint's province. Agencies
in ``exclude`` (those that declined, the origin) are skipped, so a re-route never goes back.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub import vocab
from hub.errors import Conflict, FieldError, NotFound, RequestInvalid
from hub.models import Agency, RoutingRule

LEVEL_NAMES = {3: "tambon", 2: "amphoe", 1: "province", 0: "national", -1: "fallback"}
NATIONAL = "TH"
RULES_CACHE = "routing.rules"


@dataclass(frozen=True, slots=True)
class Candidate:
    agency: str
    area: str
    category: str | None
    level: int
    source: str  # rule | enrolment | damrongdhama
    rule_id: int | None = None

    def rank(self) -> tuple[int, int, int, str]:
        return (
            -self.level,
            0 if self.category else 1,
            0 if self.source == "rule" else 1,
            self.agency,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "agency": self.agency,
            "area": self.area,
            "category": self.category,
            "level": LEVEL_NAMES[self.level],
            "source": self.source,
            "rule_id": self.rule_id,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    agency: str | None
    why: str
    candidates: tuple[Candidate, ...] = ()


def route(
    session: Session,
    *,
    category: str,
    province: str | None,
    amphoe: str | None = None,
    tambon: str | None = None,
    exclude: Collection[str] = (),
) -> Decision:
    found = [
        c
        for c in candidates(
            session, category=category, province=province, amphoe=amphoe, tambon=tambon
        )
    ]
    allowed = [c for c in found if c.agency not in exclude]
    if not allowed:
        return Decision(None, "no agency covers this area and category", tuple(found))
    best = allowed[0]
    return Decision(best.agency, _why(best), tuple(found))


def candidates(
    session: Session, *, category: str, province: str | None, amphoe: str | None, tambon: str | None
) -> list[Candidate]:
    """Every agency that could act, best first (see the module docstring)."""
    areas = {code: level for level, code in ((3, tambon), (2, amphoe), (1, province)) if code}
    areas[NATIONAL] = 0
    receivers = {a.code: a for a in agencies(session) if "receive" in a.roles and a.kind != "hub"}
    found: dict[str, Candidate] = {}

    def offer(c: Candidate) -> None:
        if c.agency in receivers and (c.agency not in found or c.rank() < found[c.agency].rank()):
            found[c.agency] = c

    for r in _rules(session, tuple(sorted(areas)), category):
        offer(Candidate(r.agency, r.area, r.category, areas[r.area], "rule", r.id))
    for a in receivers.values():
        if a.categories and category not in a.categories:
            continue
        for code in a.areas:
            if code in areas:
                offer(
                    Candidate(
                        a.code, code, category if a.categories else None, areas[code], "enrolment"
                    )
                )
    if province:
        for a in receivers.values():
            if a.kind == "damrongdhama_centre" and province in a.areas:
                offer(Candidate(a.code, province, None, -1, "damrongdhama"))
    return sorted(found.values(), key=Candidate.rank)


def explain(session: Session, *, area: str, category: str) -> Decision:
    """The decision for an area code (any level) and category, with every candidate."""
    if area != NATIONAL and vocab.area(area) is None:
        raise RequestInvalid(
            f"unknown area {area!r}", errors=[FieldError("/query/area", "not a DOPA code")]
        )
    if category not in vocab.categories():
        raise RequestInvalid(
            f"unknown category {category!r}",
            errors=[FieldError("/query/category", "not a hub category")],
        )
    province, amphoe, tambon = _split(area)
    return route(session, category=category, province=province, amphoe=amphoe, tambon=tambon)


def supervisor(
    session: Session,
    province: str | None,
    *,
    amphoe: str | None = None,
    owner: str | None = None,
    exclude: Collection[str] = (),
) -> str | None:
    """Who a breach or a dead end escalates to, one level up.

    A case held by a tambon Damrongdhama centre goes to its amphoe centre; anything else
    to the provincial centre; past the province, to the 1111 hotline.
    """
    active = agencies(session)
    banned = {*exclude, *([owner] if owner else [])}
    centres = [
        a
        for a in active
        if a.kind == "damrongdhama_centre" and "receive" in a.roles and a.code not in banned
    ]
    held_by = next((a for a in active if a.code == owner), None)
    from_tambon = (
        held_by is not None
        and held_by.kind == "damrongdhama_centre"
        and any(len(code) == 6 for code in held_by.areas)
    )
    if from_tambon and amphoe:
        for a in centres:
            if amphoe in a.areas:
                return a.code
    for a in centres:
        if province and province in a.areas:
            return a.code
    for a in active:
        if a.kind == "hotline" and a.code not in banned and "receive" in a.roles:
            return a.code
    return None


def _rules(session: Session, areas: tuple[str, ...], category: str) -> list[RoutingRule]:
    """Rules for these areas and category, read once per transaction: a batch's complaints
    mostly come from the same few areas."""
    cache: dict[tuple[tuple[str, ...], str], list[RoutingRule]]
    cache = session.info.setdefault(RULES_CACHE, {})
    key = (areas, category)
    if key not in cache:
        with session.no_autoflush:
            cache[key] = list(
                session.scalars(
                    select(RoutingRule)
                    .where(
                        RoutingRule.area.in_(areas),
                        or_(RoutingRule.category.is_(None), RoutingRule.category == category),
                    )
                    .order_by(RoutingRule.id)
                )
            )
    return cache[key]


def agencies(session: Session) -> list[Agency]:
    """Active agencies, read once per transaction (a batch routes hundreds of complaints)."""
    cached: list[Agency] | None = session.info.get("routing.agencies")
    if cached is None:
        with session.no_autoflush:
            stmt = select(Agency).where(Agency.active.is_(True)).order_by(Agency.code)
            cached = list(session.scalars(stmt))
        session.info["routing.agencies"] = cached
    return cached


# --------------------------------------------------------------------------- rules


def add_rule(
    session: Session,
    *,
    area: str,
    category: str | None,
    agency: str,
    note: str | None,
    now: datetime,
) -> RoutingRule:
    if area != NATIONAL and vocab.area(area) is None:
        raise RequestInvalid(
            f"unknown area {area!r}", errors=[FieldError("/body/area", "not a DOPA code")]
        )
    if category is not None and category not in vocab.categories():
        raise RequestInvalid(
            f"unknown category {category!r}", errors=[FieldError("/body/category", "unknown")]
        )
    if session.get(Agency, agency) is None:
        raise NotFound(f"no agency {agency!r}")
    exists = session.scalar(
        select(RoutingRule.id).where(
            RoutingRule.area == area,
            RoutingRule.agency == agency,
            RoutingRule.category.is_(None)
            if category is None
            else RoutingRule.category == category,
        )
    )
    if exists is not None:
        raise Conflict(
            f"rule {exists} already routes {category or 'everything'} in {area} to {agency}"
        )
    rule = RoutingRule(area=area, category=category, agency=agency, note=note, created_at=now)
    session.add(rule)
    session.flush()
    session.info.pop(RULES_CACHE, None)
    return rule


def remove_rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"no routing rule {rule_id}")
    session.delete(rule)
    session.info.pop(RULES_CACHE, None)
    return rule


def list_rules(
    session: Session, *, area: str | None = None, agency: str | None = None
) -> list[RoutingRule]:
    stmt = select(RoutingRule).order_by(RoutingRule.area, RoutingRule.category, RoutingRule.agency)
    if area:
        stmt = stmt.where(RoutingRule.area == area)
    if agency:
        stmt = stmt.where(RoutingRule.agency == agency)
    return list(session.scalars(stmt))


def _split(area: str) -> tuple[str | None, str | None, str | None]:
    if area == NATIONAL:
        return None, None, None
    return area[:2], area[:4] if len(area) >= 4 else None, area if len(area) == 6 else None


def _why(c: Candidate) -> str:
    if c.source == "damrongdhama":
        return f"no rule for this area and category; the provincial Damrongdhama centre of {c.area}"
    what = f"category {c.category}" if c.category else "every category"
    rule = f"routing rule {c.rule_id}" if c.rule_id else "its enrolment"
    return f"{rule}: {LEVEL_NAMES[c.level]} {c.area}, {what}"

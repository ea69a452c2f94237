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

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import vocab
from hub.errors import Conflict, FieldError, NotFound, RequestInvalid
from hub.models import Agency, RegistryState, RoutingRule, registry_changing

LEVEL_NAMES = {3: "tambon", 2: "amphoe", 1: "province", 0: "national", -1: "fallback"}
NATIONAL = "TH"
SNAPSHOT = "routing.snapshot"


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
    reg = snapshot(session)
    found: dict[str, Candidate] = {}

    def offer(c: Candidate) -> None:
        a = reg.by_code.get(c.agency)
        known = found.get(c.agency)
        if a is not None and a.receives and (known is None or c.rank() < known.rank()):
            found[c.agency] = c

    for r in _rules(session, tuple(sorted(areas)), category):
        offer(Candidate(r.agency, r.area, r.category, areas[r.area], "rule", r.id))
    for code in areas:  # only the agencies covering one of these areas
        for a in reg.by_area.get(code, ()):
            if not a.receives or (a.categories and category not in a.categories):
                continue
            offer(
                Candidate(
                    a.code, code, category if a.categories else None, areas[code], "enrolment"
                )
            )
    if province:
        for a in reg.by_area.get(province, ()):
            if a.receives and a.kind == "damrongdhama_centre":
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
    reg = snapshot(session)
    banned = {*exclude, *([owner] if owner else [])}

    def centre(area: str | None) -> str | None:
        for a in reg.by_area.get(area or "", ()):  # code order, as everywhere
            if a.kind == "damrongdhama_centre" and "receive" in a.roles and a.code not in banned:
                return a.code
        return None

    held_by = reg.by_code.get(owner or "")
    from_tambon = (
        held_by is not None
        and held_by.kind == "damrongdhama_centre"
        and any(len(code) == 6 for code in held_by.areas)
    )
    if from_tambon and amphoe and (found := centre(amphoe)):
        return found
    if province and (found := centre(province)):
        return found
    for a in reg.by_kind.get("hotline", ()):
        if a.code not in banned and "receive" in a.roles:
            return a.code
    return None


def _rules(session: Session, areas: tuple[str, ...], category: str) -> list[RuleView]:
    """Rules for these areas and category, oldest first, from the registry snapshot (rules
    change as rarely as agencies and move the same stamp)."""
    by_area = snapshot(session).rules_by_area
    found = [
        r
        for area in areas
        for r in by_area.get(area, ())
        if r.category is None or r.category == category
    ]
    return sorted(found, key=lambda r: r.id)


@dataclass(frozen=True, slots=True)
class RuleView:
    """A routing rule as routing reads it; immutable, so processes may share it."""

    id: int
    area: str
    category: str | None
    agency: str


@dataclass(frozen=True, slots=True)
class AgencyView:
    """What routing needs of an active agency; immutable, so processes may share it."""

    code: str
    kind: str
    roles: frozenset[str]
    areas: tuple[str, ...]
    categories: tuple[str, ...]

    @property
    def receives(self) -> bool:
        return "receive" in self.roles and self.kind != "hub"


@dataclass(frozen=True)
class Snapshot:
    """The active agencies, in code order, and which of them cover each area code; and the
    routing rules by area."""

    stamp: int | None
    all: tuple[AgencyView, ...]
    by_code: dict[str, AgencyView]
    by_area: dict[str, tuple[AgencyView, ...]]
    by_kind: dict[str, tuple[AgencyView, ...]]
    rules_by_area: dict[str, tuple[RuleView, ...]]

    def kind_of(self, code: str) -> str | None:
        a = self.by_code.get(code)
        return a.kind if a is not None else None

    @classmethod
    def of(
        cls, stamp: int | None, rows: Sequence[Agency], rules: Sequence[RoutingRule] = ()
    ) -> Snapshot:
        views = tuple(
            AgencyView(a.code, a.kind, frozenset(a.roles), tuple(a.areas), tuple(a.categories))
            for a in sorted(rows, key=lambda a: a.code)
        )
        by_area: dict[str, list[AgencyView]] = {}
        by_kind: dict[str, list[AgencyView]] = {}
        for v in views:
            by_kind.setdefault(v.kind, []).append(v)
            for code in dict.fromkeys(v.areas):
                by_area.setdefault(code, []).append(v)
        return cls(
            stamp,
            views,
            {v.code: v for v in views},
            {k: tuple(v) for k, v in by_area.items()},
            {k: tuple(v) for k, v in by_kind.items()},
            _rules_by_area(rules),
        )


def _rules_by_area(rules: Sequence[RoutingRule]) -> dict[str, tuple[RuleView, ...]]:
    by_area: dict[str, list[RuleView]] = {}
    for r in sorted(rules, key=lambda r: r.id):
        by_area.setdefault(r.area, []).append(RuleView(r.id, r.area, r.category, r.agency))
    return {k: tuple(v) for k, v in by_area.items()}


_snapshots: dict[str, Snapshot] = {}
_snapshots_lock = threading.Lock()


def snapshot(session: Session) -> Snapshot:
    """The registry's active agencies and routing rules: one tiny query per transaction
    (the stamp), the rows themselves only when the stamp moved since this process last read
    them.

    At national scale (~7,800 local governments) reading every agency in every intake
    transaction cost ~160 ms; rules were a query per complaint. A transaction that changes
    an agency or a rule moves the stamp (``hub.models``), so the next transaction anywhere
    sees the change. Without the stamp row (a schema built without migrations) nothing is
    cached across transactions.
    """
    cached: Snapshot | None = session.info.get(SNAPSHOT)
    if cached is not None:
        return cached
    with session.no_autoflush:
        stamp = session.scalar(select(RegistryState.stamp).where(RegistryState.id == 1))
        key = str(session.get_bind().engine.url)
        with _snapshots_lock:
            known = _snapshots.get(key)
        changing = registry_changing(session)  # this view must not be shared before commit
        if stamp is None or known is None or known.stamp != stamp or changing:
            stmt = select(Agency).where(Agency.active.is_(True))
            rules = list(session.scalars(select(RoutingRule)))
            known = Snapshot.of(stamp, list(session.scalars(stmt)), rules)
            if stamp is not None and not changing:
                with _snapshots_lock:
                    _snapshots[key] = known
    session.info[SNAPSHOT] = known
    return known


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
    session.info.pop(SNAPSHOT, None)
    return rule


def remove_rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"no routing rule {rule_id}")
    session.delete(rule)
    session.info.pop(SNAPSHOT, None)
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

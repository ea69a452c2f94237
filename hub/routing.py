"""Which agency must act on (area, category).

Until admin-managed routing rules exist (issue 5), each agency's enrolled ``areas`` and
``categories`` are its default rule. The most specific area wins (tambon over amphoe over
province); an agency naming the category beats one that takes every category (empty list);
with no match, the provincial Damrongdhama centre of the complaint's province.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Agency


@dataclass(frozen=True, slots=True)
class Decision:
    agency: str | None
    why: str


def route(
    session: Session,
    *,
    category: str,
    province: str | None,
    amphoe: str | None = None,
    tambon: str | None = None,
    exclude: Collection[str] = (),
) -> Decision:
    agencies = session.scalars(select(Agency).where(Agency.active.is_(True))).all()
    receivers = [a for a in agencies if "receive" in a.roles and a.code not in exclude]
    best: tuple[int, int, str] | None = None
    for a in receivers:
        if a.kind == "hub":
            continue
        area_rank = _area_rank(a.areas, tambon, amphoe, province)
        if area_rank < 0:
            continue
        if a.categories and category not in a.categories:
            continue
        score = (area_rank, 1 if a.categories else 0, a.code)
        # higher area rank, then explicit category; ties broken by code for determinism
        if best is None or score[:2] > best[:2] or (score[:2] == best[:2] and a.code < best[2]):
            best = score
    if best is not None:
        return Decision(best[2], f"jurisdiction level {best[0]} covers the area and category")
    fallback = [
        a.code
        for a in receivers
        if a.kind == "damrongdhama_centre" and province and province in a.areas
    ]
    if fallback:
        return Decision(
            sorted(fallback)[0], f"no rule; provincial Damrongdhama centre of {province}"
        )
    return Decision(None, "no agency covers this area or category")


def _area_rank(
    areas: list[str], tambon: str | None, amphoe: str | None, province: str | None
) -> int:
    """3 = tambon match, 2 = amphoe, 1 = province, 0 = nationwide ('TH'), -1 = none."""
    for rank, code in ((3, tambon), (2, amphoe), (1, province)):
        if code and code in areas:
            return rank
    return 0 if "TH" in areas else -1

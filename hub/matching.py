"""Duplicate matching: does a new complaint describe a problem an open case already holds?

Why: the same pothole is reported through Traffy Fondue, the 1111 line and a district office
within days of each other. One case per problem means one owner, one resolution flowing back
to every channel, and honest statistics. A false match is worse than a missed one (a citizen's
problem silently folded into somebody else's case), so every condition must hold and missing
evidence (no coordinates, no text) means *no match*, never a guess:

* same category **family** (``hub.vocab``): a re-report may pick a sibling category;
* within ``max_distance_m`` of the case's location (haversine);
* within ``max_age`` of the case being opened (either side: a 1111 call may be forwarded
  after the Traffy report it repeats already opened a case);
* text similarity ≥ ``min_similarity`` on **character n-grams**: Thai is written without
  spaces between words, so word tokens would need a segmenter (and its errors); character
  trigrams survive spelling, tone-mark and word-order variance without one.

The pure part (:func:`best_match` and helpers) holds the rules and is what the labelled set in
``tests/fixtures/duplicates`` measures; :func:`find_duplicate` only fetches a bounded set of
candidates from the database and hands them to it. Defaults are tuned on that labelled set
(``bench/matching.py`` prints precision/recall and a sweep).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, and_, bindparam, select, text
from sqlalchemy.orm import Session

from hub.models import Case, Complaint
from hub.vocab import categories, statuses

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG); metres
CANDIDATE_LIMIT = 200


@dataclass(frozen=True)
class Candidate:
    """One thing to compare: an open case (with one of its complaints' text) or a new complaint."""

    case_id: str
    category: str
    lat: float | None
    lon: float | None
    reported_at: datetime
    text: str


@dataclass(frozen=True)
class MatchPolicy:
    """The knobs of the matcher; defaults tuned on ``tests/fixtures/duplicates``.

    ``min_similarity`` is low on purpose: re-reports "in other words" share only the key
    nouns (ถนน, หลุม, ขยะ, ท่อ...), and the space/time/family gates already carry most of the
    precision. ``ngram`` 3 is the usual choice for Thai character n-grams: bigrams are too
    common across unrelated Thai text, 4-grams break on every small spelling change.
    """

    max_distance_m: float = 150.0
    max_age: timedelta = timedelta(days=14)
    min_similarity: float = 0.2
    ngram: int = 3


# --------------------------------------------------------------------------- text

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# A contact detail with the word that introduces it ("โทร", "ติดต่อกลับได้ที่", "อีเมล").
_LABEL = r"(?:(?:โทร(?:ศัพท์)?|ติดต่อ(?:กลับ)?(?:ได้)?(?:ที่)?|อีเมล|e-?mail|tel)\.?\s*:?\s*)?"
_EMAIL = re.compile(_LABEL + r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# Thai phone numbers as citizens type them: 0891112222, 089-111-2222, 02 123 4567, +66 89...
_PHONE = re.compile(_LABEL + r"(?:\+66|(?<!\d)0)(?:[\s-]?\d){8,9}(?!\d)", re.IGNORECASE)
_TAG = re.compile(r"#\w+")
# Intake boilerplate of call-centre operators and complaint forms: it says who is speaking,
# not what is wrong, and would make unrelated complaints look alike.
_BOILERPLATE = re.compile(
    r"ผู้ร้อง(?:เรียน)?(?:แจ้ง)?(?:ว่า)?|ขอร้องเรียน(?:เรื่อง)?|บริเวณดังกล่าว"
    r"|ขอให้(?:หน่วยงาน|เจ้าหน้าที่)?(?:เข้า|มา)?ตรวจสอบ"
)
# Polite particles at the end of a phrase carry no meaning about the problem.
_PARTICLES = re.compile(r"(?:นะ)?(?:ครับ|คับ|ค่ะ|คะ|ค่า|จ้า|จ้ะ)(?=[\s\W]|$)")
# Tone marks (mai ek..mai chattawa), mai taikhu and thanthakhat: people misplace, double or
# omit them, and they are rarely what tells two problems apart. Nikhahit and yamakkan go
# after ``ํา`` (nikhahit + sara aa, a common typing variant of ``ำ``) has been repaired.
_TONES = dict.fromkeys(range(0x0E47, 0x0E4D))
_OTHER_MARKS = dict.fromkeys((0x0E4D, 0x0E4E, 0x0E46, 0x0E2F))  # ํ ๎ ๆ ฯ
_THAI_DIGITS = {0x0E50 + i: str(i) for i in range(10)}
_REPEAT = re.compile(r"(\D)\1{2,}")  # 3+ of the same non-digit: มากกกก → มาก, ถนน stays


def normalize_thai(text: str) -> str:
    """Canonical form for comparison: only letters and digits that say what the problem is.

    NFC; contact details, URLs and ``#1555``-style tags removed (they identify people or
    channels, not problems); polite particles and intake boilerplate ("ผู้ร้องแจ้งว่า",
    "ขอร้องเรียนเรื่อง") dropped; tone and other diacritic marks dropped after repairing
    ``ํา`` (nikhahit + sara aa, a common typing variant) to ``ำ``; Thai digits → ASCII;
    Latin case-folded; runs of 3+ identical characters collapsed; punctuation and spaces
    removed (Thai spacing is phrasing, not word boundaries).
    """
    text = unicodedata.normalize("NFC", text)
    for pattern in (_URL, _EMAIL, _PHONE, _TAG):
        text = pattern.sub(" ", text)
    text = _BOILERPLATE.sub(" ", _PARTICLES.sub(" ", text))
    text = text.translate(_TONES).replace("\u0e4d\u0e32", "\u0e33")
    text = text.translate(_OTHER_MARKS).translate(_THAI_DIGITS).casefold()
    text = _REPEAT.sub(r"\1", text)
    return "".join(ch for ch in text if ch.isalnum() or unicodedata.category(ch).startswith("M"))


def char_ngrams(text: str, n: int) -> frozenset[str]:
    """Character n-grams of ``text`` as given (normalise first); a shorter text is one gram."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if not text:
        return frozenset()
    if len(text) <= n:
        return frozenset((text,))
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


@lru_cache(maxsize=8192)
def _grams(text: str, n: int) -> frozenset[str]:
    """Normalised n-grams, cached: an open case is compared with many new complaints."""
    return char_ngrams(normalize_thai(text), n)


def _score(a: frozenset[str], b: frozenset[str]) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    common = len(a & b)
    dice = 2 * common / (len(a) + len(b))
    containment = common / min(len(a), len(b))
    return (dice + containment) / 2


def similarity(a: str, b: str, n: int = 3) -> float:
    """Text similarity in [0, 1], symmetric, 1.0 for texts equal after normalisation.

    The mean of Dice and containment (overlap coefficient) on character n-grams. Dice alone
    punishes the common Traffy pattern of one report naming two problems while the re-report
    names one of them; containment alone rates any short text inside a long one as a match.
    """
    return _score(_grams(a, n), _grams(b, n))


# --------------------------------------------------------------------------- place, category


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (spherical Earth: ~0.5 % error, fine at 150 m)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def same_family(cat_a: str, cat_b: str) -> bool:
    """Both categories known and in the same family; an unknown code never matches."""
    known = categories()
    if cat_a not in known or cat_b not in known:
        return False
    return known[cat_a].family == known[cat_b].family


def family_members(category: str) -> frozenset[str]:
    """Every category code in ``category``'s family (empty for an unknown code)."""
    known = categories()
    if category not in known:
        return frozenset()
    family = known[category].family
    return frozenset(code for code, c in known.items() if c.family == family)


# --------------------------------------------------------------------------- decision


def best_match(
    new: Candidate, candidates: Iterable[Candidate], policy: MatchPolicy = MatchPolicy()
) -> tuple[Candidate, float] | None:
    """The candidate ``new`` duplicates, with its similarity, or None.

    Every condition must hold; cheap ones are checked first. Ties: highest similarity, then
    nearest, then the most recently reported (the case most likely still being worked on),
    then the case id so the answer never depends on input order.
    """
    if new.lat is None or new.lon is None:
        return None
    new_grams = _grams(new.text, policy.ngram)
    if not new_grams:
        return None
    best: tuple[float, float, float, str, Candidate] | None = None
    for cand in candidates:
        if cand.lat is None or cand.lon is None:
            continue
        if abs(new.reported_at - cand.reported_at) > policy.max_age:
            continue
        if not same_family(new.category, cand.category):
            continue
        distance = haversine_m(new.lat, new.lon, cand.lat, cand.lon)
        if distance > policy.max_distance_m:
            continue
        score = _score(new_grams, _grams(cand.text, policy.ngram))
        if score < policy.min_similarity:
            continue
        # sort key: larger is better on every component
        key = (score, -distance, cand.reported_at.timestamp(), cand.case_id, cand)
        if best is None or key[:4] > best[:4]:
            best = key
    return None if best is None else (best[4], best[0])


# --------------------------------------------------------------------------- database


@lru_cache(maxsize=1)
def open_statuses() -> frozenset[str]:
    """Statuses a new complaint may join: not terminal, and not ``resolved`` either (a
    resolved case already answered the citizen; a new report of the problem is news)."""
    return frozenset(code for code, s in statuses().items() if not s.terminal) - {"resolved"}


def bounding_box(lat: float, lon: float, distance_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) enclosing a circle of ``distance_m`` round the
    point, with 1 % slack; an index-friendly prefilter before the exact haversine."""
    dlat = math.degrees(distance_m / EARTH_RADIUS_M) * 1.01
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(dlat / cos_lat, 180.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def case_text(subject: str | None, description: str | None) -> str:
    subject, description = (subject or "").strip(), (description or "").strip()
    if subject.rstrip("…") and description.startswith(subject.rstrip("…")):
        return description  # Traffy's subject is the description's first line
    return f"{subject}\n{description}".strip()


@lru_cache(maxsize=1)
def _candidates_query() -> Select[Any]:
    """The candidate query, built once with bound parameters (building a select costs more
    Python than running this one).

    The place comes first and alone, as a materialised CTE: the ``ix_cases_lat_lon`` index
    (migration 0008) finds the few unmerged cases inside the box, and only those are
    filtered by status, family and time. Left to itself PostgreSQL combined the box with
    the status index, whose open cases run to hundreds of thousands at national scale:
    94 ms per complaint at 1M cases, against about 1 ms this way (``bench/matching.py``).
    """
    in_box = and_(
        Case.lat.between(bindparam("min_lat"), bindparam("max_lat")),
        Case.lon.between(bindparam("min_lon"), bindparam("max_lon")),
    )
    near = (
        select(
            Case.id, Case.category, Case.lat, Case.lon, Case.opened_at, Case.summary, Case.status
        )
        .where(in_box, Case.merged_into.is_(None))
        .cte("near")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        select(
            near.c.id,
            near.c.category,
            near.c.lat,
            near.c.lon,
            near.c.opened_at,
            near.c.summary,
            Complaint.subject,
            Complaint.description,
        )
        .outerjoin(Complaint, Complaint.case_id == near.c.id)
        .where(
            near.c.status.in_(bindparam("statuses", expanding=True)),
            near.c.category.in_(bindparam("family", expanding=True)),
            near.c.opened_at.between(bindparam("since"), bindparam("until")),
        )
        .order_by(near.c.opened_at.desc(), near.c.id)
        .limit(bindparam("limit"))
    )


def find_duplicate(
    session: Session,
    *,
    category: str,
    lat: float | None,
    lon: float | None,
    reported_at: datetime,
    text: str,
    policy: MatchPolicy = MatchPolicy(),
    also: Iterable[Candidate] = (),
    prefetched: Sequence[Candidate] | None = None,
) -> str | None:
    """Id of the open case a new complaint should join, or None to open a new case.

    One bounded query: open, unmerged cases in the same category family, inside the
    bounding box and the time window, each with the text of each of its complaints (a case
    holding several complaints matches on its best one). The newest ``CANDIDATE_LIMIT`` rows
    are compared in Python by :func:`best_match`, the single place the rules live; ``also``
    adds cases a query cannot see yet (a batch's own, written at its commit);
    ``prefetched`` is this complaint's answer from :func:`candidates_many`, taken for a
    whole batch in one query (the database must not have changed since).
    """
    family = family_members(category)
    if lat is None or lon is None or not family or not normalize_thai(text):
        return None
    candidates = (
        list(prefetched)
        if prefetched is not None
        else _candidates(
            session.execute(
                _candidates_query(), _params(family, lat, lon, reported_at, policy)
            ).all(),
        )
    )
    new = Candidate("", category, lat, lon, reported_at, text)
    found = best_match(new, [*candidates, *also], policy)
    return None if found is None else found[0].case_id


def _params(
    family: frozenset[str], lat: float, lon: float, reported_at: datetime, policy: MatchPolicy
) -> dict[str, Any]:
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, policy.max_distance_m)
    return {
        "statuses": sorted(open_statuses()),
        "family": sorted(family),
        "min_lat": min_lat,
        "max_lat": max_lat,
        "min_lon": min_lon,
        "max_lon": max_lon,
        "since": reported_at - policy.max_age,
        "until": reported_at + policy.max_age,
        "limit": CANDIDATE_LIMIT,
    }


def _candidates(rows: Iterable[Any]) -> list[Candidate]:
    return [
        Candidate(
            case_id=row.id,
            category=row.category,
            lat=row.lat,
            lon=row.lon,
            reported_at=row.opened_at,
            text=(
                case_text(row.subject, row.description)
                if row.subject is not None or row.description is not None
                else row.summary or ""
            ),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Probe:
    """A new complaint to find candidates for, named by ``key`` (an origin record, say)."""

    key: Hashable
    category: str
    lat: float | None
    lon: float | None
    reported_at: datetime
    text: str


def candidates_many(
    session: Session, probes: Sequence[Probe], policy: MatchPolicy = MatchPolicy()
) -> dict[Hashable, list[Candidate]]:
    """What :func:`find_duplicate`'s own query would return for each probe, for many at once.

    PostgreSQL: one statement — the probes as arrays (``unnest``), each joined LATERAL to
    the same box-first candidate query, in the same order, with the same limit — instead of
    a round trip per complaint of a batch. Probes the matcher would not query for (no place,
    no text, unknown category) are left out; so is everything on other databases, where
    each complaint keeps its own query.
    """
    if session.get_bind().dialect.name != "postgresql":
        return {}
    todo: list[tuple[Probe, dict[str, Any]]] = []
    for p in probes:
        family = family_members(p.category)
        if p.lat is None or p.lon is None or not family or not normalize_thai(p.text):
            continue
        todo.append((p, _params(family, p.lat, p.lon, p.reported_at, policy)))
    found: dict[Hashable, list[Candidate]] = {p.key: [] for p, _ in todo}
    if not todo:
        return found
    rows = session.execute(
        _CANDIDATES_MANY,
        {
            "n": list(range(len(todo))),
            "min_lat": [q["min_lat"] for _, q in todo],
            "max_lat": [q["max_lat"] for _, q in todo],
            "min_lon": [q["min_lon"] for _, q in todo],
            "max_lon": [q["max_lon"] for _, q in todo],
            "since": [q["since"] for _, q in todo],
            "until": [q["until"] for _, q in todo],
            "family": [",".join(q["family"]) for _, q in todo],
            "statuses": sorted(open_statuses()),
            "limit": CANDIDATE_LIMIT,
        },
    ).all()
    by_probe: dict[int, list[Any]] = {}
    for row in rows:
        by_probe.setdefault(row.n, []).append(row)
    for n, (p, _) in enumerate(todo):
        found[p.key] = _candidates(by_probe.get(n, []))
    return found


# The same query as _candidates_query, per probe: ``OFFSET 0`` fences the box off as the
# MATERIALIZED CTE does there (the place first, through ix_cases_lat_lon), and category
# codes (snake_case, no commas) travel as one comma-joined string per probe.
_CANDIDATES_MANY = text(
    """
SELECT p.n, c.id, c.category, c.lat, c.lon, c.opened_at, c.summary, c.subject, c.description
FROM unnest(
    CAST(:n AS integer[]), CAST(:min_lat AS float8[]), CAST(:max_lat AS float8[]),
    CAST(:min_lon AS float8[]), CAST(:max_lon AS float8[]),
    CAST(:since AS timestamptz[]), CAST(:until AS timestamptz[]), CAST(:family AS text[])
) AS p(n, min_lat, max_lat, min_lon, max_lon, since, until, family)
CROSS JOIN LATERAL (
    SELECT near.id, near.category, near.lat, near.lon, near.opened_at, near.summary,
           complaints.subject, complaints.description
    FROM (
        SELECT cases.id, cases.category, cases.lat, cases.lon, cases.opened_at,
               cases.summary, cases.status
        FROM cases
        WHERE cases.lat BETWEEN p.min_lat AND p.max_lat
          AND cases.lon BETWEEN p.min_lon AND p.max_lon
          AND cases.merged_into IS NULL
        OFFSET 0
    ) AS near
    LEFT OUTER JOIN complaints ON complaints.case_id = near.id
    WHERE near.status = ANY(CAST(:statuses AS text[]))
      AND near.category = ANY(string_to_array(p.family, ','))
      AND near.opened_at BETWEEN p.since AND p.until
    ORDER BY near.opened_at DESC, near.id
    LIMIT :limit
) AS c
ORDER BY p.n
"""
).columns(
    n=Integer,
    id=Case.id.type,
    category=Case.category.type,
    lat=Case.lat.type,
    lon=Case.lon.type,
    opened_at=Case.opened_at.type,  # UTCDateTime: the same values the ORM query gives
    summary=Case.summary.type,
    subject=Complaint.subject.type,
    description=Complaint.description.type,
)

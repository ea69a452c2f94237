"""Duplicate matcher quality and speed: precision/recall on the labelled set, and time per match.

Run: ``.venv/bin/python bench/matching.py`` (a few seconds). Prints

1. precision, recall, F1 and the confusion counts of the default :class:`MatchPolicy` on
   ``tests/fixtures/duplicates/pairs.jsonl`` — on all pairs, on the ``dev`` and ``test``
   halves (defaults were tuned looking at ``dev``), and on the *text-decided* pairs only
   (both records pass the family/distance/time gates, so only text similarity decides:
   the honest figure for the text part of the matcher);
2. a small sweep of ``min_similarity`` and ``max_distance_m``;
3. the time to match one new complaint against 10,000 synthetic open cases in memory;
4. with ``HUB_DATABASE_URL`` set to a loaded database (``bench/index.py --keep`` leaves a
   million cases in ``hub_bench_index``): the time of :func:`hub.matching.find_duplicate`
   (the candidate query plus the comparison) for new complaints placed near existing cases,
   beside a primary-key lookup in the same session (the floor) and their ratio. The
   database is only read; ``--lookups N`` sets how many (default 300).

Like every benchmark here it prints figures and asserts nothing (see bench/README.md); the
quality floors are asserted by ``tests/unit/test_matching.py``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # a script: the repo root holds hub/
    sys.path.insert(0, str(ROOT))

from hub.matching import (  # noqa: E402
    Candidate,
    MatchPolicy,
    best_match,
    haversine_m,
    same_family,
)
from hub.vocab import categories  # noqa: E402

PAIRS = ROOT / "tests/fixtures/duplicates/pairs.jsonl"


def load_pairs(path: Path = PAIRS) -> list[dict[str, Any]]:
    """The labelled pairs, one JSON object a line."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def candidate(record: dict[str, Any], case_id: str) -> Candidate:
    """A pair record (base or variant) as a matcher candidate."""
    return Candidate(
        case_id=case_id,
        category=record["category"],
        lat=record["lat"],
        lon=record["lon"],
        reported_at=datetime.fromisoformat(record["reported_at"]),
        text=record["text"],
    )


def predict(pair: dict[str, Any], policy: MatchPolicy) -> bool:
    """Would the variant join the base's case?"""
    base = candidate(pair["base"], "case:base")
    return best_match(candidate(pair["variant"], "new"), [base], policy) is not None


def gated(pair: dict[str, Any], policy: MatchPolicy) -> bool:
    """Both records pass the family, distance and time gates: only the text decides."""
    b, v = pair["base"], pair["variant"]
    when = abs(datetime.fromisoformat(b["reported_at"]) - datetime.fromisoformat(v["reported_at"]))
    return (
        same_family(b["category"], v["category"])
        and haversine_m(b["lat"], b["lon"], v["lat"], v["lon"]) <= policy.max_distance_m
        and when <= policy.max_age
    )


@dataclass(frozen=True)
class Scores:
    """Confusion counts and the figures derived from them."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} "
            f"(tp={self.tp} fp={self.fp} tn={self.tn} fn={self.fn}, "
            f"n={self.tp + self.fp + self.tn + self.fn})"
        )


def evaluate(pairs: Iterable[dict[str, Any]], policy: MatchPolicy) -> Scores:
    """Confusion counts of ``policy`` over ``pairs`` (one decision per pair)."""
    tp = fp = tn = fn = 0
    for pair in pairs:
        got, want = predict(pair, policy), bool(pair["label"])
        tp += got and want
        fp += got and not want
        tn += not got and not want
        fn += not got and want
    return Scores(tp, fp, tn, fn)


def errors(pairs: Iterable[dict[str, Any]], policy: MatchPolicy) -> list[dict[str, Any]]:
    """Pairs the policy gets wrong (to read, not to tune on blindly)."""
    return [p for p in pairs if predict(p, policy) != bool(p["label"])]


# --------------------------------------------------------------------------- speed

_PHRASES = [
    "ถนนชำรุดเป็นหลุมลึก รถสัญจรลำบาก",
    "ท่อระบายน้ำอุดตัน ส่งกลิ่นเหม็น",
    "มีขยะกองอยู่ริมถนนหลายวัน",
    "ไฟส่องสว่างดับหลายต้น ถนนมืดมาก",
    "ทางเท้าชำรุด กระเบื้องแตกหลายแผ่น",
    "สายสื่อสารขาดห้อยลงมาถึงพื้น",
    "ต้นไม้ล้มขวางทางเดิน",
    "มีเสียงดังจากการก่อสร้างในเวลากลางคืน",
]


def synthetic_cases(n: int, rng: random.Random, now: datetime) -> list[Candidate]:
    """``n`` open cases spread over greater Bangkok (~40 x 40 km), the last 14 days."""
    codes = sorted(categories())
    return [
        Candidate(
            case_id=f"case:{i}",
            category=rng.choice(codes),
            lat=rng.uniform(13.55, 13.95),
            lon=rng.uniform(100.30, 100.90),
            reported_at=now - timedelta(minutes=rng.uniform(0, 14 * 24 * 60)),
            text=f"{rng.choice(_PHRASES)} {rng.choice(_PHRASES)} ซอย {rng.randint(1, 200)}",
        )
        for i in range(n)
    ]


def time_per_match(
    n_cases: int = 10_000, n_queries: int = 300, seed: int = 7
) -> tuple[float, float]:
    """(median, p95) seconds for one ``best_match`` of a new complaint over ``n_cases``."""
    rng = random.Random(seed)
    now = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)
    cases = synthetic_cases(n_cases, rng, now)
    timings: list[float] = []
    policy = MatchPolicy()
    for q in range(n_queries):
        near = cases[rng.randrange(n_cases)]
        new = Candidate(
            case_id=f"new:{q}",
            category=near.category,
            lat=(near.lat or 0) + rng.uniform(-0.0008, 0.0008),
            lon=(near.lon or 0) + rng.uniform(-0.0008, 0.0008),
            reported_at=now,
            text=rng.choice(_PHRASES),
        )
        start = time.perf_counter()
        best_match(new, cases, policy)
        timings.append(time.perf_counter() - start)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def time_lookups(database_url: str, n: int, seed: int = 7) -> None:
    """Print p50/p95 of ``find_duplicate`` on a real database next to a primary-key lookup."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from hub.db import make_engine
    from hub.matching import find_duplicate
    from hub.models import Case

    rng = random.Random(seed)
    with Session(make_engine(database_url)) as session:
        total = session.scalar(select(func.count()).select_from(Case)) or 0
        if total == 0:
            print("lookup: the database holds no cases; load one with bench/index.py")
            return
        newest = session.scalar(select(func.max(Case.opened_at)))
        near = session.execute(
            select(Case.id, Case.category, Case.lat, Case.lon)
            .where(Case.lat.is_not(None))
            .order_by(Case.opened_at.desc())
            .limit(20 * n)
        ).all()
        picks = [near[rng.randrange(len(near))] for _ in range(n)]
        lookups: list[float] = []
        floors: list[float] = []
        for i, row in enumerate(picks):
            start = time.perf_counter()
            session.get(Case, row.id, populate_existing=True)
            floors.append(time.perf_counter() - start)
            start = time.perf_counter()
            find_duplicate(
                session,
                category=row.category,
                lat=row.lat + rng.uniform(-0.0005, 0.0005),
                lon=row.lon + rng.uniform(-0.0005, 0.0005),
                reported_at=newest,
                text=rng.choice(_PHRASES) + f" {i}",
            )
            lookups.append(time.perf_counter() - start)
    lookups.sort()
    floors.sort()
    p50, p95 = statistics.median(lookups), lookups[int(0.95 * (len(lookups) - 1))]
    floor = statistics.median(floors)
    print(
        f"lookup: find_duplicate on {total:,} cases ({make_engine(database_url).dialect.name}):"
        f" p50 {p50 * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms; primary-key lookup p50"
        f" {floor * 1e3:.2f} ms; ratio p50/floor {p50 / floor:.1f}"
    )


def main() -> None:
    pairs = load_pairs()
    policy = MatchPolicy()
    positives = sum(p["label"] for p in pairs)
    print(
        f"labelled set: {len(pairs)} pairs, {positives} positive, {len(pairs) - positives} negative"
    )
    print(
        f"default policy: min_similarity={policy.min_similarity} "
        f"max_distance_m={policy.max_distance_m} max_age={policy.max_age} ngram={policy.ngram}"
    )
    subsets = {
        "all": pairs,
        "dev": [p for p in pairs if p["split"] == "dev"],
        "test": [p for p in pairs if p["split"] == "test"],
        "text-decided": [p for p in pairs if gated(p, policy)],
    }
    for name, subset in subsets.items():
        print(f"  {name:<13} {evaluate(subset, policy).line()}")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        by_kind.setdefault(p["kind"], []).append(p)
    print("per kind (correct / total):")
    for kind, subset in sorted(by_kind.items()):
        right = sum(predict(p, policy) == bool(p["label"]) for p in subset)
        print(f"  {kind:<27} {right}/{len(subset)}")
    print("errors of the default policy:")
    for p in errors(pairs, policy):
        want = "missed duplicate" if p["label"] else "false match"
        print(f"  {p['id']:<18} {want}: {p['base']['text'][:40]!r} ~ {p['variant']['text'][:40]!r}")

    print("sweep of min_similarity (all pairs | dev | text-decided):")
    for threshold in (0.10, 0.15, 0.18, 0.20, 0.22, 0.25, 0.30, 0.35, 0.40):
        swept = replace(policy, min_similarity=threshold)
        print(
            f"  {threshold:.2f}  {evaluate(pairs, swept).line()}\n"
            f"        dev {evaluate(subsets['dev'], swept).line()}\n"
            f"        txt {evaluate(subsets['text-decided'], swept).line()}"
        )
    print("sweep of max_distance_m (all pairs):")
    for distance in (50.0, 100.0, 150.0, 200.0, 300.0):
        scores = evaluate(pairs, replace(policy, max_distance_m=distance))
        print(f"  {distance:>5.0f} m {scores.line()}")
    print("sweep of ngram (all pairs):")
    for n in (2, 3, 4):
        print(f"  n={n}  {evaluate(pairs, replace(policy, ngram=n)).line()}")

    median, p95 = time_per_match()
    print(
        f"speed: one new complaint vs 10,000 open cases in memory: "
        f"median {median * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms"
    )
    url = os.environ.get("HUB_DATABASE_URL")
    if url:
        n = int(sys.argv[sys.argv.index("--lookups") + 1]) if "--lookups" in sys.argv else 300
        time_lookups(url, n)
    else:
        print("lookup: set HUB_DATABASE_URL to a loaded database to time find_duplicate")


if __name__ == "__main__":
    main()

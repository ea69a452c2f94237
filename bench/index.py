"""The national index at scale: synthetic complaints shaped like real Traffy rows, loaded
into the real schema, and the oversight queries timed through ``hub.index``.

    psql -h 127.0.0.1 -U postgres -c "create database hub_bench_index"      # or let it
    HUB_DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/hub_bench_index \\
        .venv/bin/python bench/index.py [--rows N] [--keep] [--reps R] [--no-http]

The database named by HUB_DATABASE_URL is EMPTIED (``downgrade base``, ``upgrade head``: the
hub's own Alembic migrations) and loaded with ``--rows`` complaints (default 1,000,000) and
their cases; ``--keep`` reuses a database a previous run loaded. A missing PostgreSQL bench
database is created. Unset, a temp SQLite file is used (PostgreSQL figures are the ones
that count).

Where the numbers come from (all fitted at start from the adapter's copy of the real rows,
``adapters/traffy_fondue/fixtures/bangkok_sample.csv``, mapped through the adapter's own
tables, so nothing reads ``/work/shared`` at run time):

* categories: the sample's Traffy types mapped to hub categories, plus a thin tail over the
  whole vocabulary; complaints from 1111 / Damrongdhama lean to desk categories;
* areas: Bangkok tambons at the sample's frequencies (Bangkok holds most Traffy tickets),
  then a long tail over every valid DOPA tambon of ``schemas/vocab/areas.json``;
* states: the sample's mix for recent cases (a snapshot taken hours after reporting) drifting
  to the whole-Bangkok-dataset mix the sample's README gives for old ones;
* times to accept and to resolve: log-normal fits to the sample's in-progress and finished
  rows, plus a slow tail (the sample is a 30-hour window and cannot show multi-day fixes);
* handoff trails (agencies per case), star ratings, channels (Traffy vs the 1555 centre),
  the hour of day, and Thai text assembled from the sample's comment phrases, street names
  from its addresses and tambon names, with the sample's share of planted (fake) contacts.

Queries (each ``--reps`` times, parameters varied by a seeded RNG, warm): filtered count,
first page of a filtered search, Thai text search, a deep page through the cursor, stats by
province × category, backlog/agency timing stats (approximate times, the default; and the
same calls with exact percentiles, timed as a reference outside the target), the map at
province level, an agency's own view, a case with its timeline, and a 10k-row export
(rows/s, peak RSS). One query also goes
through the real HTTP API with a real bearer token. Each p95 is compared with the machine's
own floor measured in the same run (a primary-key lookup through the same ORM session);
queries over the ``--target-ms`` target get their ``EXPLAIN (ANALYZE, BUFFERS)`` printed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import queue
import random
import re
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:  # a script, and importable by the smoke test
    sys.path.insert(0, str(BENCH))

from _common import (  # noqa: E402
    ROOT,
    cpu_count,
    database_url_from_env,
    hub_env,
    hub_server,
    is_postgres,
    median,
    percentile,
    recorded_statements,
    reset_database,
    warn_unless_postgres,
)

SOURCE_CSV = ROOT / "adapters" / "traffy_fondue" / "fixtures" / "bangkok_sample.csv"
BANGKOK_TZ = ZoneInfo("Asia/Bangkok")
DAY = 86400.0
TABLES = ("agencies", "cases", "complaints", "case_parties", "case_events")
FOLDED = ("case_facts", "index_cube", "complaint_texts", "index_parties")
"""Tables ``hub.index_facts.rebuild`` fills after the COPY (the index's fast path)."""
OPEN = ("offered", "accepted", "in_progress", "forwarded", "reopened")

# Whole Bangkok Traffy dataset by machine state (the sample's README): what old tickets become.
DATASET_STATES = {
    "finish": 1_176_948,
    "forward": 119_690,
    "inprogress": 89_246,
    "follow": 43_274,
    "irrelevant": 25_477,
    "start": 2_345,
}
TRAFFY_STATE_TYPE = {  # machine state type -> the generator's lifecycle kind
    "finish": "finish",
    "forward": "forward",
    "inprogress": "work",
    "follow": "work",
    "irrelevant": "irrelevant",
    "start": "waiting",
}
STATUS_KIND = {  # hub status of a sample row -> lifecycle kind
    "offered": "waiting",
    "accepted": "work",
    "in_progress": "work",
    "forwarded": "forward",
    "resolved": "finish",
    "rejected": "irrelevant",
}
BANGKOK_SHARE = 0.40  # of all complaints; Traffy's national data is mostly Bangkok
DESK_CATEGORIES = {  # what 1111 / Damrongdhama / ministries hear beside street problems
    "general_complaint": 30,
    "enquiry": 15,
    "help_request": 15,
    "other": 12,
    "consumer_protection": 10,
    "corruption": 8,
    "suggestion": 8,
    "compliment": 2,
}
OUTCOMES = {
    "fixed": 70,
    "answered": 10,
    "no_fault_found": 4,
    "partially_fixed": 5,
    "planned": 5,
    "referred_outside": 3,
    "not_actionable": 3,
}
SUMMARIES = (
    "ดำเนินการแก้ไขเรียบร้อยแล้ว",
    "เจ้าหน้าที่ลงพื้นที่ตรวจสอบและแก้ไขแล้ว",
    "ประสานหน่วยงานที่เกี่ยวข้องดำเนินการแล้ว",
    "ซ่อมแซมเสร็จสิ้น ขอบคุณที่แจ้ง",
    "ตอบคำถามผู้ร้องเรียบร้อยแล้ว",
)
# Province centroids (lat, lon) and equal-area radius in degrees, from the OCHA/HDX outlines
# (Royal Thai Survey Department 2019, CC BY-IGO) as simplified in piyayut-ch/mapthai (MIT):
# only where synthetic points go, never shown.
CENTROIDS: dict[str, tuple[float, float, float]] = {
    "10": (13.766, 100.629, 0.21), "11": (13.593, 100.714, 0.15), "12": (13.926, 100.393, 0.13),
    "13": (14.069, 100.695, 0.2), "14": (14.338, 100.52, 0.26), "15": (14.615, 100.35, 0.16),
    "16": (15.107, 100.903, 0.42), "17": (14.91, 100.34, 0.15), "18": (15.133, 100.039, 0.26),
    "19": (14.626, 101.019, 0.31), "20": (13.206, 101.205, 0.34), "21": (12.856, 101.423, 0.31),
    "22": (12.885, 102.131, 0.42), "23": (12.345, 102.516, 0.27), "24": (13.608, 101.433, 0.37),
    "25": (14.05, 101.66, 0.36), "26": (14.213, 101.177, 0.24), "27": (13.791, 102.327, 0.42),
    "30": (14.957, 102.111, 0.74), "31": (14.811, 102.951, 0.51), "32": (14.888, 103.655, 0.49),
    "33": (14.849, 104.377, 0.49), "34": (15.195, 105.11, 0.64), "35": (15.897, 104.337, 0.33),
    "36": (16.032, 101.821, 0.58), "37": (15.907, 104.742, 0.29), "38": (18.149, 103.727, 0.33),
    "39": (17.184, 102.308, 0.33), "40": (16.408, 102.574, 0.53), "41": (17.419, 102.869, 0.55),
    "42": (17.407, 101.631, 0.54), "43": (17.943, 102.837, 0.31), "44": (15.991, 103.167, 0.4),
    "45": (15.925, 103.821, 0.46), "46": (16.625, 103.613, 0.42), "47": (17.386, 103.827, 0.51),
    "48": (17.388, 104.432, 0.38), "49": (16.568, 104.51, 0.34), "50": (18.798, 98.729, 0.78),
    "51": (18.112, 98.953, 0.35), "52": (18.326, 99.511, 0.59), "53": (17.751, 100.517, 0.46),
    "54": (18.191, 100.068, 0.42), "55": (18.848, 100.835, 0.57), "56": (19.227, 100.194, 0.41),
    "57": (19.845, 99.869, 0.56), "58": (18.82, 98.031, 0.58), "60": (15.687, 100.148, 0.51),
    "61": (15.346, 99.477, 0.42), "62": (16.327, 99.533, 0.47), "63": (16.714, 98.79, 0.68),
    "64": (17.247, 99.71, 0.43), "65": (16.98, 100.541, 0.53), "66": (16.267, 100.335, 0.34),
    "67": (16.275, 101.146, 0.58), "70": (13.532, 99.573, 0.37), "71": (14.593, 99.043, 0.72),
    "72": (14.619, 99.888, 0.38), "73": (13.925, 100.096, 0.24), "74": (13.568, 100.21, 0.16),
    "75": (13.411, 99.964, 0.1), "76": (12.946, 99.621, 0.41), "77": (11.951, 99.637, 0.41),
    "80": (8.378, 99.784, 0.51), "81": (8.186, 99.011, 0.34), "82": (8.667, 98.419, 0.31),
    "83": (7.969, 98.348, 0.12), "84": (9.038, 99.08, 0.59), "85": (9.956, 98.699, 0.3),
    "86": (10.349, 99.065, 0.4), "90": (6.929, 100.556, 0.45), "91": (6.86, 99.951, 0.27),
    "92": (7.556, 99.592, 0.35), "93": (7.513, 100.071, 0.32), "94": (6.727, 101.352, 0.23),
    "95": (6.179, 101.229, 0.34), "96": (6.17, 101.718, 0.35),
}  # fmt: skip


# --------------------------------------------------------------------------- fitting the source


@dataclass
class Source:
    """What the real rows say, counted once; the generator samples from these."""

    rows: int
    categories: Counter[str]
    tambons: Counter[str]  # DOPA tambon codes of the rows (Bangkok)
    kinds: Counter[str]  # lifecycle kind (waiting, work, finish, ...) of the rows
    channels: Counter[str]
    trail_lengths: Counter[int]  # agencies in the handoff trail
    stars: Counter[int]  # ratings given, 1..5
    rated: float  # share of finished rows with a rating
    reopened: float  # share of rows reopened at least once
    hours: Counter[int]  # Bangkok local hour of reporting
    accept_hours: list[float]  # in-progress rows: report -> last activity
    resolve_hours: list[float]  # finished rows: report -> last activity
    phrases: list[str]  # comment phrases (no digits, no contact)
    phrases_by_category: dict[str, list[str]]
    phrase_counts: Counter[int]  # phrases per comment
    contact_share: float  # rows whose comment carries (fake) contact details
    streets: list[str]  # ซอย/ถนน names from the addresses
    points: dict[str, list[tuple[float, float]]]  # tambon -> sample coordinates


_CONTACT = re.compile(r"\d{3}|@")
_STREET = re.compile(r"((?:ซอย|ซ\.|ถนน|ถ\.)\s*[^\s\d,]+)")


def fit_source(path: Path = SOURCE_CSV) -> Source:
    """Count the real rows through the adapter's own mapping (categories, states, areas)."""
    from adapters.traffy_fondue.mapping import (
        hub_status,
        row_to_complaint,
        split_organizations,
    )

    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    src = Source(
        rows=len(rows),
        categories=Counter(),
        tambons=Counter(),
        kinds=Counter(),
        channels=Counter(),
        trail_lengths=Counter(),
        stars=Counter(),
        rated=0.0,
        reopened=0.0,
        hours=Counter(),
        accept_hours=[],
        resolve_hours=[],
        phrases=[],
        phrases_by_category=defaultdict(list),
        phrase_counts=Counter(),
        contact_share=0.0,
        streets=[],
        points=defaultdict(list),
    )
    finished = rated = reopened = contacts = 0
    phrases: Counter[str] = Counter()
    streets: Counter[str] = Counter()
    for row in rows:
        complaint = row_to_complaint(row)
        cat, loc = complaint["category"], complaint["location"]
        src.categories[cat] += 1
        src.tambons[loc["tambon_code"]] += 1
        src.points[loc["tambon_code"]].append((loc["lat"], loc["lon"]))
        src.channels[complaint["channel"]] += 1
        kind = STATUS_KIND[hub_status(row["state"])]
        src.kinds[kind] += 1
        src.trail_lengths[max(1, len(split_organizations(row["organization"])))] += 1
        reported = datetime.fromisoformat(row["timestamp"])
        last = datetime.fromisoformat(row["last_activity"])
        src.hours[reported.astimezone(BANGKOK_TZ).hour] += 1
        hours = max(0.01, (last - reported).total_seconds() / 3600)
        if kind == "work":
            src.accept_hours.append(hours)
        elif kind == "finish":
            src.resolve_hours.append(hours)
            finished += 1
        if row["star"].strip():
            src.stars[int(row["star"])] += 1
            rated += kind == "finish"
        reopened += int(row["count_reopen"] or 0) > 0
        comment = row["comment"].strip()
        lines = comment.splitlines()
        contacts += any(_CONTACT.search(line) for line in lines[1:])
        body = lines[0].removesuffix("#1555").strip()
        words = [w for w in body.split() if not _CONTACT.search(w)]
        src.phrase_counts[max(1, len(words))] += 1
        for w in words:
            phrases[w] += 1
            if w not in src.phrases_by_category[cat]:
                src.phrases_by_category[cat].append(w)
        for street in _STREET.findall(row["address"]):
            streets[re.sub(r"\s+", " ", street).strip()] += 1
    src.phrases = sorted(phrases, key=lambda p: (-phrases[p], p))
    src.streets = sorted(streets, key=lambda s: (-streets[s], s))
    src.rated = rated / max(1, finished)
    src.reopened = reopened / max(1, len(rows))
    src.contact_share = contacts / max(1, len(rows))
    src.phrases_by_category = dict(src.phrases_by_category)
    src.points = dict(src.points)
    return src


# --------------------------------------------------------------------------- sampling helpers


class Pick:
    """Weighted choice by bisection over cumulative weights (``random.choices`` without the
    per-call list)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, weights: dict[Any, float] | Iterable[tuple[Any, float]]) -> None:
        pairs = list(weights.items() if isinstance(weights, dict) else weights)
        pairs = [(k, w) for k, w in pairs if w > 0]
        if not pairs:
            raise ValueError("nothing to pick from")
        self.items = [k for k, _ in pairs]
        self.cum: list[float] = []
        total = 0.0
        for _, w in pairs:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, rng: random.Random) -> Any:
        return self.items[bisect_right(self.cum, rng.random() * self.total)]

    def share(self, item: Any) -> float:
        i = self.items.index(item)
        return (self.cum[i] - (self.cum[i - 1] if i else 0.0)) / self.total


def lognormal_fit(values: Sequence[float]) -> tuple[float, float]:
    """(mu, sigma) of log values; a single value or none gives a wide default."""
    logs = [math.log(v) for v in values if v > 0]
    if len(logs) < 2:
        return (math.log(logs[0]) if logs else 0.0), 1.0
    mu = sum(logs) / len(logs)
    sd = math.sqrt(sum((x - mu) ** 2 for x in logs) / (len(logs) - 1))
    return mu, max(0.3, sd)


_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_B32_PAIRS = [x + y for x in _B32 for y in _B32]  # 10 bits at a time


def b32(value: int, width: int) -> str:
    """``value`` as ``width`` Crockford base-32 digits (ULIDs, tracking codes, refs)."""
    pairs = (width + 1) // 2
    text = "".join([_B32_PAIRS[(value >> (10 * k)) & 1023] for k in range(pairs - 1, -1, -1)])
    return text[-width:] if width % 2 else text


def ulid_at(ms: int, rng: random.Random) -> str:
    """A ULID (time-ordered, like ``hub.ids``) from a seeded RNG: reproducible runs."""
    return b32(ms, 10) + b32(rng.getrandbits(80), 16)


def scramble(i: int, bits: int, odd: int) -> int:
    """A bijection of 0..2**bits-1: unique, random-looking codes from a counter."""
    return (i * odd + 0x2545F491) % (1 << bits)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class AgencyRow:
    code: str
    kind: str
    name_th: str
    name_en: str
    areas: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("submit", "receive")


OVERSIGHT = "bench-oversight"


class Model:
    """Everything the generator draws from: fitted weights, areas, agencies, the clock."""

    def __init__(self, source: Source, *, now: datetime, years: float = 3.0) -> None:
        from hub import sla, vocab

        self.source = source
        self.now = now
        self.span = years * 365 * DAY
        self.start = now - timedelta(seconds=self.span)
        data = vocab.load_json("vocab/areas.json")
        rows = [dict(zip(data["columns"], r, strict=True)) for r in data["rows"]]
        live = [r for r in rows if not r["abolished"]]
        self.areas = {r["code"]: Area(r["code"], r["name_th"], r["parent"]) for r in rows}
        self.provinces = sorted(r["code"] for r in live if len(r["code"]) == 2)
        self.amphoes = sorted(r["code"] for r in live if len(r["code"]) == 4)
        tambons = sorted(r["code"] for r in live if len(r["code"]) == 6)
        self.amphoes_of: dict[str, list[str]] = defaultdict(list)
        for a in self.amphoes:
            self.amphoes_of[a[:2]].append(a)
        self.categories = sorted(vocab.categories())
        self.deadlines = {
            (c, p): sla.deadlines(c, p) for c in self.categories for p in sla_priorities()
        }
        self.forward_accept = sla.forward_accept()

        # categories: the sample's, a thin tail over the vocabulary; desk channels lean to
        # desk categories
        cats = {c: source.categories.get(c, 0) + 0.3 for c in self.categories}
        self.traffy_category = Pick(cats)
        desk = {c: 0.6 * w / sum(cats.values()) for c, w in cats.items() if c != "uncategorised"}
        desk_total = sum(DESK_CATEGORIES.values())
        for c, w in DESK_CATEGORIES.items():
            desk[c] = desk.get(c, 0.0) + 0.4 * w / desk_total
        self.desk_category = Pick(desk)

        # areas: Bangkok from the sample plus its tail, the rest by tambon count and skew
        by_province: dict[str, list[str]] = defaultdict(list)
        for t in tambons:
            by_province[t[:2]].append(t)
        rng = random.Random(20231)  # fixed: the shape of the country, not of a run
        weights: dict[str, float] = {}
        bkk = by_province["10"]
        seen = sum(source.tambons[t] for t in bkk)
        for t in bkk:
            weights[t] = BANGKOK_SHARE * (0.7 * source.tambons[t] / max(1, seen) + 0.3 / len(bkk))
        others = [p for p in self.provinces if p != "10"]
        rest = sum(len(by_province[p]) for p in others)
        for p in others:
            ts = list(by_province[p])
            rng.shuffle(ts)
            skew = {t: (1 + i) ** -0.7 * (3.0 if t[2:4] == "01" else 1.0) for i, t in enumerate(ts)}
            total = sum(skew.values())
            share = (1 - BANGKOK_SHARE) * len(ts) / rest
            for t in ts:
                weights[t] = share * skew[t] / total
        self.tambon = Pick(weights)
        self.points = self._points(tambons, rng)

        # time: growth over the span (density 1 + 2t), the sample's hours of the day
        self.hour = Pick({h: source.hours.get(h, 0) + 1.0 for h in range(24)})
        self.accept_fit = lognormal_fit(source.accept_hours)
        self.resolve_fit = lognormal_fit(source.resolve_hours)
        recent = Counter(source.kinds)
        old: Counter[str] = Counter()
        for state, n in DATASET_STATES.items():
            old[TRAFFY_STATE_TYPE[state]] += n
        kinds = ("waiting", "work", "finish", "forward", "irrelevant")
        self.recent_mix = [recent[k] / sum(recent.values()) for k in kinds]
        self.old_mix = [old[k] / sum(old.values()) for k in kinds]
        self.kinds = kinds
        self.trail = Pick({n: c for n, c in source.trail_lengths.items()})
        self.trail_forward = Pick(
            {n: c for n, c in source.trail_lengths.items() if n >= 2} or {2: 1}
        )
        self.star = Pick({s: source.stars.get(s, 0) + 0.5 for s in range(1, 6)})
        self.rated = source.rated
        self.reopened = max(source.reopened, 0.02)  # 0 of 200 in the sample: under ~1.5 %
        self.bkk_channel = Pick(source.channels)
        self.phrase_count = Pick(source.phrase_counts)
        self.outcome = Pick(OUTCOMES)
        self.agencies = self._agencies()
        self.locals_of = {
            p: [self.local(a) for a in self.amphoes_of[p] if self.local(a) in self.agencies]
            for p in self.provinces
        }

    # -- geography

    def _points(self, tambons: list[str], rng: random.Random) -> dict[str, tuple[float, float]]:
        """A point per tambon: the sample's mean where seen, else inside its province."""
        seen = {
            t: (sum(p[0] for p in ps) / len(ps), sum(p[1] for p in ps) / len(ps))
            for t, ps in self.source.points.items()
        }
        out: dict[str, tuple[float, float]] = {}
        for t in tambons:
            if t in seen:
                out[t] = seen[t]
                continue
            lat, lon, r = CENTROIDS.get(t[:2], CENTROIDS["10"])
            angle, dist = rng.random() * 2 * math.pi, r * 0.8 * math.sqrt(rng.random())
            out[t] = (lat + dist * math.sin(angle), lon + dist * math.cos(angle))
        return out

    # -- agencies

    def name(self, code: str) -> str:
        area = self.areas.get(code)
        return area.name if area else code

    def _agencies(self) -> dict[str, AgencyRow]:
        rows = [
            AgencyRow("hub-admin", "hub", "ผู้ดูแลระบบศูนย์แลกเปลี่ยน", "Hub operator", (), (),
                      ("admin", "oversight")),
            AgencyRow(OVERSIGHT, "oversight", "สำนักงานตรวจการแผ่นดิน (ทดสอบ)",
                      "Ombudsman (benchmark analyst)", ("TH",), (), ("oversight",)),
            AgencyRow("opm1111", "hotline", "ศูนย์บริการประชาชน 1111",
                      "1111 Government Contact Center", ("TH",), (),
                      ("submit", "receive", "oversight")),
            AgencyRow("open311", "hub", "Open311 (ศูนย์แลกเปลี่ยน)", "Open311 facade", ("TH",)),
            AgencyRow("bma", "local_government", "กรุงเทพมหานคร (Traffy Fondue)",
                      "Bangkok Metropolitan Administration (Traffy Fondue)", ("10",)),
            AgencyRow("bma-works", "local_government", "สำนักการโยธา กทม.",
                      "BMA Public Works Department", ("10",), ("road", "footpath", "bridge")),
            AgencyRow("mwa", "state_enterprise", "การประปานครหลวง",
                      "Metropolitan Waterworks Authority", ("10", "11", "12"),
                      ("water_supply",)),
            AgencyRow("mea", "state_enterprise", "การไฟฟ้านครหลวง",
                      "Metropolitan Electricity Authority", ("10", "11", "12"),
                      ("electricity", "overhead_cables")),
            AgencyRow("pwa", "state_enterprise", "การประปาส่วนภูมิภาค",
                      "Provincial Waterworks Authority", ("TH",), ("water_supply",)),
            AgencyRow("pea", "state_enterprise", "การไฟฟ้าส่วนภูมิภาค",
                      "Provincial Electricity Authority", ("TH",),
                      ("electricity", "overhead_cables")),
            AgencyRow("moi", "ministry", "กระทรวงมหาดไทย", "Ministry of Interior", ("TH",)),
            AgencyRow("moph", "ministry", "กระทรวงสาธารณสุข", "Ministry of Public Health",
                      ("TH",)),
        ]  # fmt: skip
        for p in self.provinces:
            pname = self.name(p)
            rows.append(
                AgencyRow(f"dc-{p}", "damrongdhama_centre", f"ศูนย์ดำรงธรรมจังหวัด{pname}",
                          f"Damrongdhama Centre {p}", (p,))
            )  # fmt: skip
            rows.append(
                AgencyRow(f"pao-{p}", "local_government", f"องค์การบริหารส่วนจังหวัด{pname}",
                          f"Provincial Administrative Organisation {p}", (p,))
            )  # fmt: skip
            if p != "10":
                rows.append(
                    AgencyRow(f"traffy-{p}", "local_government",
                              f"ท้องถิ่นจังหวัด{pname} (Traffy Fondue)",
                              f"Traffy Fondue deployment {p}", (p,))
                )  # fmt: skip
        for a in self.amphoes:
            aname = self.name(a)
            if a.startswith("10"):
                rows.append(AgencyRow(f"khet-{a}", "local_government", f"สำนักงาน{aname}",
                                      f"District Office {a}", (a,)))  # fmt: skip
            else:
                rows.append(AgencyRow(f"lg-{a}", "local_government", f"เทศบาล{aname}",
                                      f"Local government {a}", (a,)))  # fmt: skip
        return {r.code: r for r in rows}

    def local(self, amphoe: str) -> str:
        return f"khet-{amphoe}" if amphoe.startswith("10") else f"lg-{amphoe}"

    def first_owner(self, category: str, tambon: str, desk: bool) -> str:
        p, metro = tambon[:2], tambon[:2] in ("10", "11", "12")
        if category == "water_supply":
            return "mwa" if metro else "pwa"
        if category in ("electricity", "overhead_cables"):
            return "mea" if metro else "pea"
        if desk and category in ("corruption", "consumer_protection", "general_complaint"):
            return f"dc-{p}"
        local = self.local(tambon[:4])
        return local if local in self.agencies else f"dc-{p}"

    def next_owner(self, rng: random.Random, current: str, tambon: str) -> str:
        """Where a forward goes: the works department, the province, the neighbours."""
        p = tambon[:2]
        choices = [f"dc-{p}", f"pao-{p}", "bma-works" if p == "10" else f"pao-{p}"]
        locals_ = self.locals_of[p]
        if locals_:
            choices.append(locals_[rng.randrange(len(locals_))])
        pick = choices[rng.randrange(len(choices))]
        return pick if pick != current else f"dc-{p}"

    # -- time

    def reported_at(self, rng: random.Random) -> datetime:
        u = rng.random()
        t = (-1 + math.sqrt(1 + 8 * u)) / 2  # density 1 + 2t over the span: usage grows
        day = self.start + timedelta(seconds=t * self.span)
        local = day.astimezone(BANGKOK_TZ).replace(
            hour=self.hour(rng), minute=rng.randrange(60), second=rng.randrange(60),
            microsecond=rng.randrange(1_000_000),
        )  # fmt: skip
        when = local.astimezone(UTC)
        return min(when, self.now - timedelta(seconds=rng.randrange(60, 3600)))

    def kind_for_age(self, rng: random.Random, age_days: float) -> str:
        """The sample's mix for fresh tickets, the whole dataset's for old ones."""
        x = (math.log(max(age_days, 2.0)) - math.log(2.0)) / (math.log(60.0) - math.log(2.0))
        x = min(1.0, max(0.0, x))
        u, acc = rng.random(), 0.0
        for kind, a, b in zip(self.kinds, self.recent_mix, self.old_mix, strict=True):
            acc += (1 - x) * a + x * b
            if u < acc:
                return kind
        return "finish"

    def accept_hours(self, rng: random.Random) -> float:
        if rng.random() < 0.85:
            mu, sd = self.accept_fit
        else:  # the slow tail an afternoon-long sample cannot show
            mu, sd = math.log(36.0), 1.0
        return min(24 * 60.0, rng.lognormvariate(mu, sd))

    def resolve_hours(self, rng: random.Random) -> float:
        if rng.random() < 0.45:
            mu, sd = self.resolve_fit
        else:
            mu, sd = math.log(96.0), 1.3
        return min(24 * 400.0, rng.lognormvariate(mu, sd))


def sla_priorities() -> tuple[str, ...]:
    return ("urgent", "high", "normal", "low")


# --------------------------------------------------------------------------- text


_LEADING_VOWELS = "เแโใไ"
_FOLLOWERS = set("ัิีึืุู็่้๊๋์ำาะๅ")


def query_terms(source: Source, rng: random.Random, count: int) -> list[str]:
    """Search words as an analyst types them: 2-4 syllables cut from real comment phrases.

    A cut starts on a consonant or a leading vowel and never splits a vowel or tone mark
    from its consonant (a rough syllable edge; Thai has no spaces between words).
    """
    terms: list[str] = []
    phrases = [p for p in source.phrases if len(p) >= 6]
    for _ in range(count * 20):
        if len(terms) >= count:
            break
        p = phrases[rng.randrange(len(phrases))]
        starts = [
            i
            for i, ch in enumerate(p)
            if ch not in _FOLLOWERS and (i == 0 or p[i - 1] not in _LEADING_VOWELS)
        ]
        start = starts[rng.randrange(len(starts))]
        length = rng.randint(5, 9)  # 2-4 syllables of 2-3 characters
        end = min(len(p), start + length)
        while end < len(p) and (p[end] in _FOLLOWERS or p[end - 1] in _LEADING_VOWELS):
            end += 1
        term = p[start:end]
        if len(term) >= 4 and term not in terms:
            terms.append(term)
    return terms


@cache
def _public_text_fn() -> Callable[[str, str], str]:
    """The scrubbed text the index searches, made by the hub's own function."""
    try:
        from hub.privacy import public_text

        return lambda s, d: public_text(s, d)
    except ImportError:  # before the index existed
        from hub.privacy import scrub

        return lambda s, d: scrub(f"{s}\n{d}") or ""


@cache
def _satisfaction_fn() -> Callable[[dict[str, Any]], int | None]:
    try:
        from hub.models import satisfaction_of

        return satisfaction_of
    except ImportError:
        return lambda record: None


# --------------------------------------------------------------------------- the generator


@dataclass
class Batch:
    """One chunk of rows per table, as dicts keyed by column name."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in TABLES})
    complaints: int = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self.rows.values())


@dataclass
class _Recent:
    case_id: str
    reported: datetime
    category: str
    origins: set[str]


@dataclass
class _Life:
    """Where a case's story has got to, filled in step by step by the generator."""

    owner: str | None
    last: datetime
    accept_due: datetime | None
    status: str = "offered"
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    resolve_due: datetime | None = None
    accept_breach: datetime | None = None
    resolve_breach: datetime | None = None
    outcome: str | None = None
    summary: str | None = None
    satisfaction: int | None = None
    reopen_count: int = 0
    events: list[tuple[datetime, str, str, str | None, str, str | None]] = field(
        default_factory=list
    )

    def event(
        self, at: datetime, typ: str, actor: str, s_from: str | None, s_to: str, owner: str | None
    ) -> None:
        self.events.append((at, typ, actor, s_from, s_to, owner))


class Generator:
    """Cases and complaints, one after another, from a seeded RNG: same seed, same rows."""

    def __init__(
        self, model: Model, *, seed: int = 7, events_share: float = 0.1, join_share: float = 0.03
    ) -> None:
        self.m = model
        self.rng = random.Random(seed)
        self.events_share = events_share
        self.join_share = join_share
        self.merge_share = 0.01
        self.recent: dict[str, _Recent] = {}
        self.i = 0
        self.public_text = _public_text_fn()
        self.satisfaction = _satisfaction_fn()
        self.sla_cache: dict[tuple[str, str], tuple[timedelta, timedelta]] = {
            k: (v.accept, v.resolve) for k, v in model.deadlines.items()
        }

    def agencies(self) -> list[dict[str, Any]]:
        now = self.m.start - timedelta(days=30)
        return [
            {
                "code": a.code,
                "name_th": a.name_th,
                "name_en": a.name_en,
                "kind": a.kind,
                "areas": list(a.areas),
                "categories": list(a.categories),
                "endpoint": None,
                "mode": "pull",
                "roles": list(a.roles),
                "active": True,
                "created_at": now,
            }
            for a in self.m.agencies.values()
        ]

    def batches(self, total: int, chunk: int) -> Iterator[Batch]:
        batch = Batch()
        for _ in range(total):
            self.one(batch)
            if batch.complaints >= chunk:
                yield batch
                batch = Batch()
        if batch.complaints:
            yield batch

    # -- one complaint (and its case, unless it joins one)

    def one(self, out: Batch) -> None:
        rng, m = self.rng, self.m
        i = self.i
        self.i += 1
        tambon = m.tambon(rng)
        bangkok = tambon.startswith("10")
        system, origin, channel = self._origin(rng, tambon, bangkok)
        desk = system not in ("traffy_fondue", "open311")
        recent = self.recent.get(tambon)
        u = rng.random()
        if recent is not None and u < self.join_share:
            reported = min(
                recent.reported + timedelta(seconds=rng.uniform(600, 3 * DAY)),
                m.now - timedelta(minutes=5),
            )
            category, case_id, stars = recent.category, recent.case_id, None
            if origin not in recent.origins:  # a second origin joins the case
                recent.origins.add(origin)
                out.rows["case_parties"].append(
                    {"case_id": case_id, "agency": origin, "role": "origin", "since": reported}
                )
        else:
            reported = m.reported_at(rng)
            category = (m.desk_category if desk else m.traffy_category)(rng)
            merge_into = None
            if recent is not None and u < self.join_share + self.merge_share:
                merge_into = recent.case_id
            case_id, stars = self._case(out, rng, tambon, category, reported, origin, merge_into)
            if stars is not None and system != "traffy_fondue":
                stars = None  # only Traffy asks the citizen for a rating
        out.rows["complaints"].append(
            self._complaint(
                rng, i, tambon, system, origin, channel, category, reported, case_id, stars
            )
        )
        out.complaints += 1

    def _origin(self, rng: random.Random, tambon: str, bangkok: bool) -> tuple[str, str, str]:
        u = rng.random()
        p = tambon[:2]
        if bangkok:
            if u < 0.85:
                return "traffy_fondue", "bma", self.m.bkk_channel(rng)
            if u < 0.95:
                return "ops1111", "opm1111", _pick3(rng, "hotline_1111", "web_1111", "pobox_1111")
            if u < 0.99:
                return (
                    "damrongdhama",
                    "dc-10",
                    _pick3(rng, "damrongdhama_1567", "walk_in", "letter"),
                )
            return "open311", "open311", "open311"
        if u < 0.55:
            return "traffy_fondue", f"traffy-{p}", "traffy_fondue"
        if u < 0.75:
            return "ops1111", "opm1111", _pick3(rng, "hotline_1111", "web_1111", "pobox_1111")
        if u < 0.95:
            return "damrongdhama", f"dc-{p}", _pick3(rng, "damrongdhama_1567", "walk_in", "letter")
        return "ministry", ("moi" if u < 0.98 else "moph"), "ministry_system"

    def _case(
        self,
        out: Batch,
        rng: random.Random,
        tambon: str,
        category: str,
        reported: datetime,
        origin: str,
        merge_into: str | None,
    ) -> tuple[str, int | None]:
        """A new case for this complaint; returns the case its complaint ends up in (the
        survivor, for a case merged away: the hub moves the complaints) and its rating."""
        m, now = self.m, self.m.now
        opened = reported + timedelta(seconds=rng.uniform(1, 300))
        case_id = "case:" + ulid_at(int(opened.timestamp() * 1000), rng).lower()
        u = rng.random()
        priority = "urgent" if u < 0.01 else "high" if u < 0.06 else "low" if u < 0.08 else "normal"
        accept_sla, resolve_sla = self.sla_cache[(category, priority)]
        kind = m.kind_for_age(rng, (now - reported).total_seconds() / DAY)
        trail_len = m.trail_forward(rng) if kind == "forward" else m.trail(rng)
        owners = [m.first_owner(category, tambon, origin.startswith(("dc-", "opm")))]
        while len(owners) < trail_len:
            owners.append(m.next_owner(rng, owners[-1], tambon))
        offered = opened + timedelta(seconds=rng.uniform(0.5, 5))
        life = _Life(owner=owners[0], last=offered, accept_due=offered + accept_sla)
        life.event(opened, "complaint.submit", origin, None, "received", None)
        life.event(offered, "hub.forward", "hub", "received", "offered", owners[0])
        if kind in ("work", "finish", "forward"):
            self._handle(rng, life, kind, owners, offered, accept_sla, resolve_sla, origin)
        elif kind == "irrelevant":
            t = offered + timedelta(hours=m.accept_hours(rng))
            if t < now:
                life.status, life.owner, life.outcome, life.last = "rejected", None, "irrelevant", t
                life.accept_due = None
                life.event(t, "case.decline", owners[0], "offered", "rejected", None)

        if life.accept_due is not None and life.accept_breach is None and now > life.accept_due:
            life.accept_breach = life.accept_due
        if life.resolve_due is not None and (life.resolved_at or now) > life.resolve_due:
            life.resolve_breach = life.resolve_due
        escalation = 0
        parties = [(origin, "origin", opened)] + [(o, "owner", offered) for o in owners]
        for breach in (life.accept_breach, life.resolve_breach):
            if breach is not None:
                escalation += 1
                sup = f"dc-{tambon[:2]}" if escalation == 1 else "opm1111"
                parties.append((sup, "supervisor", breach))
                life.event(breach, "case.escalate", "hub", life.status, life.status, life.owner)
        merged_into, holder = None, case_id
        survivor = self.recent.get(tambon)
        if merge_into is not None and survivor is not None and life.status != "rejected":
            holder = merged_into = merge_into
            before = life.status
            life.status, life.owner, life.accept_due = "merged", None, None
            life.resolved_at, life.outcome, life.summary, life.satisfaction = (
                None, "duplicate", None, None,
            )  # fmt: skip
            life.last = min(now, life.last + timedelta(hours=rng.uniform(1, 48)))
            life.event(life.last, "case.merge", owners[-1], before, "merged", None)
            if origin not in survivor.origins:  # the merge brings the origin along
                survivor.origins.add(origin)
                out.rows["case_parties"].append(
                    {"case_id": holder, "agency": origin, "role": "origin", "since": life.last}
                )
        if life.status in ("accepted", "in_progress") and rng.random() < 0.03:
            parties.append((m.next_owner(rng, owners[-1], tambon), "assist", life.last))

        lat, lon = m.points[tambon]
        out.rows["cases"].append(
            {
                "id": case_id,
                "status": life.status,
                "owner": life.owner,
                "category": category,
                "province_code": tambon[:2],
                "amphoe_code": tambon[:4],
                "tambon_code": tambon,
                "opened_at": opened,
                "updated_at": max(life.last, opened),
                "resolved_at": life.resolved_at,
                "accept_due": life.accept_due,
                "resolve_due": life.resolve_due,
                "merged_into": merged_into,
                "version": len(life.events),
                "origin_agency": origin,
                "outcome": life.outcome,
                "summary": life.summary,
                "accepted_at": life.accepted_at,
                "priority": priority,
                "accept_breached_at": life.accept_breach,
                "resolve_breached_at": life.resolve_breach,
                "escalation_level": escalation,
                "reopen_count": life.reopen_count,
                "lat": lat + rng.gauss(0, 0.004),
                "lon": lon + rng.gauss(0, 0.004),
                "reported_at": reported,  # its first complaint's
            }
        )
        seen: set[tuple[str, str]] = set()
        for agency, role, since in parties:
            if (agency, role) not in seen:
                seen.add((agency, role))
                out.rows["case_parties"].append(
                    {"case_id": case_id, "agency": agency, "role": role, "since": since}
                )
        if rng.random() < self.events_share:
            for at, typ, actor, s_from, s_to, own in sorted(life.events, key=lambda e: e[0]):
                out.rows["case_events"].append(
                    {
                        "case_id": case_id,
                        "type": typ,
                        "actor": actor,
                        "status_from": s_from,
                        "status_to": s_to,
                        "owner": own,
                        "data": {},
                        "envelope_id": None,
                        "log_index": None,
                        "created_at": at,
                    }
                )
        if holder == case_id:
            self.recent[tambon] = _Recent(case_id, reported, category, {origin})
        return holder, life.satisfaction

    def _handle(
        self,
        rng: random.Random,
        life: _Life,
        kind: str,
        owners: list[str],
        offered: datetime,
        accept_sla: timedelta,
        resolve_sla: timedelta,
        origin: str,
    ) -> None:
        """Forwards along the trail, then acceptance, progress, resolution and reopening, each
        only if its time has come before ``now`` (else the case is still at that step)."""
        m, now = self.m, self.m.now
        t = offered
        for k, nxt in enumerate(owners[1:], start=1):  # all but the last owner passed it on
            hold = timedelta(hours=m.accept_hours(rng) * rng.uniform(0.5, 3))
            t = max(t, min(t + hold, now - timedelta(minutes=10)))
            life.event(t, "case.forward", owners[k - 1], "offered", "offered", nxt)
            life.owner, life.last = nxt, t
        owner = life.owner
        if kind == "forward":
            life.status, life.accept_due = "forwarded", t + m.forward_accept
            return
        accepted = t + timedelta(hours=m.accept_hours(rng))
        if accepted >= now:
            life.accept_due = t + accept_sla
            return
        if accepted - t > accept_sla:
            life.accept_breach = t + accept_sla
        life.accepted_at, life.accept_due = accepted, None
        life.resolve_due = accepted + resolve_sla
        life.status, life.last = "accepted", accepted
        life.event(accepted, "case.accept", owner, "offered", "accepted", owner)
        if rng.random() < 0.8:
            progress = accepted + (now - accepted) * rng.random() * 0.2
            life.event(progress, "case.status", owner, "accepted", "in_progress", owner)
            life.status, life.last = "in_progress", progress
        if kind != "finish":
            return
        done = accepted + timedelta(hours=m.resolve_hours(rng))
        if done >= now:
            return
        life.event(done, "case.resolve", owner, life.status, "resolved", owner)
        life.resolved_at, life.status, life.last = done, "resolved", done
        life.outcome = m.outcome(rng)
        life.summary = SUMMARIES[rng.randrange(len(SUMMARIES))]
        if rng.random() < m.rated:
            life.satisfaction = m.star(rng)
        if rng.random() < m.reopened:
            life.reopen_count = 1 if rng.random() < 0.85 else 2
            if (now - done).days < 30 and rng.random() < 0.3:  # reopened, not fixed again yet
                again = done + (now - done) * 0.5
                life.event(again, "case.reopen", origin, "resolved", "reopened", owner)
                life.status, life.last = "reopened", again
                life.resolved_at = life.outcome = life.summary = None

    def _text(self, rng: random.Random, category: str, tambon: str) -> tuple[str, bool]:
        src = self.m.source
        pool = src.phrases_by_category.get(category) or src.phrases
        words = []
        for _ in range(self.m.phrase_count(rng)):
            bag = pool if rng.random() < 0.8 else src.phrases
            words.append(bag[rng.randrange(len(bag))])
        u = rng.random()
        if u < 0.3 and src.streets:
            words.append("บริเวณ" + src.streets[rng.randrange(len(src.streets))])
        elif u < 0.5:
            prefix = "แขวง" if tambon.startswith("10") else "ตำบล"
            words.append(prefix + self.m.name(tambon))
        text = " ".join(dict.fromkeys(words))
        contact = rng.random() < src.contact_share
        if contact:  # fake, in the shapes the sample plants: scrubbing must catch them
            v = rng.randrange(3)
            number = f"08{rng.randrange(10**8):08d}"
            if v == 0:
                text += f"\nโทร {number} ได้ตลอดเวลา"
            elif v == 1:
                text += f"\nติดต่อกลับได้ที่ {number[:3]}-{number[3:6]}-{number[6:]}"
            else:
                text += f"\nอีเมล user{rng.randrange(10**6)}@example.com"
        return text, contact

    def _complaint(
        self,
        rng: random.Random,
        i: int,
        tambon: str,
        system: str,
        origin: str,
        channel: str,
        category: str,
        reported: datetime,
        case_id: str,
        stars: int | None,
    ) -> dict[str, Any]:
        text, _contact = self._text(rng, category, tambon)
        if channel == "call_1555":
            text += " #1555"
        first = text.splitlines()[0].removesuffix("#1555").strip()
        subject = first if len(first) <= 80 else first[:79] + "…"
        if system == "traffy_fondue":
            code = b32(scramble(i, 30, 0x2F1B3D5), 6)
            ref = code if channel == "call_1555" else f"{reported.year}-{code}"
            complaint_id = f"traffy:{ref}"
        else:
            ref = f"{system.upper()[:3]}-{reported.year}-{scramble(i, 32, 0x3C6EF35F):010d}"
            complaint_id = f"{system}:{ref}"
        lat, lon = self.m.points[tambon]
        lat, lon = round(lat + rng.gauss(0, 0.004), 5), round(lon + rng.gauss(0, 0.004), 5)
        track = b32(scramble(i, 50, 0x5DEECE66D), 10)
        personal = None
        if system != "traffy_fondue" and rng.random() < 0.6:
            personal = rng.randbytes(96 + rng.randrange(64))  # a sealed contact's size
        reported_s = reported.isoformat()
        ext: dict[str, Any] = {}
        if system == "traffy_fondue":
            ext = {
                "traffy_fondue": {
                    "state": None,
                    "star": stars,
                    "count_reopen": 0,
                    "organization": [self.m.agencies[origin].name_th],
                    "type_labels": [],
                }
            }
        record = {
            "id": complaint_id,
            "origin": {"agency": origin, "system": system, "ref": ref},
            "channel": channel,
            "category": category,
            "subject": subject,
            "description": text,
            "location": {
                "lat": lat,
                "lon": lon,
                "province_code": tambon[:2],
                "amphoe_code": tambon[:4],
                "tambon_code": tambon,
            },
            "reported_at": reported_s,
            "language": "th",
            "reporter": {"anonymous": personal is None},
        }
        if ext:
            record["extensions"] = ext
        return {
            "id": complaint_id,
            "origin_agency": origin,
            "origin_system": system,
            "origin_ref": ref,
            "channel": channel,
            "category": category,
            "subject": subject,
            "description": text,
            "lat": lat,
            "lon": lon,
            "province_code": tambon[:2],
            "amphoe_code": tambon[:4],
            "tambon_code": tambon,
            "reported_at": reported,
            "priority": "normal",
            "language": "th",
            "record": record,
            "personal": personal,
            "case_id": case_id,
            "envelope_id": None,
            "tracking_code": f"TRK-{track[:4]}-{track[4:8]}-{track[8:]}",
            "created_at": reported + timedelta(seconds=rng.uniform(1, 120)),
            "public_text": self.public_text(subject, text),
            "satisfaction": self.satisfaction(record),
        }


def _pick3(rng: random.Random, a: str, b: str, c: str) -> str:
    u = rng.random()
    return a if u < 0.65 else b if u < 0.92 else c


# --------------------------------------------------------------------------- loading


@dataclass
class LoadReport:
    complaints: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    generate_s: float = 0.0
    copy_s: float = 0.0
    index_s: dict[str, float] = field(default_factory=dict)
    analyze_s: float = 0.0
    total_s: float = 0.0
    client_cpu_s: float = 0.0  # this process (generation, COPY text): the machine is shared
    skipped_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.complaints / self.total_s if self.total_s else 0.0


def _columns(url: str) -> dict[str, list[str]]:
    """The columns each table has in the migrated database (the truth, not the models)."""
    from sqlalchemy import inspect

    from hub.db import make_engine

    engine = make_engine(url)
    try:
        insp = inspect(engine)
        return {t: [c["name"] for c in insp.get_columns(t)] for t in TABLES}
    finally:
        engine.dispose()


def _required(url: str) -> dict[str, set[str]]:
    from sqlalchemy import inspect

    from hub.db import make_engine

    engine = make_engine(url)
    try:
        insp = inspect(engine)
        return {
            t: {
                c["name"]
                for c in insp.get_columns(t)
                if not c["nullable"] and c.get("default") is None and not c.get("autoincrement")
            }
            for t in TABLES
        }
    finally:
        engine.dispose()


def load(
    url: str,
    model: Model,
    rows: int,
    *,
    seed: int = 7,
    chunk: int = 20_000,
    events_share: float = 0.1,
    progress: bool = True,
) -> LoadReport:
    """Generate and load ``rows`` complaints into an empty, migrated database."""
    gen = Generator(model, seed=seed, events_share=events_share)
    cols = _columns(url)
    required = _required(url)
    report = LoadReport()
    sample_keys = {
        "agencies": set(gen.agencies()[0]),
        "cases": set(),
        "complaints": set(),
        "case_parties": {"case_id", "agency", "role", "since"},
        "case_events": set(),
    }
    probe = Batch()
    Generator(model, seed=seed + 1, events_share=1.0).one(probe)
    for t in ("cases", "complaints", "case_events"):
        sample_keys[t] = set(probe.rows[t][0]) if probe.rows[t] else set()
    for t in TABLES:
        have = [c for c in cols[t] if c in sample_keys[t]]
        missing = sorted(required[t] - set(have) - ({"id"} if t == "case_events" else set()))
        if missing:
            raise SystemExit(
                f"bench/index.py does not fill {t}.{', '.join(missing)} (NOT NULL, no default): "
                "the schema moved on; teach Generator about it"
            )
        report.skipped_columns[t] = sorted(set(cols[t]) - set(have))
        cols[t] = have
    start, cpu = time.perf_counter(), time.process_time()
    if is_postgres(url):
        _load_postgres(url, gen, rows, cols, chunk, report, progress)
    else:
        _load_sqlalchemy(url, gen, rows, cols, chunk, report, progress)
    report.total_s = time.perf_counter() - start
    report.client_cpu_s = time.process_time() - cpu
    return report


def _bar(total: int, progress: bool) -> Callable[[int], None]:
    if not progress:
        return lambda done: None
    from adapters.progress import progress_bar

    return progress_bar(total, label="complaints")


def _load_sqlalchemy(
    url: str,
    gen: Generator,
    rows: int,
    cols: dict[str, list[str]],
    chunk: int,
    report: LoadReport,
    progress: bool,
) -> None:
    """SQLite (the smoke test, quick looks): plain executemany through the ORM tables."""
    from hub.db import make_engine
    from hub.models import Base

    engine = make_engine(url)
    bar = _bar(rows, progress)
    try:
        with engine.begin() as conn:
            conn.execute(Base.metadata.tables["agencies"].insert(), gen.agencies())
        report.rows["agencies"] = len(gen.m.agencies)
        t0 = time.perf_counter()
        for batch in gen.batches(rows, chunk):
            with engine.begin() as conn:
                for t in TABLES[1:]:
                    data = [{c: r.get(c) for c in cols[t]} for r in batch.rows[t]]
                    if data:
                        conn.execute(_table(t, cols[t]).insert(), data)
                    report.rows[t] += len(data)
            report.complaints += batch.complaints
            bar(report.complaints)
        report.copy_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        report.analyze_s = time.perf_counter() - t0
    finally:
        engine.dispose()


def _table(name: str, cols: Sequence[str]) -> Any:
    """The ORM table, plus any column the migration added that the models do not map."""
    from sqlalchemy import Column, MetaData, Table, Text

    from hub.models import Base

    table = Base.metadata.tables[name]
    extra = [c for c in cols if c not in table.c]
    if not extra:
        return table
    meta = MetaData()
    return Table(
        name,
        meta,
        *[table.c[c]._copy() for c in cols if c in table.c],
        *[Column(c, Text) for c in extra],
    )


# -- PostgreSQL: COPY in a writer thread while the main thread generates the next chunk


def _json_text(value: Any) -> str:
    return _esc(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


_COPY: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: r"\N",
    bool: lambda v: "t" if v else "f",
    int: repr,
    float: repr,
    datetime: datetime.isoformat,
    bytes: lambda v: "\\\\x" + v.hex(),
    dict: _json_text,
    list: _json_text,
}


def _copy_text(value: Any) -> str:
    """One value in COPY's text format (type dispatch: this runs tens of millions of times)."""
    conv = _COPY.get(type(value))
    return conv(value) if conv is not None else _esc(str(value))


def _esc(text: str) -> str:
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\n" in text or "\t" in text or "\r" in text:
        text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return text


def _copy_buffer(rows: list[dict[str, Any]], cols: Sequence[str]) -> io.StringIO:
    conv, esc = _COPY.get, _esc
    lines = []
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if type(v) is str:
                cells.append(esc(v))
            else:
                f = conv(type(v))
                cells.append(f(v) if f is not None else esc(str(v)))
        lines.append("\t".join(cells))
    lines.append("")
    return io.StringIO("\n".join(lines))


def _secondary_indexes(cur: Any) -> list[tuple[str, str]]:
    """(name, CREATE statement) of every index of ours that no constraint owns."""
    cur.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        ORDER BY i.tablename, i.indexname
        """,
        (list(TABLES[1:]),),
    )
    return [(r[0], r[1]) for r in cur.fetchall()]


def _load_postgres(
    url: str,
    gen: Generator,
    rows: int,
    cols: dict[str, list[str]],
    chunk: int,
    report: LoadReport,
    progress: bool,
) -> None:
    """COPY per chunk. Secondary indexes are dropped first and rebuilt from their exact
    definitions afterwards (one sorted build beats a million inserts into a GIN index);
    foreign keys are not re-checked row by row (``session_replication_role = replica``: the
    generator only points at rows it already wrote)."""
    from hub.db import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with contextlib.suppress(Exception):
            cur.execute("SET session_replication_role = replica")
        raw.commit()
        indexes = _secondary_indexes(cur)
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        raw.commit()
        cur.copy_expert(
            f"COPY agencies ({', '.join(cols['agencies'])}) FROM STDIN",
            _copy_buffer(gen.agencies(), cols["agencies"]),
        )
        raw.commit()
        report.rows["agencies"] = len(gen.m.agencies)
        bar = _bar(rows, progress)
        work: queue.Queue[list[tuple[str, io.StringIO, int]] | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []
        copy_seconds = [0.0]

        def writer() -> None:
            wcur = raw.cursor()
            while True:
                item = work.get()
                if item is None:
                    return
                if failure:
                    continue
                try:
                    t = time.perf_counter()
                    for table, buf, _n in item:
                        wcur.copy_expert(f"COPY {table} ({', '.join(cols[table])}) FROM STDIN", buf)
                    raw.commit()
                    copy_seconds[0] += time.perf_counter() - t
                except BaseException as exc:
                    failure.append(exc)

        thread = threading.Thread(target=writer, name="copy", daemon=True)
        thread.start()
        t0 = time.perf_counter()
        gen_s = 0.0
        try:
            g0 = time.perf_counter()
            for batch in gen.batches(rows, chunk):
                item = []
                for t in TABLES[1:]:
                    if batch.rows[t]:
                        item.append((t, _copy_buffer(batch.rows[t], cols[t]), len(batch.rows[t])))
                        report.rows[t] += len(batch.rows[t])
                report.complaints += batch.complaints
                gen_s += time.perf_counter() - g0
                if failure:
                    raise failure[0]
                work.put(item)
                bar(report.complaints)
                g0 = time.perf_counter()
        finally:
            work.put(None)
            thread.join()
        if failure:
            raise failure[0]
        report.generate_s = gen_s
        report.copy_s = time.perf_counter() - t0
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("SET maintenance_work_mem = '512MB'")
        for name, ddl in indexes:
            t = time.perf_counter()
            cur.execute(ddl)
            raw.commit()
            report.index_s[name] = time.perf_counter() - t
        cur.execute(
            "COMMENT ON TABLE cases IS %s",
            (json.dumps({"bench": "index", "complaints": report.complaints,
                         "now": gen.m.now.isoformat()}),),
        )  # fmt: skip
        raw.commit()
        # COPY bypasses the ORM, so nothing queued these cases: summarise them all at once
        t = time.perf_counter()
        from hub.index_facts import rebuild

        with engine.begin() as conn:
            rebuild(conn)
        report.index_s["case_facts + index_cube (hub.index_facts.rebuild)"] = (
            time.perf_counter() - t
        )
        raw.set_isolation_level(0)  # autocommit: VACUUM cannot run in a transaction
        t = time.perf_counter()
        # every table the fold keeps too: without statistics the planner took a common
        # term's 108,248 trigram matches for 52 rows and joined every one (seconds at 1M)
        for table in (*TABLES, *FOLDED):
            cur.execute(f"VACUUM (ANALYZE) {table}")
        report.analyze_s = time.perf_counter() - t
        raw.set_isolation_level(1)
    finally:
        raw.close()
        engine.dispose()


def loaded_meta(url: str) -> dict[str, Any] | None:
    """What a previous run loaded (PostgreSQL: a comment on ``cases``), or None."""
    from sqlalchemy import text

    from hub.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM complaints")).scalar_one()
            if not n:
                return None
            meta: dict[str, Any] = {"complaints": int(n)}
            if engine.dialect.name == "postgresql":
                comment = conn.execute(
                    text("SELECT obj_description('cases'::regclass, 'pg_class')")
                ).scalar()
                if comment:
                    with contextlib.suppress(ValueError):
                        meta |= json.loads(comment)
            return meta
    except Exception:  # no schema yet
        return None
    finally:
        engine.dispose()


def bring_to_head(url: str) -> str:
    """A kept database follows the code: ``upgrade head`` (what ``hub db upgrade`` runs),
    then ANALYZE if that changed anything. Returns "old -> new", or "" when current."""
    from sqlalchemy import text

    from hub.db import make_engine
    from hub.migrate import upgrade

    def revision() -> str:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
        finally:
            engine.dispose()

    before = revision()
    upgrade(url)
    after = revision()
    if before == after:
        return ""
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return f"{before} -> {after}"


def pg_settings(url: str) -> str:
    """The server settings that decide these figures (a 128 MB shared_buffers cannot hold
    a million cases; production sizes it to the machine)."""
    from sqlalchemy import text

    from hub.db import make_engine

    names = ("server_version", "shared_buffers", "work_mem", "effective_cache_size",
             "max_parallel_workers_per_gather", "jit")  # fmt: skip
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return ", ".join(f"{n} {conn.execute(text(f'SHOW {n}')).scalar()}" for n in names)
    finally:
        engine.dispose()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL bench database when it does not exist yet."""
    if not is_postgres(url):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                print(f"created database {name}")
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- queries


@dataclass
class Plan:
    """One repetition: a label for the report and the call to time."""

    label: str
    call: Callable[[Any], int]


@dataclass
class Figure:
    """One query's timings (seconds) and what each repetition returned."""

    name: str
    seconds: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    plans: list[Plan] = field(default_factory=list)

    def add(self, plan: Plan, seconds: float, rows: int) -> None:
        self.seconds.append(seconds)
        self.rows.append(rows)
        self.labels.append(plan.label)
        self.plans.append(plan)

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 50)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 95)

    @property
    def worst(self) -> float:
        return max(self.seconds) if self.seconds else math.nan


class Workload:
    """The oversight queries with parameters drawn from the same model as the data."""

    def __init__(self, model: Model, session_factory: Any, *, seed: int = 11) -> None:
        from hub import index as hub_index
        from hub.exchange.tokens import Principal

        self.ix = hub_index
        self.m = model
        self.sessions = session_factory
        self.rng = random.Random(seed)
        self.viewer = Principal(OVERSIGHT, frozenset({"oversight"}), "oversight")
        self.terms = query_terms(model.source, random.Random(seed), 40)
        self.now = model.now

    # -- parameter drawing

    def province(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return str(self.m.tambon(rng))[:2]
        return self.m.provinces[rng.randrange(len(self.m.provinces))]

    def category(self) -> str:
        return str(self.m.traffy_category(self.rng))

    def agency(self) -> str:
        t = str(self.m.tambon(self.rng))
        return self.m.first_owner(self.category(), t, False)

    def since(self, days: int) -> datetime:
        return self.now - timedelta(days=days)

    def filters(self, **kw: Any) -> Any:
        return self.ix.Filters(**kw)

    def varied_filters(self, i: int) -> tuple[str, Any]:
        """Ten shapes of filter an analyst uses, in turn."""
        shape = i % 10
        p, c = self.province(), self.category()
        if shape == 0:
            return f"province={p}", self.filters(province=(p,))
        if shape == 1:
            return f"province={p} category={c}", self.filters(province=(p,), category=(c,))
        if shape == 2:
            return f"category={c} open", self.filters(category=(c,), status=OPEN)
        if shape == 3:
            return f"province={p} breached 365d", self.filters(
                province=(p,), sla_breached=True, reported_from=self.since(365)
            )
        if shape == 4:
            a = self.agency()
            return f"owner={a}", self.filters(owner=(a,))
        if shape == 5:
            a = self.agency()
            return f"agency={a} open", self.filters(agency=(a,), status=OPEN)
        if shape == 6:
            return "everything", self.filters()
        if shape == 7:
            t = str(self.m.tambon(self.rng))
            return f"amphoe={t[:4]} resolved", self.filters(amphoe=(t[:4],), status=("resolved",))
        if shape == 8:
            return "channel=hotline_1111 90d", self.filters(
                channel=("hotline_1111",), reported_from=self.since(90)
            )
        return f"origin=traffy category={c} not merged", self.filters(
            origin=("traffy_fondue",), category=(c,), merged=False
        )

    # -- the queries

    def plans(self, name: str, reps: int) -> list[Plan]:
        ix, v = self.ix, self.viewer
        out: list[Plan] = []
        for i in range(reps):
            if name == "count, filtered":
                label, f = self.varied_filters(i)
                out.append(Plan(label, lambda s, f=f: int(ix.count(s, f, viewer=v)["total"])))
            elif name == "search, first page":
                label, f = self.varied_filters(i)
                sort = ("-reported_at", "reported_at", "-resolved_at")[i % 3]
                out.append(
                    Plan(
                        f"{label} sort={sort}",
                        lambda s, f=f, sort=sort: len(
                            ix.search(s, f, viewer=v, sort=sort, limit=50)["items"]
                        ),
                    )
                )
            elif name == "search, Thai text":
                term = self.terms[i % len(self.terms)]
                if i % 2:
                    p = self.province()
                    label, f = f"q={term} province={p}", self.filters(q=term, province=(p,))
                else:
                    label, f = f"q={term}", self.filters(q=term)
                out.append(
                    Plan(label, lambda s, f=f: len(ix.search(s, f, viewer=v, limit=50)["items"]))
                )
            elif name == "count, Thai text":
                term = self.terms[i % len(self.terms)]
                f = self.filters(q=term)
                out.append(Plan(f"q={term}", lambda s, f=f: int(ix.count(s, f, viewer=v)["total"])))
            elif name == "stats, province × category":
                label, f = self._stats_filter(i)
                out.append(
                    Plan(
                        label,
                        lambda s, f=f: len(
                            ix.stats(  # the counts, as the dashboard asks for them
                                s,
                                f,
                                viewer=v,
                                group_by=("province", "category"),
                                now=self.now,
                                performance=False,
                            )["groups"]
                        ),
                    )
                )
            elif name in ("stats, backlog + agency times", EXACT_TIMES):
                # the default (approximate times, as the dashboard asks for them), and the
                # same calls with exact percentiles: the reference the bound is against
                label, f = self._stats_filter(i + 1)
                dims = (("agency",), ("status",), ("month",), ("channel",))[i % 4]
                method = "exact" if name == EXACT_TIMES else "approx"
                out.append(
                    Plan(
                        f"{label} group_by={dims[0]}",
                        lambda s, f=f, dims=dims, method=method: len(
                            ix.stats(
                                s, f, viewer=v, group_by=dims, now=self.now, percentiles=method
                            )["by_agency"]
                        ),
                    )
                )
            elif name == "map, province level":
                label, f = self._stats_filter(i)
                out.append(
                    Plan(
                        label,
                        lambda s, f=f: len(
                            ix.map_geojson(s, f, viewer=v, level="province")["features"]
                        ),
                    )
                )
            elif name == "search, agency's own view":
                from hub.exchange.tokens import Principal

                a = self.agency()
                who = Principal(a, frozenset({"submit", "receive"}), "local_government")
                f = self.filters(status=OPEN) if i % 2 else self.filters()
                out.append(
                    Plan(
                        f"viewer={a}{' open' if i % 2 else ''}",
                        lambda s, f=f, who=who: len(ix.search(s, f, viewer=who, limit=50)["items"]),
                    )
                )
        return out

    def _stats_filter(self, i: int) -> tuple[str, Any]:
        shape = i % 5
        if shape == 0:
            return "everything", self.filters()
        if shape == 1:
            return "last 365d", self.filters(reported_from=self.since(365))
        if shape == 2:
            c = self.category()
            return f"category={c}", self.filters(category=(c,))
        if shape == 3:
            p = self.province()
            return f"province={p}", self.filters(province=(p,))
        return "last 30d open", self.filters(reported_from=self.since(30), status=OPEN)


def timed(sessions: Any, plan: Plan) -> tuple[float, int]:
    session = sessions()
    try:
        t = time.perf_counter()
        n = plan.call(session)
        elapsed = time.perf_counter() - t
        session.rollback()
        return elapsed, n
    finally:
        session.close()


EXACT_TIMES = "stats, agency times exact"
REFERENCES = frozenset({EXACT_TIMES})
"""Timed beside the others but not held to the target: exact percentiles sort every
matching case by design (``percentiles=exact``); the last line leaves them out."""

QUERIES = (
    "count, filtered",
    "search, first page",
    "search, Thai text",
    "count, Thai text",
    "search, deep page (cursor)",
    "stats, province × category",
    "stats, backlog + agency times",
    EXACT_TIMES,
    "map, province level",
    "search, agency's own view",
    "case detail + timeline",
)


def run_queries(
    url: str,
    model: Model,
    *,
    reps: int = 30,
    seed: int = 11,
    only: Sequence[str] = (),
    deep_budget_s: float = 120.0,
    export: bool = True,
    out: Any = None,
) -> tuple[list[Figure], dict[str, float]]:
    """Time every query; returns the figures and the machine floor (p50 seconds)."""
    from hub.db import make_engine, make_sessionmaker

    out = out or sys.stdout
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    floor = machine_floor(sessions, reps=max(reps, 50))
    wl = Workload(model, sessions, seed=seed)
    figures: list[Figure] = []
    try:
        for name in QUERIES:
            if only and name not in only:
                continue
            print(f"  {name} ...", file=out, flush=True)
            if name == "search, deep page (cursor)":
                fig = deep_pages(wl, sessions, reps, deep_budget_s)
            elif name == "case detail + timeline":
                fig = case_details(wl, sessions, reps)
            else:
                fig = Figure(name)
                try:
                    warm = wl.plans(name, 2)
                    for plan in warm:
                        timed(sessions, plan)
                    for plan in wl.plans(name, reps):
                        s, n = timed(sessions, plan)
                        fig.add(plan, s, n)
                except Exception as exc:
                    fig.error = f"{type(exc).__name__}: {exc}"[:300]
            figures.append(fig)
        if export and (not only or "export, 10k rows" in only):
            print("  export ...", file=out, flush=True)
            figures.append(export_figure(wl, sessions, reps=min(reps, 10)))
    finally:
        engine.dispose()
    return figures, floor


def machine_floor(sessions: Any, reps: int = 50) -> dict[str, float]:
    """The machine's own limit, same session machinery: ``SELECT 1`` and a primary-key get."""
    from sqlalchemy import select, text

    from hub.models import Case

    one: list[float] = []
    pk: list[float] = []
    session = sessions()
    try:
        ids = list(session.scalars(select(Case.id).limit(reps)))
    finally:
        session.close()
    for i in range(reps):
        session = sessions()
        try:
            t = time.perf_counter()
            session.execute(text("SELECT 1")).scalar()
            one.append(time.perf_counter() - t)
            if ids:
                t = time.perf_counter()
                session.get(Case, ids[i % len(ids)])
                pk.append(time.perf_counter() - t)
        finally:
            session.close()
    return {"select1": median(one), "pk_get": median(pk) if pk else median(one)}


def deep_pages(wl: Workload, sessions: Any, reps: int, budget_s: float) -> Figure:
    """Walk a filtered listing 200 at a time to 2k-18k rows deep (untimed), then time the
    next page of 50 through the cursor: keyset pagination should not care how deep."""
    fig = Figure("search, deep page (cursor)")
    ix, v = wl.ix, wl.viewer
    shapes = [
        ("everything", wl.filters()),
        ("province=10", wl.filters(province=("10",))),
        ("open", wl.filters(status=OPEN)),
        ("category=road", wl.filters(category=("road",))),
        ("last 365d", wl.filters(reported_from=wl.since(365))),
    ]
    cursors: list[tuple[str, Any, str]] = []
    deadline = time.monotonic() + budget_s
    try:
        for k in range(reps):
            if time.monotonic() > deadline:
                break
            label, f = shapes[k % len(shapes)]
            sort = "-reported_at" if k % 2 == 0 else "reported_at"
            depth = 2000 + (k % 5) * 4000
            cursor: str | None = None
            deepest, seen, at = None, 0, 0
            session = sessions()
            try:  # a short listing (a small database) pages from as deep as it goes
                while seen < depth and time.monotonic() < deadline:
                    page = ix.search(session, f, viewer=v, sort=sort, limit=200, cursor=cursor)
                    seen += len(page["items"])
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                    deepest, at = cursor, seen
            finally:
                session.close()
            if deepest:
                cursors.append((f"{label} sort={sort} after {at}", f, f"{sort}|{deepest}"))
        if not cursors:
            fig.error = "no listing was deep enough to page through"
            return fig
        for k in range(reps):
            label, f, both = cursors[k % len(cursors)]
            sort, cursor = both.split("|", 1)
            plan = Plan(
                label,
                lambda s, f=f, sort=sort, cursor=cursor: len(
                    ix.search(s, f, viewer=v, sort=sort, limit=50, cursor=cursor)["items"]
                ),
            )
            if k == 0:
                timed(sessions, plan)  # warm
            s, n = timed(sessions, plan)
            fig.add(plan, s, n)
        fig.extra["distinct cursors"] = len(cursors)
    except Exception as exc:
        fig.error = f"{type(exc).__name__}: {exc}"[:300]
    return fig


def case_details(wl: Workload, sessions: Any, reps: int) -> Figure:
    """A case the analyst drills into, with its timeline (cases that have events)."""
    from sqlalchemy import select

    from hub.models import CaseEvent

    fig = Figure("case detail + timeline")
    session = sessions()
    try:
        ids = list(session.scalars(select(CaseEvent.case_id).distinct().limit(max(reps * 20, 200))))
    finally:
        session.close()
    if not ids:
        fig.error = "no case has events"
        return fig
    rng = random.Random(5)
    try:
        for k in range(reps + 1):
            cid = ids[rng.randrange(len(ids))]
            plan = Plan(
                cid,
                lambda s, cid=cid: len(
                    wl.ix.case_detail(s, cid, viewer=wl.viewer).get("timeline", [])
                ),
            )
            s, n = timed(sessions, plan)
            if k == 0:
                continue  # warm
            fig.add(plan, s, n)
    except Exception as exc:
        fig.error = f"{type(exc).__name__}: {exc}"[:300]
    return fig


def _rss_kb(field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM (Linux ``clear_refs`` 5) so the next peak is this export's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def export_slice(wl: Workload, sessions: Any, target: int, rng: random.Random) -> tuple[str, Any]:
    """A province and a recent window holding about ``target`` rows (two counts, untimed)."""
    ix, v = wl.ix, wl.viewer
    p = "10" if rng.random() < 0.5 else wl.province()
    session = sessions()
    try:
        days = 1095.0
        for _ in range(3):
            f = wl.filters(province=(p,), reported_from=wl.since(max(1, round(days))))
            n = int(ix.count(session, f, viewer=v)["total"])
            if n == 0:
                p, days = "10", 1095.0
                continue
            if 0.6 * target <= n <= 1.6 * target or (days >= 1095 and n < target):
                break
            days = min(1095.0, days * target / n)
        return f"province={p} last {round(days)}d", f
    finally:
        session.close()


def _export_once(wl: Workload, sessions: Any, f: Any, *, traced: bool) -> dict[str, float]:
    """Stream one export to the end: seconds, rows, peak RSS growth and (``traced``) the
    Python heap's peak, both against the start of this export."""
    import tracemalloc

    session = sessions()
    try:
        base = _rss_kb("VmRSS")
        reset = _reset_peak()
        if traced:
            tracemalloc.start()
        t = time.perf_counter()
        n = sum(1 for _ in wl.ix.export_rows(session, f, viewer=wl.viewer))
        secs = time.perf_counter() - t
        out = {"seconds": secs, "rows": float(n)}
        if traced:
            out["heap_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        if reset:
            out["rss_mib"] = max(0, _rss_kb("VmHWM") - base) / 1024
        return out
    finally:
        session.close()


def export_figure(wl: Workload, sessions: Any, *, reps: int) -> Figure:
    """Stream ~10k-row slices through ``export_rows`` (rows/s, peak RSS growth), then one
    slice ten times larger: constant memory means the peak does not grow with it."""
    fig = Figure("export, 10k rows")
    rng = random.Random(3)
    rss: list[float] = []
    try:
        for k in range(reps + 1):
            label, f = export_slice(wl, sessions, 10_000, rng)
            run = _export_once(wl, sessions, f, traced=False)
            rss.append(run.get("rss_mib", math.nan))
            if k:  # the first one warms
                fig.add(Plan(label, lambda _s: 0), run["seconds"], int(run["rows"]))
        rates = [n / s for n, s in zip(fig.rows, fig.seconds, strict=True) if s > 0]
        fig.extra["rows/s"] = median(rates)
        fig.extra["peak RSS growth MiB (10k)"] = max(rss)
        traced = _export_once(wl, sessions, f, traced=True)
        fig.extra["Python heap peak MiB (10k)"] = traced["heap_mib"]
        label, f = export_slice(wl, sessions, 100_000, rng)
        big = _export_once(wl, sessions, f, traced=False)
        big_traced = _export_once(wl, sessions, f, traced=True)
        fig.extra["10x slice"] = (
            f"{label}: {big['rows']:,.0f} rows in {big['seconds']:.1f} s "
            f"({big['rows'] / big['seconds']:,.0f}/s), peak RSS growth "
            f"{big.get('rss_mib', math.nan):.1f} MiB, Python heap peak "
            f"{big_traced['heap_mib']:.1f} MiB"
        )
    except Exception as exc:
        fig.error = f"{type(exc).__name__}: {exc}"[:300]
    return fig


# --------------------------------------------------------------------------- EXPLAIN


def fold_figure(url: str, queued: int) -> str:
    """What the background fold costs (``hub.background``): ``queued`` random cases put on
    the dirty queue, as an import would, then folded in batches of ``FOLD_BATCH`` queue
    entries, one transaction each, as the fold thread does. Each batch holds the fold's
    lock for its whole time: a reader arriving meanwhile waits at most that long. Refolding
    an unchanged case changes nothing, so the database stays as loaded."""
    from sqlalchemy import text as sql

    from hub.background import FOLD_BATCH
    from hub.db import make_engine
    from hub.index_facts import fold

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sql(
                    "INSERT INTO index_dirty (case_id) "
                    "SELECT id FROM cases ORDER BY md5(id || :seed) LIMIT :n"
                ),
                {"n": queued, "seed": "fold"},
            )
        batches: list[float] = []
        folded = 0
        while True:
            t = time.perf_counter()
            with engine.begin() as conn:
                n = fold(conn, limit=FOLD_BATCH)
            if not n:
                break
            batches.append(time.perf_counter() - t)
            folded += n
    finally:
        engine.dispose()
    return (
        f"fold: {folded:,} queued cases in {len(batches)} batch(es) of {FOLD_BATCH:,}: "
        f"{sum(batches):.1f} s in all, per batch p50 {percentile(batches, 50) * 1e3:.0f} ms, "
        f"max {max(batches, default=0) * 1e3:.0f} ms (a reader waits at most one batch)"
    )


def explain(url: str, plan: Plan) -> str:
    """Run the slowest repetition again, record its SQL, and EXPLAIN (ANALYZE, BUFFERS) each
    statement that took a noticeable share of the time."""
    from hub.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    lines = []
    try:
        with recorded_statements(engine) as statements:
            timed(sessions, plan)
        selects = [s for s in statements if s[0].lstrip().upper().startswith(("SELECT", "WITH"))]
        selects.sort(key=lambda s: -s[2])
        for statement, params, secs in selects[:3]:
            if secs < 0.005:
                continue
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                plan_text = "\n".join(r[0] for r in cur.fetchall())
                sql = cur.mogrify(statement, params).decode()
                raw.rollback()
            finally:
                raw.close()
            lines.append(f"-- {secs * 1e3:.1f} ms when recorded\n{sql}\n{plan_text}")
    finally:
        engine.dispose()
    return "\n\n".join(lines) or "(no statement over 5 ms: the time is spent in Python)"


# --------------------------------------------------------------------------- HTTP


def http_figure(url: str, model: Model, reps: int) -> Figure:
    """GET /v1/index/complaints through a real ``hub serve`` with fresh bearer tokens."""
    import httpx

    from hub.config import Settings
    from hub.db import make_engine, make_sessionmaker, transaction
    from hub.exchange import registry
    from hub.exchange.client import HubClient
    from hub.exchange.keys import generate_private_key, jwk_thumbprint, public_jwk
    from hub.services import build_hub

    fig = Figure("HTTP GET /v1/index/complaints")
    key_dir = Path(tempfile.mkdtemp(prefix="hub-bench-keys-"))
    env = hub_env(url, key_dir)
    build_hub(Settings.from_env(env)).engine.dispose()
    key = generate_private_key("EdDSA")
    key_id = jwk_thumbprint(public_jwk(key))[:16]
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            registry.add_key(
                session,
                OVERSIGHT,
                registry.KeyMaterial(jwk=public_jwk(key), key_id=key_id),
                now=datetime.now(UTC),
            )
    finally:
        engine.dispose()
    rng = random.Random(17)
    params = []
    for _ in range(reps + 2):
        p = str(model.tambon(rng))[:2]
        c = str(model.traffy_category(rng))
        params.append({"province": p, "category": c, "limit": "50"})
    with hub_server(env) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        agent = HubClient(server.base_url, agency=OVERSIGHT, key=key, kid=f"{OVERSIGHT}/{key_id}")
        tokens = [agent.token() for _ in params]  # signing is the caller's cost: before timing
        agent.http.close()
        for k, (q, token) in enumerate(zip(params, tokens, strict=True)):
            t = time.perf_counter()
            r = http.get(
                "/v1/index/complaints", params=q, headers={"Authorization": f"Bearer {token}"}
            )
            s = time.perf_counter() - t
            if r.status_code != 200:
                fig.error = f"HTTP {r.status_code}: {r.text[:200]}"
                break
            if k < 2:
                continue
            label = f"province={q['province']} category={q['category']}"
            fig.add(Plan(label, lambda _s: 0), s, len(r.json()["items"]))
    fig.extra["params"] = params[2:]
    return fig


def in_process_twin(url: str, model: Model, params: list[dict[str, str]]) -> Figure:
    """The HTTP query's work without HTTP: ``search`` + ``count`` (the page and its total)."""
    from hub import index as ix
    from hub.db import make_engine, make_sessionmaker
    from hub.exchange.tokens import Principal

    fig = Figure("same, in-process search+count")
    viewer = Principal(OVERSIGHT, frozenset({"oversight"}), "oversight")
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        for q in params:
            f = ix.Filters(province=(q["province"],), category=(q["category"],))

            def page_and_total(s: Any, f: Any = f) -> int:
                items = ix.search(s, f, viewer=viewer, limit=50)["items"]
                ix.count(s, f, viewer=viewer)
                return len(items)

            plan = Plan(str(q), page_and_total)
            secs, n = timed(sessions, plan)
            fig.add(plan, secs, n)
    finally:
        engine.dispose()
    return fig


# --------------------------------------------------------------------------- report


def distribution_check(url: str, model: Model, out: Any = None) -> dict[str, Any]:
    """What was loaded, against what the source says (printed; the smoke test asserts it)."""
    from sqlalchemy import text

    from hub.db import make_engine

    out = out or sys.stdout
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cats = dict(conn.execute(text(
                "SELECT category, count(*) FROM cases GROUP BY category ORDER BY 2 DESC"
            )).all())  # fmt: skip
            provinces = dict(conn.execute(text(
                "SELECT province_code, count(*) FROM cases GROUP BY 1 ORDER BY 2 DESC"
            )).all())  # fmt: skip
            statuses = dict(conn.execute(text(
                "SELECT status, count(*) FROM cases GROUP BY 1 ORDER BY 2 DESC"
            )).all())  # fmt: skip
            cutoff = model.now - timedelta(days=60)
            old = dict(conn.execute(
                text("SELECT status, count(*) FROM cases WHERE opened_at < :c GROUP BY 1"),
                {"c": cutoff},
            ).all())  # fmt: skip
            breached = conn.execute(text(
                "SELECT count(*) FROM cases WHERE accept_breached_at IS NOT NULL "
                "OR resolve_breached_at IS NOT NULL"
            )).scalar_one()  # fmt: skip
            n_cases = sum(cats.values())
            n_complaints = conn.execute(text("SELECT count(*) FROM complaints")).scalar_one()
            n_parties = conn.execute(text("SELECT count(*) FROM case_parties")).scalar_one()
            n_events = conn.execute(text("SELECT count(*) FROM case_events")).scalar_one()
            tambons = conn.execute(
                text("SELECT count(DISTINCT tambon_code) FROM cases")
            ).scalar_one()
    finally:
        engine.dispose()
    src_top = model.source.categories.most_common(3)
    old_total = sum(old.values()) or 1
    result = {
        "cases": n_cases,
        "complaints": n_complaints,
        "parties": n_parties,
        "events": n_events,
        "categories": cats,
        "provinces": provinces,
        "statuses": statuses,
        "old_resolved_share": old.get("resolved", 0) / old_total,
        "breached_share": breached / max(1, n_cases),
        "tambons": tambons,
    }
    print(
        f"loaded: {n_complaints:,} complaints, {n_cases:,} cases, {n_parties:,} parties, "
        f"{n_events:,} timeline events; {tambons:,} tambons in {len(provinces)} provinces",
        file=out,
    )
    print(
        "  categories (top 5): "
        + ", ".join(f"{c} {n / n_cases:.1%}" for c, n in list(cats.items())[:5])
        + "; source: "
        + ", ".join(f"{c} {n / model.source.rows:.1%}" for c, n in src_top),
        file=out,
    )
    print(
        "  provinces (top 3): "
        + ", ".join(f"{p} {n / n_cases:.1%}" for p, n in list(provinces.items())[:3]),
        file=out,
    )
    print(
        "  statuses: " + ", ".join(f"{s} {n / n_cases:.1%}" for s, n in statuses.items())
        + f"; older than 60 d resolved {result['old_resolved_share']:.1%} (Traffy dataset: "
        f"{DATASET_STATES['finish'] / sum(DATASET_STATES.values()):.1%} finish); "
        f"SLA breached {result['breached_share']:.1%}",
        file=out,
    )  # fmt: skip
    return result


def print_figures(
    figures: list[Figure], floor: dict[str, float], target_ms: float, out: Any = None
) -> None:
    out = out or sys.stdout
    pk = floor["pk_get"]
    print(
        f"{'query':<34}{'reps':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'p95/pk':>8}{'rows p50':>10}  target",
        file=out,
    )
    for f in figures:
        if f.error:
            print(f"{f.name:<34} not measured: {f.error}", file=out)
            continue
        ok = "met" if f.p95 * 1e3 <= target_ms else "MISSED"
        if f.name.startswith("export"):
            ok = "(rows/s)"
        elif f.name in REFERENCES:
            ok = "(reference)"
        print(
            f"{f.name:<34}{len(f.seconds):>5}{f.p50 * 1e3:>9.1f}{f.p95 * 1e3:>9.1f}"
            f"{f.worst * 1e3:>9.1f}{f.p95 / pk:>8.0f}{median(f.rows):>10.0f}  {ok}",
            file=out,
        )
        if f.p95 * 1e3 > target_ms and not (f.name.startswith("export") or f.name in REFERENCES):
            slow = sorted(zip(f.seconds, f.labels, strict=True), reverse=True)[:4]
            print(
                f"{'':<6}slowest: " + "; ".join(f"{lab} {s * 1e3:.0f} ms" for s, lab in slow),
                file=out,
            )
        for k, val in f.extra.items():
            if k == "params":
                continue
            shown = f"{val:,.1f}" if isinstance(val, float) else str(val)
            print(f"{'':<6}{k}: {shown}", file=out)
    print(
        f"machine floor: SELECT 1 p50 {floor['select1'] * 1e3:.2f} ms, primary-key get p50 "
        f"{pk * 1e3:.2f} ms (same ORM session machinery)",
        file=out,
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="complaints to generate")
    p.add_argument("--seed", type=int, default=7, help="generator seed (same seed, same rows)")
    p.add_argument("--now", help="the data's 'now', YYYY-MM-DD (default: today, UTC midnight)")
    p.add_argument("--reps", type=int, default=30, help="timed repetitions per query (>= 30)")
    p.add_argument("--chunk", type=int, default=20_000, help="complaints per COPY chunk")
    p.add_argument("--events-share", type=float, default=0.1, help="cases given a timeline")
    p.add_argument("--keep", action="store_true", help="reuse a database loaded before")
    p.add_argument("--load-only", action="store_true", help="load, check, no queries")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP API figure")
    p.add_argument("--no-export", action="store_true", help="skip the export figure")
    p.add_argument("--target-ms", type=float, default=100.0, help="p95 target per query")
    p.add_argument("--explain-all", action="store_true", help="EXPLAIN every query, not misses")
    p.add_argument(
        "--fold",
        type=int,
        default=0,
        metavar="N",
        help="queue N random cases and time folding them in background-sized batches",
    )
    p.add_argument(
        "--only", default="", help='query names to run, ";"-separated ("count, filtered;http")'
    )
    args = p.parse_args(argv)
    if args.rows < 1 or args.reps < 1 or args.chunk < 1:
        p.error("counts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    url, temporary = database_url_from_env()
    warn_unless_postgres(url, temporary)
    ensure_database(url)
    meta = loaded_meta(url) if args.keep else None
    if meta and meta.get("now"):
        now = datetime.fromisoformat(meta["now"])
    elif args.now:
        now = datetime.fromisoformat(args.now).replace(tzinfo=UTC)
    else:
        now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    t0 = time.perf_counter()
    source = fit_source()
    model = Model(source, now=now)
    print(
        f"source: {source.rows} real Traffy rows ({SOURCE_CSV.relative_to(ROOT)}), "
        f"{len(source.phrases)} phrases, {len(source.tambons)} tambons; model built in "
        f"{time.perf_counter() - t0:.1f} s: {len(model.agencies)} agencies, "
        f"{len(model.tambon.items)} tambons, data ends {now:%Y-%m-%d}"
    )
    report: LoadReport | None = None
    if meta:
        print(f"database {_safe(url)}: reusing {meta['complaints']:,} complaints (--keep)")
        migrated = bring_to_head(url)
        if migrated:
            print(f"  migrated {migrated} with the hub's own migrations, then ANALYZE")
    else:
        print(f"database {_safe(url)}: emptied and migrated (bench database)")
        reset_database(url)
        report = load(url, model, args.rows, seed=args.seed, chunk=args.chunk,
                      events_share=args.events_share)  # fmt: skip
        _print_load(report)
    dist = distribution_check(url, model)
    if args.load_only:
        return 0
    try:
        import hub.index  # noqa: F401
    except ImportError:
        print("hub.index is not there yet: no queries to time")
        return 0
    if args.fold and is_postgres(url):
        print(fold_figure(url, args.fold))
    print(f"\nqueries: {args.reps} repetitions each, warm, parameters varied (seeded)")
    only = [s.strip() for s in args.only.split(";") if s.strip()]
    figures, floor = run_queries(url, model, reps=args.reps, only=only,
                                 export=not args.no_export)  # fmt: skip
    http: list[Figure] = []
    if not args.no_http and (not only or "http" in only):
        print("  HTTP ...", flush=True)
        try:
            fig = http_figure(url, model, args.reps)
            http.append(fig)
            if fig.seconds:
                http.append(in_process_twin(url, model, fig.extra["params"]))
        except Exception as exc:
            http.append(Figure("HTTP GET /v1/index/complaints", error=f"{exc!r}"[:300]))
    print("\n" + "=" * 90)
    print(
        f"index benchmark: {_safe(url)}; {dist['complaints']:,} complaints / {dist['cases']:,} "
        f"cases; {cpu_count()} CPU core(s) shared by client and database"
    )
    if is_postgres(url):
        print("PostgreSQL: " + pg_settings(url))
    if report:
        print(
            f"load: {report.total_s:.0f} s ({report.rate:,.0f} complaints/s), of which "
            f"indexes rebuilt in {sum(report.index_s.values()):.0f} s, VACUUM ANALYZE "
            f"{report.analyze_s:.0f} s"
        )
    print_figures(figures + http, floor, args.target_ms)
    if len(http) == 2 and not http[0].error and http[1].seconds:
        over = http[0].p50 - http[1].p50
        print(
            f"API overhead (HTTP p50 minus in-process search+count p50): {over * 1e3:.1f} ms "
            "(token check with a jti write, parsing, JSON, uvicorn)"
        )
    misses = [f for f in figures if f.seconds and not f.name.startswith("export")
              and (args.explain_all or (f.p95 * 1e3 > args.target_ms
                                        and f.name not in REFERENCES))]  # fmt: skip
    if misses and is_postgres(url):
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the slowest repetition of each miss:")
        for f in misses:
            slowest = max(range(len(f.seconds)), key=lambda k: f.seconds[k])
            print(f"\n### {f.name} — {f.labels[slowest]} ({f.seconds[slowest] * 1e3:.0f} ms)")
            print(explain(url, f.plans[slowest]))
    measured = [f for f in figures if f.seconds and not f.name.startswith("export")
                and f.name not in REFERENCES]  # fmt: skip
    if measured:
        worst = max(measured, key=lambda f: f.p95)
        met = sum(1 for f in measured if f.p95 * 1e3 <= args.target_ms)
        print(
            f"index p95 worst {worst.p95 * 1e3:.0f} ms ({worst.name}) at "
            f"{dist['complaints']:,} rows; {met}/{len(measured)} queries under "
            f"{args.target_ms:.0f} ms; worst = {worst.p95 / floor['pk_get']:.0f} × pk lookup"
        )
    return 0


def _print_load(r: LoadReport) -> None:
    print(
        f"loaded {r.complaints:,} complaints in {r.total_s:.1f} s ({r.rate:,.0f}/s; this "
        f"process used {r.client_cpu_s:.0f} s CPU): generate {r.generate_s:.1f} s "
        f"(overlapped), generate+copy {r.copy_s:.1f} s, "
        f"indexes {sum(r.index_s.values()):.1f} s, VACUUM ANALYZE {r.analyze_s:.1f} s"
    )
    for name, secs in sorted(r.index_s.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  index {name}: {secs:.1f} s")
    for t, cols in r.skipped_columns.items():
        if cols:
            print(f"  {t}: left to defaults/NULL: {', '.join(cols)}")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())

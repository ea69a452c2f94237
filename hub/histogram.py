"""Log-spaced histograms: approximate ``percentile_cont`` with a stated error bound.

Exact medians over every matching case cannot be fast at national scale (they sort every
matching case, about a second at a million). The index therefore keeps, beside its
counts, how many cases' times to accept and to resolve fall in each of a fixed set of
buckets (``hub.index_facts`` folds them), and answers percentiles from those buckets.

The buckets (the DDSketch construction): with ``GAMMA = (1 + ALPHA) / (1 - ALPHA)``,
bucket ``k >= 1`` holds the durations in ``(EPSILON_H * GAMMA**(k-2), EPSILON_H *
GAMMA**(k-1)]`` hours, bucket ``-k`` the same magnitudes below zero, and bucket 0 every
``|x| < EPSILON_H``. A bucket stands for ``2 * upper / (GAMMA + 1)`` (0 for bucket 0),
which is within ``ALPHA`` (relative) of every duration in it, or within ``EPSILON_H``
(absolute) in bucket 0.

Why the bound carries over to ``percentile_cont``: the bucket order is the value order, so
the bucket holding the r-th smallest count is the r-th smallest value's bucket. The answer
interpolates the representatives of the two ranks ``percentile_cont`` interpolates, with
the same weights, so for durations of one sign:

    |approx - exact| <= ALPHA * |exact| + EPSILON_H

(with mixed signs: ``ALPHA * ((1-t) |x_lo| + t |x_hi|) + EPSILON_H``). Bucket indexes are
computed in SQL (:func:`bucket_sql`) by the fold and on the fly; :func:`bucket_of` is the
same formula in Python for tests.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func

ALPHA = 0.05
"""Relative error of a percentile (5 %: a median of 36 h is answered as 34.2 to 37.8 h)."""
EPSILON_H = 1.0 / 60.0
"""Durations under a minute are one bucket, answered as 0 (absolute error < 1 minute)."""
GAMMA = (1.0 + ALPHA) / (1.0 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)

Histogram = dict[int, int]
"""Bucket index -> how many durations fell in it (zero counts are never kept)."""


def bucket_of(hours: float) -> int:
    """The bucket of one duration (the SQL of :func:`bucket_sql`, for tests)."""
    magnitude = abs(hours)
    if magnitude < EPSILON_H:
        return 0
    k = math.ceil(math.log(magnitude / EPSILON_H) / _LOG_GAMMA) + 1
    return k if hours > 0 else -k


def bucket_sql(hours: Any) -> ColumnElement[int]:
    """:func:`bucket_of` as a SQL expression (PostgreSQL: ``ln``, ``ceil``, ``sign``)."""
    magnitude = func.abs(hours)
    k = func.ceil(func.ln(magnitude / EPSILON_H) / _LOG_GAMMA) + 1
    return cast(case((magnitude < EPSILON_H, 0), else_=func.sign(hours) * k), Integer)


BUCKET_SQL = (
    "CASE WHEN abs({x}) < {eps!r} THEN 0 ELSE CAST(sign({x}) * "
    "(ceil(ln(abs({x}) / {eps!r}) / {lg!r}) + 1) AS INTEGER) END"
)
"""The same expression as text, for the fold's hand-written SQL (``{x}``: the column)."""


def bucket_text(column: str) -> str:
    return BUCKET_SQL.format(x=column, eps=EPSILON_H, lg=_LOG_GAMMA)


def representative(k: int) -> float:
    """The value a bucket answers with: within ALPHA of every duration in it."""
    if k == 0:
        return 0.0
    upper = EPSILON_H * GAMMA ** (abs(k) - 1)
    value = 2.0 * upper / (GAMMA + 1.0)
    return value if k > 0 else -value


def add(into: Histogram, keys: Sequence[int], counts: Sequence[int]) -> None:
    """Adds one stored histogram (parallel arrays of buckets and counts) into ``into``.
    A bucket may reach zero (``percentiles`` skips it): the loop stays this short because
    it runs for every bucket of every cell a query reads."""
    get = into.get
    for k, n in zip(keys, counts, strict=True):
        into[k] = get(k, 0) + n


def merged(parts: Sequence[tuple[Sequence[int], Sequence[int]]]) -> Histogram:
    """The sum of stored histograms: the largest is copied whole (in C), the rest added."""
    if not parts:
        return {}
    largest = max(range(len(parts)), key=lambda i: len(parts[i][0]))
    out: Histogram = dict(zip(*parts[largest], strict=True))
    for i, (keys, counts) in enumerate(parts):
        if i != largest:
            add(out, keys, counts)
    return out


def percentiles(hist: Histogram, fractions: Sequence[float]) -> list[float | None]:
    """``percentile_cont(fractions)`` answered from the buckets (None for no durations)."""
    if not hist:
        return [None for _ in fractions]
    keys, counts = zip(*sorted(hist.items()), strict=True)  # C loops: this runs per group
    return sorted_percentiles(keys, counts, fractions)


def sorted_percentiles(
    keys: Sequence[int], counts: Sequence[int], fractions: Sequence[float]
) -> list[float | None]:
    """:func:`percentiles` of one stored histogram (buckets ascending, counts at least
    zero): no dictionary is built, the cumulative counts are searched (both loops in C;
    a bucket emptied to zero is never the answer, ``bisect_right`` passes over it)."""
    ends = list(accumulate(counts))  # ends[i]: how many durations up to bucket i's end
    total = ends[-1] if ends else 0
    if not total:
        return [None for _ in fractions]

    def at(rank: int) -> float:
        return representative(keys[bisect_right(ends, rank)])

    out: list[float | None] = []
    for p in fractions:
        position = p * (total - 1)
        low = math.floor(position)
        high = min(low + 1, total - 1)
        lo_value, hi_value = at(low), at(high)
        out.append(lo_value + (hi_value - lo_value) * (position - low))
    return out


def bound(exact_low: float, exact_high: float, t: float) -> float:
    """The largest error allowed against ``percentile_cont`` interpolating these two ranks
    with weight ``t`` (the module docstring's bound)."""
    return ALPHA * ((1 - t) * abs(exact_low) + t * abs(exact_high)) + EPSILON_H


__all__ = [
    "ALPHA",
    "EPSILON_H",
    "GAMMA",
    "Histogram",
    "add",
    "bound",
    "bucket_of",
    "bucket_sql",
    "bucket_text",
    "merged",
    "percentiles",
    "representative",
    "sorted_percentiles",
]

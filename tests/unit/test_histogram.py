"""``hub.histogram``: approximate ``percentile_cont`` from log-spaced buckets stays within
its documented bound of the exact figure, whatever the data."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import histogram
from hub.histogram import ALPHA, EPSILON_H, bucket_of, percentiles, representative
from hub.index_stats import percentile_cont

FRACTIONS = (0.0, 0.1, 0.5, 0.9, 0.99, 1.0)
SLACK = 1e-9  # floating point at a bucket's edge: a value may land one ulp off


def _hist(values: list[float]) -> histogram.Histogram:
    out: histogram.Histogram = {}
    for v in values:
        k = bucket_of(v)
        out[k] = out.get(k, 0) + 1
    return out


def _ranks(values: list[float], p: float) -> tuple[float, float, float]:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low], ordered[high], position - low


hours = st.floats(min_value=0.0, max_value=24 * 400.0, allow_nan=False)
# log-uniform too: most of the data's times are hours, a few are seconds or months
log_hours = st.floats(min_value=-8.0, max_value=9.2).map(math.exp)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(hours | log_hours, min_size=1, max_size=400))
def test_approximate_percentiles_are_within_the_bound_of_the_exact_ones(values):
    """For durations of one sign: ``|approx - exact| <= ALPHA * exact + EPSILON_H``."""
    got = percentiles(_hist(values), FRACTIONS)
    for p, approx in zip(FRACTIONS, got, strict=True):
        exact = percentile_cont(values, p)
        assert approx is not None and exact is not None
        assert abs(approx - exact) <= ALPHA * exact + EPSILON_H + SLACK * exact, (p, exact)


@settings(max_examples=200, deadline=None)
@given(values=st.lists((hours | log_hours).flatmap(lambda h: st.sampled_from((h, -h))), min_size=1))
def test_with_negative_durations_the_interpolated_bound_holds(values):
    got = percentiles(_hist(values), FRACTIONS)
    for p, approx in zip(FRACTIONS, got, strict=True):
        low, high, t = _ranks(values, p)
        exact = percentile_cont(values, p)
        assert approx is not None and exact is not None
        limit = histogram.bound(low, high, t) + SLACK * max(abs(low), abs(high))
        assert abs(approx - exact) <= limit


@given(value=hours | log_hours)
def test_a_bucket_stands_for_its_values_within_alpha(value):
    k = bucket_of(value)
    rep = representative(k)
    if k == 0:
        assert value < EPSILON_H and rep == 0.0
    else:
        assert abs(rep - value) <= ALPHA * value * (1 + SLACK)


@given(a=hours | log_hours, b=hours | log_hours)
def test_buckets_keep_the_order_of_values(a, b):
    """The bucket of the r-th value is the r-th bucket by count: the bound rests on it."""
    if a <= b:
        assert bucket_of(a) <= bucket_of(b)
        assert bucket_of(-a) >= bucket_of(-b)


def test_no_durations_no_percentiles_and_emptied_buckets_are_ignored():
    assert percentiles({}, (0.5,)) == [None]
    h = _hist([1.0, 2.0, 50.0])
    histogram.add(h, [bucket_of(50.0)], [-1])  # a case folded out again
    assert percentiles(h, (0.0, 1.0)) == [
        pytest.approx(representative(bucket_of(1.0))),
        pytest.approx(representative(bucket_of(2.0))),
    ]
    histogram.add(h, [bucket_of(1.0), bucket_of(2.0)], [-1, -1])
    assert percentiles(h, (0.5,)) == [None]


def test_the_bound_is_what_the_api_states():
    """openapi.yaml and the dashboard say 5 % and one minute."""
    assert (ALPHA, EPSILON_H, histogram.GAMMA) == (0.05, 1 / 60, 1.05 / 0.95)

"""Backoff, jitter, cap and the circuit breaker's pause, as pure arithmetic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.exchange.outbox import RetryPolicy
from hub.exchange.push import _retry_after


@given(
    st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=10_000) | st.none()
)
def test_delay_is_jittered_capped_and_honours_retry_after(
    attempts: int, retry_after: float | None
) -> None:
    p = RetryPolicy(base_seconds=2, cap_seconds=600)
    ceiling = min(600, 2 * 2 ** (attempts - 1))
    d = p.delay(attempts, retry_after)
    assert d <= max(ceiling, min(retry_after or 0, 600))
    assert d >= ceiling / 2 or (retry_after is not None and d >= min(retry_after, 600))
    assert d <= 600


def test_delays_grow_exponentially_until_the_cap() -> None:
    p = RetryPolicy(base_seconds=1, cap_seconds=60)
    lows = [p.delay(n) for n in range(1, 12)]
    assert lows[0] <= 1 and lows[3] >= 4 and max(lows) <= 60


def test_breaker_pauses_only_after_the_threshold_and_caps() -> None:
    p = RetryPolicy(base_seconds=2, cap_seconds=300, breaker_threshold=5)
    assert [p.pause(n) for n in range(5)] == [0, 0, 0, 0, 0]
    assert p.pause(5) == 2 and p.pause(6) == 4 and p.pause(50) == 300


def test_retry_after_in_both_forms() -> None:
    assert _retry_after("120") == 120
    assert _retry_after(None) is None and _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past

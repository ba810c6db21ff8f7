from __future__ import annotations

import pytest

from faultwise.resilience import CountWindow, TimeWindow, WindowCounts
from faultwise.resilience._stores import FAILURE, SLOW, SlidingSum, TokenBucket
from faultwise.testing import FakeClock


def test_a_count_window_keeps_the_last_size_calls() -> None:
    window = CountWindow(3)
    window.record(FAILURE)
    window.record(SLOW | FAILURE)
    window.record_success()
    window.record_success()
    assert WindowCounts(3, 1, 1) == window.counts()


def test_a_count_window_reset_forgets_everything() -> None:
    window = CountWindow(3)
    window.record(FAILURE)
    window.reset()
    window.record_success()
    assert WindowCounts(1, 0, 0) == window.counts()


def test_a_time_window_resets_and_rolls() -> None:
    clock = FakeClock()
    window = TimeWindow(2, clock=clock)
    window.record(FAILURE)
    window.record_success()
    clock.advance(1.0)
    window.record(SLOW)
    assert WindowCounts(3, 1, 1) == window.counts()
    clock.advance(1.0)
    assert WindowCounts(1, 0, 1) == window.counts()
    window.reset()
    assert WindowCounts(0, 0, 0) == window.counts()


@pytest.mark.parametrize("make", [lambda: CountWindow(0), lambda: TimeWindow(0)])
def test_windows_need_a_positive_size(make: object) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        make()  # type: ignore[operator]


def test_window_reprs_show_their_size() -> None:
    assert ("CountWindow(size=5)", "TimeWindow(seconds=7)") == (
        repr(CountWindow(5)),
        repr(TimeWindow(7)),
    )


def test_rates_of_an_empty_window_are_zero() -> None:
    assert (0.0, 0.0) == (WindowCounts(0, 0, 0).failure_rate, WindowCounts(0, 0, 0).slow_call_rate)


def test_a_sliding_sum_drops_slices_as_time_passes() -> None:
    clock = FakeClock()
    total = SlidingSum(10.0, slices=10, clock=clock)
    total.add(5)
    clock.advance(5.0)
    total.add(3)
    assert 8 == total.total()
    clock.advance(5.5)
    assert 3 == total.total()
    assert not total.add_if_at_least(-4, 0)
    assert total.add_if_at_least(-3, 0)


def test_a_token_bucket_reserves_refunds_and_refills() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 1.0, clock=clock)
    assert (0.0, None, 0.5) == (bucket.take(0.0), bucket.take(0.1), bucket.take(1.0))
    bucket.refund()
    assert 0.0 == bucket.available()
    clock.advance(10.0)
    assert 1.0 == bucket.available()

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from faultwise.resilience import CountWindow, TimeWindow, WindowCounts
from faultwise.resilience._stores import FAILURE, SLOW, SlidingSum, TokenBucket
from faultwise.testing import FakeClock

THREADS, CALLS = 8, 20_000


class SteppingClock(FakeClock):
    """A fake clock that runs ``on_read`` once, after its next reading is taken: what another
    thread does between a caller's clock read and its next step."""

    def __init__(self) -> None:
        super().__init__()
        self.on_read: Callable[[], object] | None = None

    def now(self) -> float:
        value = super().now()
        hook, self.on_read = self.on_read, None
        if hook is not None:
            hook()
        return value


def in_threads(work: Callable[[], object]) -> None:
    """``work`` in ``THREADS`` threads at once."""
    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


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


def test_a_time_window_success_in_a_new_second_rolls_the_window() -> None:
    clock = FakeClock()
    window = TimeWindow(2, clock=clock)
    window.record_success()
    clock.advance(1.5)
    window.record_success()
    window.record_success()
    assert WindowCounts(3, 0, 0) == window.counts()
    clock.advance(1.0)
    window.record_success()
    assert WindowCounts(3, 0, 0) == window.counts()
    clock.advance(5.0)
    assert WindowCounts(0, 0, 0) == window.counts()


def test_a_success_racing_a_roll_is_counted_in_the_new_second() -> None:
    clock = SteppingClock()
    window = TimeWindow(2, clock=clock)

    def another_thread_rolls() -> None:
        clock.advance(1.0)
        window.record(FAILURE)

    clock.on_read = another_thread_rolls
    window.record_success()  # read second 0; the roll to second 1 came before its count
    assert WindowCounts(2, 1, 0) == window.counts()
    clock.advance(1.0)  # second 0 leaves the window; the late success is in second 1
    assert WindowCounts(2, 1, 0) == window.counts()


def test_a_time_window_reset_keeps_counting_afterwards() -> None:
    window = TimeWindow(5, clock=FakeClock())
    window.record_success()
    window.record(FAILURE | SLOW)
    window.reset()
    window.record_success()
    window.record(SLOW)
    assert WindowCounts(2, 0, 1) == window.counts()


@pytest.mark.usefixtures("busy_switching")
def test_threads_recording_while_the_seconds_roll_lose_no_call() -> None:
    clock = FakeClock()
    window = TimeWindow(1000, clock=clock)  # longer than the test's 80 fake seconds

    def work() -> None:
        for i in range(CALLS):
            if i % 1000 == 0:
                clock.advance(0.5)  # rolls race the other threads' lock-free successes
            if i % 10 == 0:
                window.record(FAILURE)
            else:
                window.record_success()

    in_threads(work)
    assert WindowCounts(THREADS * CALLS, THREADS * CALLS // 10, 0) == window.counts()


@pytest.mark.usefixtures("busy_switching")
def test_threads_adding_units_while_the_slices_roll_lose_no_addition() -> None:
    clock = FakeClock()
    total = SlidingSum(1000.0, slices=100, unit=3, clock=clock)

    def work() -> None:
        for i in range(CALLS):
            if i % 1000 == 0:
                clock.advance(2.5)  # 8 x 20 x 2.5 s stays inside the 1000 s window
            total.add(3)
            if i % 100 == 0:
                total.add(-1)

    in_threads(work)
    assert THREADS * (CALLS * 3 - CALLS // 100) == total.total()


def test_a_sliding_sum_adds_its_unit_across_slices() -> None:
    clock = FakeClock()
    total = SlidingSum(10.0, slices=10, unit=2, clock=clock)
    total.add(2)
    clock.advance(5.0)
    total.add(2)
    total.add(2)
    assert 6 == total.total()
    clock.advance(5.5)
    assert (4, True, 0) == (total.total(), total.add_if_at_least(-4, 0), total.total())


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

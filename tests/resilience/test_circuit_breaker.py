from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultwise.resilience import (
    BreakerRejected,
    BreakerStateChanged,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    CountWindow,
    Event,
    ExponentialBackoff,
    Jitter,
    Policy,
    RejectedError,
    TimeWindow,
    WindowCounts,
)
from faultwise.testing import FakeClock

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


def fail() -> None:
    raise ConnectionError("down")


def ok() -> str:
    return "ok"


def small_breaker(clock: FakeClock, **options: object) -> CircuitBreaker:
    config: dict[str, object] = {
        "minimum_calls": 4,
        "window": CountWindow(4),
        "open_duration": 10.0,
        "half_open_calls": 2,
        "clock": clock,
    }
    config.update(options)
    return CircuitBreaker(**config)  # type: ignore[arg-type]


def run(breaker: CircuitBreaker, fn: object) -> str:
    try:
        Policy(breaker).run(fn)  # type: ignore[arg-type]
    except CircuitOpenError:
        return "rejected"
    except ConnectionError:
        return "failed"
    return "ok"


def test_opens_when_the_failure_rate_reaches_the_threshold_after_minimum_calls() -> None:
    breaker = small_breaker(FakeClock())
    outcomes = [run(breaker, f) for f in (ok, ok, fail, fail, ok)]
    assert (["ok", "ok", "failed", "failed", "rejected"], OPEN) == (outcomes, breaker.state)


def test_stays_closed_below_minimum_calls_even_if_all_fail() -> None:
    breaker = small_breaker(FakeClock(), minimum_calls=4, window=CountWindow(10))
    assert ["failed"] * 3 == [run(breaker, fail) for _ in range(3)]
    assert CLOSED == breaker.state


def test_minimum_calls_is_capped_at_a_count_windows_size() -> None:
    breaker = small_breaker(FakeClock(), minimum_calls=100, window=CountWindow(2))
    [run(breaker, fail) for _ in range(2)]
    assert OPEN == breaker.state


def test_rejections_carry_the_remaining_open_time() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(4.0)
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert (6.0, OPEN, "circuit_breaker") == (
        info.value.retry_after,
        info.value.state,
        info.value.strategy,
    )
    assert isinstance(info.value, RejectedError)


def test_after_the_open_duration_probes_decide_closed() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(10.0)
    assert ["ok", "ok"] == [run(breaker, ok) for _ in range(2)]
    assert (CLOSED, WindowCounts(0, 0, 0)) == (breaker.state, breaker.snapshot().window)


def test_a_failed_probe_reopens_and_the_open_time_grows() -> None:
    clock = FakeClock()
    growing = ExponentialBackoff(10.0, cap=40.0, jitter=Jitter.NONE)
    breaker = small_breaker(clock, open_duration=growing, half_open_calls=1)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(10.0)
    assert "failed" == run(breaker, fail)
    clock.advance(19.0)
    assert "rejected" == run(breaker, ok)
    clock.advance(1.0)
    assert ("ok", CLOSED, 0) == (
        run(breaker, ok),
        breaker.state,
        breaker.snapshot().consecutive_opens,
    )


def test_half_open_admits_only_the_configured_number_of_concurrent_probes() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, half_open_calls=3, half_open_max_concurrent=1)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(10.0)
    first = breaker.try_acquire()
    assert (HALF_OPEN, None) == (breaker.state, breaker.try_acquire())
    assert first is not None
    breaker.on_success(first, 0.01)
    second = breaker.try_acquire()
    assert second is not None


def test_a_released_probe_frees_its_slot_without_deciding() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, half_open_calls=1)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(10.0)
    permit = breaker.try_acquire()
    assert permit is not None
    assert None is breaker.try_acquire()
    breaker.release(permit)
    assert (HALF_OPEN, permit) == (breaker.state, breaker.try_acquire())


def test_slow_calls_open_the_breaker_by_their_rate() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, slow_call_rate=0.5, slow_call_duration=1.0)

    def slow() -> str:
        clock.advance(2.0)
        return "ok"

    assert ["ok"] * 4 == [run(breaker, f) for f in (ok, ok, slow, slow)]
    assert (OPEN, 0.5) == (breaker.state, breaker.snapshot().window.slow_call_rate)


def test_errors_outside_record_on_count_as_successes() -> None:
    breaker = small_breaker(FakeClock(), record_on=TimeoutError)
    for _ in range(4):
        with pytest.raises(ConnectionError):
            Policy(breaker).run(fail)
    assert (CLOSED, WindowCounts(4, 0, 0)) == (breaker.state, breaker.snapshot().window)


def test_ignored_errors_count_as_nothing() -> None:
    breaker = small_breaker(FakeClock(), ignore_on=ConnectionError)
    [run(breaker, fail) for _ in range(4)]
    assert WindowCounts(0, 0, 0) == breaker.snapshot().window


def test_force_open_disable_and_close() -> None:
    breaker = small_breaker(FakeClock())
    breaker.force_open()
    assert ("rejected", CircuitState.FORCED_OPEN) == (run(breaker, ok), breaker.state)
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert None is info.value.retry_after
    breaker.disable()
    assert ["failed"] * 6 == [run(breaker, fail) for _ in range(6)]
    assert CircuitState.DISABLED == breaker.state
    breaker.close()
    assert (CLOSED, WindowCounts(0, 0, 0)) == (breaker.state, breaker.snapshot().window)


def test_state_changes_and_rejections_are_events() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, half_open_calls=1, name="payments")
    events: list[Event] = []
    breaker.on_event(events.append)
    [run(breaker, fail) for _ in range(4)]
    run(breaker, ok)
    clock.advance(10.0)
    run(breaker, ok)
    assert [
        BreakerStateChanged("payments", CLOSED, OPEN, 1.0, 0.0, 4),
        BreakerRejected("payments", OPEN, 10.0),
        BreakerStateChanged("payments", OPEN, HALF_OPEN, 0.0, 0.0, 0),
        BreakerStateChanged("payments", HALF_OPEN, CLOSED, 0.0, 0.0, 1),
    ] == events


def test_an_outcome_from_an_earlier_state_is_not_recorded() -> None:
    breaker = small_breaker(FakeClock())
    stale = breaker.try_acquire()
    assert stale is not None
    breaker.force_open()
    breaker.close()
    breaker.on_failure(stale, 0.0, ConnectionError())
    assert WindowCounts(0, 0, 0) == breaker.snapshot().window


def test_keyboard_interrupt_releases_the_probe_instead_of_failing_it() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, half_open_calls=1)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(10.0)

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Policy(breaker).run(interrupted)
    assert ("ok", CLOSED) == (run(breaker, ok), breaker.state)


def test_time_window_forgets_outcomes_older_than_its_seconds() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, window=TimeWindow(10, clock=clock), minimum_calls=3)
    [run(breaker, fail) for _ in range(2)]
    clock.advance(10.0)
    run(breaker, fail)
    assert (CLOSED, WindowCounts(1, 1, 0)) == (breaker.state, breaker.snapshot().window)
    run(breaker, ok)
    run(breaker, fail)
    assert OPEN == breaker.state


@pytest.mark.parametrize(
    "options",
    [
        {"failure_rate": 0.0},
        {"slow_call_rate": 1.5},
        {"slow_call_duration": 0.0},
        {"minimum_calls": 0},
        {"half_open_calls": 0},
    ],
)
def test_invalid_configuration_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker(**options)  # type: ignore[arg-type]


def test_no_lock_is_held_during_the_call() -> None:
    breaker = CircuitBreaker()
    barrier = threading.Barrier(8, timeout=5)

    def meet() -> str:
        barrier.wait()  # deadlocks (BrokenBarrierError) if calls were serialised
        return "ok"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(Policy(breaker).run(meet))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ["ok"] * 8 == results


@pytest.mark.usefixtures("busy_switching")
@pytest.mark.parametrize(
    "window",
    # the time window on the real clock: an hour long, so the seconds that pass roll its
    # buckets while the threads record, and no call leaves it
    [lambda: CountWindow(400_000), lambda: TimeWindow(3600)],
    ids=["count", "time"],
)
def test_32_threads_by_10000_calls_are_all_counted_exactly(
    window: Callable[[], CountWindow | TimeWindow],
) -> None:
    breaker = CircuitBreaker(window=window(), minimum_calls=400_000)
    policy = Policy(breaker)

    def work() -> None:
        for i in range(10_000):
            with contextlib.suppress(ConnectionError):
                policy.run(fail if i % 10 == 0 else ok)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert WindowCounts(320_000, 32_000, 0) == breaker.snapshot().window


async def test_1000_tasks_share_one_breaker() -> None:
    breaker = CircuitBreaker(window=CountWindow(2000), minimum_calls=2000)
    policy = Policy(breaker)

    async def call(i: int) -> str:
        await asyncio.sleep(0)
        if i % 4 == 0:
            raise ConnectionError
        return "ok"

    results = await asyncio.gather(
        *(policy.run_async(call, i) for i in range(1000)), return_exceptions=True
    )
    assert 750 == results.count("ok")
    assert WindowCounts(1000, 250, 0) == breaker.snapshot().window


async def test_a_cancelled_probe_gives_its_slot_back() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, half_open_calls=1)
    [run(breaker, fail) for _ in range(4)]
    clock.advance(10.0)
    started = asyncio.Event()

    async def hang() -> str:
        started.set()
        await asyncio.sleep(60)
        return "late"

    task = asyncio.create_task(Policy(breaker).run_async(hang))
    await started.wait()
    assert None is breaker.try_acquire()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def fine() -> str:
        return "ok"

    assert ("ok", CLOSED) == (await Policy(breaker).run_async(fine), breaker.state)


async def test_async_failures_are_recorded_and_open_the_breaker() -> None:
    breaker = small_breaker(FakeClock())

    async def down() -> None:
        raise ConnectionError

    for _ in range(4):
        with pytest.raises(ConnectionError):
            await Policy(breaker).run_async(down)
    with pytest.raises(CircuitOpenError):
        await Policy(breaker).run_async(down)


# -- property test against a reference model ---------------------------------------------------


class Model:
    """The breaker's rules written as plainly as possible, one call at a time."""

    def __init__(self, size: int, minimum: int, rate: float, slow_rate: float, probes: int) -> None:
        self.size, self.minimum, self.rate, self.slow_rate = (
            size,
            min(minimum, size),
            rate,
            slow_rate,
        )
        self.probes = probes
        self.state = CLOSED
        self.window: list[tuple[bool, bool]] = []
        self.probe_results: list[bool] = []
        self.open_until = 0.0

    def permitted(self, now: float) -> bool:
        if self.state is OPEN and now >= self.open_until:
            self.state, self.probe_results = HALF_OPEN, []
        return self.state is not OPEN

    def record(self, failed: bool, slow: bool, now: float) -> None:
        if self.state is HALF_OPEN:
            self.probe_results.append(failed)
            failures = sum(self.probe_results)
            if failures / self.probes >= self.rate:
                self.state, self.open_until = OPEN, now + 10.0
            elif (failures + self.probes - len(self.probe_results)) / self.probes < self.rate:
                self.state, self.window = CLOSED, []
            return
        self.window = [*self.window, (failed, slow)][-self.size :]
        n = len(self.window)
        failure_rate = sum(f for f, _ in self.window) / n
        slow_rate = sum(s for _, s in self.window) / n
        if (
            (failed or slow)
            and n >= self.minimum
            and (failure_rate >= self.rate or slow_rate >= self.slow_rate)
        ):
            self.state, self.open_until = OPEN, now + 10.0


operations = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.booleans(), st.booleans()),
        st.tuples(st.just("wait"), st.sampled_from([1.0, 5.0, 10.0]), st.just(False)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 8),
    minimum=st.integers(1, 10),
    rate=st.sampled_from([0.2, 0.5, 0.75, 1.0]),
    slow_rate=st.sampled_from([0.5, 1.0]),
    probes=st.integers(1, 4),
    ops=operations,
)
def test_breaker_matches_the_reference_model(  # noqa: PLR0917 (hypothesis passes by name)
    size: int,
    minimum: int,
    rate: float,
    slow_rate: float,
    probes: int,
    ops: list[tuple[str, object, bool]],
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        failure_rate=rate,
        slow_call_rate=slow_rate,
        slow_call_duration=1.0,
        minimum_calls=minimum,
        window=CountWindow(size),
        open_duration=10.0,
        half_open_calls=probes,
        clock=clock,
    )
    model = Model(size, minimum, rate, slow_rate, probes)
    for op, a, slow in ops:
        if op == "wait":
            clock.advance(float(a))  # type: ignore[arg-type]
            continue
        failed = bool(a)

        def call(failed: bool = failed, slow: bool = slow) -> str:
            clock.advance(2.0 if slow else 0.1)
            if failed:
                raise ConnectionError
            return "ok"

        expected = model.permitted(clock.now())
        outcome = run(breaker, call)
        if expected:
            model.record(failed, slow, clock.now())
        assert (expected, model.state) == (outcome != "rejected", breaker.state)


def test_acquire_in_the_closed_state_grants_at_once() -> None:
    breaker = CircuitBreaker()
    assert breaker.try_acquire() == breaker.acquire()


def test_outcomes_while_disabled_are_not_recorded() -> None:
    breaker = small_breaker(FakeClock())
    breaker.disable()
    permit = breaker.acquire()
    breaker.on_failure(permit, 0.0, ConnectionError())
    assert (CircuitState.DISABLED, WindowCounts(0, 0, 0)) == (
        breaker.state,
        breaker.snapshot().window,
    )


def test_open_remaining_counts_down_only_while_open() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock)
    assert 0.0 == breaker.open_remaining
    [run(breaker, fail) for _ in range(4)]
    clock.advance(3.0)
    assert 7.0 == breaker.open_remaining


def test_adopt_takes_a_state_decided_elsewhere_with_an_event() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock)
    events: list[Event] = []
    breaker.on_event(events.append)
    breaker.adopt(OPEN, open_for=5.0)
    breaker.adopt(OPEN, open_for=4.0)  # same state: only the open time moves
    assert (OPEN, 4.0, 1) == (breaker.state, breaker.open_remaining, len(events))
    breaker.adopt(CLOSED)
    assert (CLOSED, 2) == (breaker.state, len(events))


def test_repr_shows_name_and_state() -> None:
    assert "CircuitBreaker(name='db', state=closed)" == repr(CircuitBreaker(name="db"))


async def test_slow_async_calls_are_recorded_as_slow() -> None:
    clock = FakeClock()
    breaker = small_breaker(clock, slow_call_rate=0.5, slow_call_duration=1.0)

    async def slow() -> str:
        clock.advance(2.0)
        return "ok"

    for _ in range(4):
        await Policy(breaker).run_async(slow)
    assert (OPEN, 1.0) == (breaker.state, breaker.snapshot().window.slow_call_rate)

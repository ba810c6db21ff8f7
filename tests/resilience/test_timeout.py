from __future__ import annotations

import asyncio
import time

import pytest

from faultwise.resilience import (
    Event,
    Policy,
    ResilienceError,
    TimedOut,
    Timeout,
    TimeoutExceeded,
    deadline,
    remaining,
)
from faultwise.testing import FakeClock


def test_a_sync_call_sees_its_time_limit_as_the_deadline() -> None:
    clock = FakeClock()
    assert 2.0 == Policy(Timeout(2.0, clock=clock)).run(remaining)


def test_a_sync_call_that_overruns_raises_a_builtin_timeout_error_when_it_returns() -> None:
    clock = FakeClock()
    events: list[Event] = []
    timeout = Timeout(1.0, clock=clock, name="db")
    timeout.on_event(events.append)
    with pytest.raises(TimeoutError) as info:
        Policy(timeout).run(lambda: clock.advance(1.5))
    assert isinstance(info.value, TimeoutExceeded)
    assert isinstance(info.value, ResilienceError)
    assert ([TimedOut("db", 1.0, 1.5)], 1.0) == (events, info.value.timeout)


def test_an_outer_deadline_shorter_than_the_timeout_wins() -> None:
    clock = FakeClock()
    with deadline(0.5, clock=clock):
        assert 0.5 == Policy(Timeout(2.0, clock=clock)).run(remaining)


def test_no_call_starts_once_the_deadline_has_passed() -> None:
    clock = FakeClock()
    calls: list[int] = []
    with deadline(1.0, clock=clock):
        clock.advance(1.0)
        with pytest.raises(TimeoutExceeded):
            Policy(Timeout(2.0, clock=clock)).run(calls.append, 1)
    assert [] == calls


def test_the_deadline_is_restored_after_the_call() -> None:
    Policy(Timeout(1.0)).run(lambda: None)
    assert None is remaining()


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("inf"), float("nan")])
def test_a_timeout_must_be_positive_and_finite(seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Timeout(seconds)


async def test_an_async_call_is_cancelled_when_its_time_is_up() -> None:
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutExceeded):
        await Policy(Timeout(0.02)).run_async(hang)
    assert cancelled.is_set()


async def test_an_async_calls_own_timeout_error_passes_through_unchanged() -> None:
    async def own() -> None:
        raise TimeoutError("from the driver")

    with pytest.raises(TimeoutError, match="from the driver") as info:
        await Policy(Timeout(5.0)).run_async(own)
    assert not isinstance(info.value, TimeoutExceeded)


async def test_an_async_call_in_time_returns_its_result() -> None:
    async def quick() -> float | None:
        return remaining()

    left = await Policy(Timeout(5.0)).run_async(quick)
    assert left is not None
    assert 4.0 < left <= 5.0


async def test_no_async_call_starts_once_the_deadline_has_passed() -> None:
    clock = FakeClock()
    calls: list[int] = []

    async def call() -> None:
        calls.append(1)

    with deadline(0.0, clock=clock), pytest.raises(TimeoutExceeded):
        await Policy(Timeout(1.0, clock=clock)).run_async(call)
    assert [] == calls


async def test_a_cancellation_from_outside_is_not_turned_into_a_timeout() -> None:
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(Policy(Timeout(5.0)).run_async(hang))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_shorter_timeout_started_later_still_fires_first() -> None:
    async def hang() -> None:
        await asyncio.sleep(10)

    long = asyncio.create_task(Policy(Timeout(30.0)).run_async(hang))
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(TimeoutExceeded):
        await Policy(Timeout(0.02)).run_async(hang)
    assert time.monotonic() - started < 5.0
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long


async def test_1000_concurrent_timeouts_fire_only_for_the_slow_calls() -> None:
    async def call(i: int) -> int:
        await asyncio.sleep(10 if i % 10 == 0 else 0)
        return i

    policy = Policy(Timeout(0.05))
    results = await asyncio.gather(
        *(policy.run_async(call, i) for i in range(1000)), return_exceptions=True
    )
    timed_out = [i for i, r in enumerate(results) if isinstance(r, TimeoutExceeded)]
    assert list(range(0, 1000, 10)) == timed_out


async def test_finished_calls_do_not_pile_up_in_the_shared_timer() -> None:
    from faultwise.resilience._timeout import _watchdog

    async def quick() -> None:
        return None

    policy = Policy(Timeout(30.0))
    for _ in range(1000):
        await policy.run_async(quick)
    assert len(_watchdog().heap) <= 130

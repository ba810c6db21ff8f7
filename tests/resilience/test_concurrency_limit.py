from __future__ import annotations

import asyncio

import pytest

from faultwise.resilience import (
    AIMDLimit,
    ConcurrencyLimit,
    ConcurrencyLimited,
    ConcurrencyLimitError,
    Event,
    Gradient2Limit,
    LimitChanged,
    Policy,
)
from faultwise.testing import FakeClock


def test_aimd_grows_by_one_when_busy_and_shrinks_on_a_drop() -> None:
    aimd = AIMDLimit(20, minimum=10, maximum=22)
    assert [21.0, 22.0, 22.0] == [aimd.update(0.01, 15, False) for _ in range(3)]
    assert 20.0 == aimd.update(0.01, 5, False) + 0 * aimd.update(0.01, 1, False) - 2
    assert 19 == aimd.update(0.01, 20, True)


def test_aimd_does_not_grow_an_idle_limit() -> None:
    aimd = AIMDLimit(20)
    assert 20.0 == aimd.update(0.01, 3, False)


def test_gradient2_shrinks_the_limit_when_latency_rises() -> None:
    gradient = Gradient2Limit(100, minimum=10, maximum=200)
    for _ in range(50):
        gradient.update(0.010, 100, False)
    grown = gradient.limit
    for _ in range(50):
        gradient.update(0.050, 100, False)
    assert grown > 100
    assert gradient.limit < grown


def test_gradient2_ignores_samples_when_the_app_is_not_using_the_limit() -> None:
    gradient = Gradient2Limit(40, minimum=20)
    assert 40 == gradient.update(0.5, 5, False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: AIMDLimit(10, minimum=20),
        lambda: AIMDLimit(20, backoff=1.5),
        lambda: Gradient2Limit(300, maximum=200),
    ],
)
def test_invalid_limits_are_refused(make: object) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        make()  # type: ignore[operator]


def test_calls_beyond_the_limit_are_rejected_with_an_event() -> None:
    limiter = ConcurrencyLimit(AIMDLimit(2, minimum=1, maximum=2), name="db")
    events: list[Event] = []
    limiter.on_event(events.append)
    assert (1, 2, None) == (limiter.try_acquire(), limiter.try_acquire(), limiter.try_acquire())
    with pytest.raises(ConcurrencyLimitError):
        Policy(limiter).run(lambda: None)
    assert [ConcurrencyLimited("db", 2, 2)] == events


def test_timeouts_shrink_the_limit_and_emit_an_event() -> None:
    clock = FakeClock()
    limiter = ConcurrencyLimit(AIMDLimit(20, minimum=5), clock=clock, name="db")
    events: list[Event] = []
    limiter.on_event(events.append)

    def slow() -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        Policy(limiter).run(slow)
    with pytest.raises(KeyError):
        Policy(limiter).run({}.__getitem__, 1)
    assert ([LimitChanged("db", 20, 18)], 18, 0) == (events, limiter.limit, limiter.in_flight)


def test_a_keyboard_interrupt_releases_the_permit_without_a_sample() -> None:
    limiter = ConcurrencyLimit()

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Policy(limiter).run(interrupted)
    assert (0, 20) == (limiter.in_flight, limiter.limit)


async def test_cancelled_tasks_release_their_permits() -> None:
    limiter = ConcurrencyLimit(AIMDLimit(2, minimum=1, maximum=2))
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.sleep(60)

    tasks = [asyncio.create_task(Policy(limiter).run_async(hang)) for _ in range(2)]
    await started.wait()
    await asyncio.sleep(0)
    assert 2 == limiter.in_flight
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert (0, 2) == (limiter.in_flight, limiter.limit)


async def test_1000_tasks_through_an_adaptive_limit_all_complete_or_are_rejected() -> None:
    limiter = ConcurrencyLimit(AIMDLimit(20, minimum=20, maximum=200))

    async def work(i: int) -> int:
        await asyncio.sleep(0)
        return i

    results = await asyncio.gather(
        *(Policy(limiter).run_async(work, i) for i in range(1000)), return_exceptions=True
    )
    done = [r for r in results if isinstance(r, int)]
    rejected = [r for r in results if isinstance(r, ConcurrencyLimitError)]
    assert (1000, 0) == (len(done) + len(rejected), limiter.in_flight)
    assert len(done) >= 20


async def test_async_drops_shrink_the_limit() -> None:
    limiter = ConcurrencyLimit(AIMDLimit(20, minimum=5))

    async def slow() -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await Policy(limiter).run_async(slow)
    assert 18 == limiter.limit


def test_gradient2_recovers_quickly_when_a_latency_spike_ends() -> None:
    gradient = Gradient2Limit(20)
    gradient.update(1.0, 20, False)
    gradient.update(0.1, 20, False)
    assert pytest.approx(0.95 * (1.0 + (0.1 - 1.0) * 2 / 601)) == gradient.long_rtt


async def test_async_successes_feed_the_algorithm() -> None:
    limiter = ConcurrencyLimit(AIMDLimit(2, minimum=1, maximum=5))

    async def ok() -> str:
        return "ok"

    assert "ok" == await Policy(limiter).run_async(ok)
    assert (3, 0) == (limiter.limit, limiter.in_flight)


def test_sync_successes_feed_the_algorithm() -> None:
    limiter = ConcurrencyLimit(AIMDLimit(2, minimum=1, maximum=5))
    assert ("ok", 3, 0) == (Policy(limiter).run(str, "ok"), limiter.limit, limiter.in_flight)

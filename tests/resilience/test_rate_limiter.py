from __future__ import annotations

import asyncio
import threading

import pytest

from faultwise.resilience import (
    Event,
    Policy,
    RateLimited,
    RateLimitedError,
    RateLimiter,
    deadline,
)
from faultwise.testing import FakeClock


def test_a_burst_passes_then_calls_are_rejected_until_tokens_refill() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=3, max_wait=0.0, clock=clock, name="api")
    events: list[Event] = []
    limiter.on_event(events.append)
    assert [True, True, True, False] == [limiter.try_acquire() for _ in range(4)]
    with pytest.raises(RateLimitedError) as info:
        Policy(limiter).run(lambda: None)
    assert 0.1 == pytest.approx(info.value.retry_after)
    assert [RateLimited("api", pytest.approx(0.1))] == events  # type: ignore[arg-type]
    clock.advance(0.1)
    assert limiter.try_acquire()


def test_a_caller_waits_for_its_reserved_token_within_max_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=1, max_wait=1.0, clock=clock)
    policy = Policy(limiter)
    assert ["a", "b", "c"] == [policy.run(str, x) for x in "abc"]
    assert [0.1, 0.1] == [pytest.approx(s) for s in clock.sleeps]


def test_a_wait_longer_than_the_deadline_is_rejected_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=1, max_wait=5.0, clock=clock)
    limiter.try_acquire()
    with deadline(0.5, clock=clock), pytest.raises(RateLimitedError):
        Policy(limiter).run(lambda: None)
    assert [] == clock.sleeps


def test_the_default_burst_is_one_seconds_worth() -> None:
    limiter = RateLimiter(5.0, max_wait=0.0, clock=FakeClock())
    assert 5 == sum(limiter.try_acquire() for _ in range(10))


def test_tokens_never_exceed_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100.0, burst=2, max_wait=0.0, clock=clock)
    clock.advance(60.0)
    assert 2 == sum(limiter.try_acquire() for _ in range(10))


@pytest.mark.parametrize(
    ("rate", "options"),
    [(0.0, {}), (float("inf"), {}), (1.0, {"burst": 0.5}), (1.0, {"max_wait": -1.0})],
)
def test_invalid_limiters_are_refused(rate: float, options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(rate, **options)


def test_32_threads_by_10000_attempts_get_exactly_the_burst() -> None:
    limiter = RateLimiter(1.0, burst=100_000, max_wait=0.0, clock=FakeClock())
    granted: list[int] = []

    def work() -> None:
        granted.append(sum(limiter.try_acquire() for _ in range(10_000)))

    threads = [threading.Thread(target=work) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 100_000 == sum(granted)


class InterruptingClock(FakeClock):
    """A clock whose sleep is interrupted, as a cancelled or signalled wait would be."""

    def sleep(self, seconds: float) -> None:
        raise KeyboardInterrupt

    async def sleep_async(self, seconds: float) -> None:
        raise asyncio.CancelledError


def test_an_interrupted_wait_refunds_the_token() -> None:
    clock = InterruptingClock()
    limiter = RateLimiter(1.0, burst=1, max_wait=5.0, clock=clock)
    limiter.try_acquire()
    with pytest.raises(KeyboardInterrupt):
        Policy(limiter).run(lambda: None)
    clock.advance(1.0)
    assert limiter.try_acquire()


async def test_a_cancelled_async_wait_refunds_the_token() -> None:
    clock = InterruptingClock()
    limiter = RateLimiter(1.0, burst=1, max_wait=5.0, clock=clock)
    limiter.try_acquire()

    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(asyncio.CancelledError):
        await Policy(limiter).run_async(never)
    clock.advance(1.0)
    assert limiter.try_acquire()


async def test_async_callers_wait_for_their_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=1, max_wait=1.0, clock=clock)

    async def echo(x: int) -> int:
        return x

    assert [1, 2] == [await Policy(limiter).run_async(echo, x) for x in (1, 2)]
    assert [pytest.approx(0.1)] == clock.sleeps


async def test_reserve_async_without_an_async_store_reserves_directly() -> None:
    limiter = RateLimiter(10.0, burst=1, max_wait=1.0, clock=FakeClock())
    assert (0.0, pytest.approx(0.1)) == (
        await limiter.reserve_async(),
        await limiter.reserve_async(),
    )


class AsyncBucket:
    """A store that grants through an awaited call, as a shared (networked) one would."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def take(self, max_wait: float) -> float | None:
        raise AssertionError("the async driver must await take_async")

    async def take_async(self, max_wait: float) -> float | None:
        self.calls.append(max_wait)
        return 0.0

    def refund(self) -> None:
        pass

    def available(self) -> float:
        return 1.0


async def test_an_async_store_is_awaited_by_async_callers() -> None:
    store = AsyncBucket()
    limiter = RateLimiter(10.0, max_wait=2.0, clock=FakeClock(), store=store)

    async def ok() -> str:
        return "ok"

    assert ("ok", [2.0]) == (await Policy(limiter).run_async(ok), store.calls)

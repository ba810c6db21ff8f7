"""The two hooks shared state needs from the strategies: a breaker adopts a state decided
elsewhere, and a rate limiter awaits a store that grants tokens over the network."""

from __future__ import annotations

import pytest

from faultwise.resilience import (
    BreakerStateChanged,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Event,
    RateLimitedError,
    RateLimiter,
)
from faultwise.testing import FakeClock


def test_a_breaker_adopts_open_for_the_given_time_then_probes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock, half_open_calls=1)
    events: list[Event] = []
    breaker.on_event(events.append)
    breaker.adopt(CircuitState.OPEN, open_for=5.0)
    assert (CircuitState.OPEN, 5.0) == (breaker.state, breaker.open_remaining)
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    clock.advance(5.0)
    assert breaker.try_acquire() is not None
    assert [CircuitState.OPEN, CircuitState.HALF_OPEN] == [
        e.to_state for e in events if isinstance(e, BreakerStateChanged)
    ]


def test_adopting_the_current_state_emits_nothing_but_updates_the_open_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    breaker.adopt(CircuitState.OPEN, open_for=5.0)
    events: list[Event] = []
    breaker.on_event(events.append)
    breaker.adopt(CircuitState.OPEN, open_for=2.0)
    breaker.adopt(CircuitState.CLOSED)
    breaker.adopt(CircuitState.CLOSED)
    assert [(CircuitState.OPEN, CircuitState.CLOSED)] == [
        (e.from_state, e.to_state) for e in events if isinstance(e, BreakerStateChanged)
    ]
    assert 0.0 == breaker.open_remaining


class NetworkBucket:
    """A store that grants tokens only through ``take_async`` (as a shared one does)."""

    def __init__(self, grants: list[float | None]) -> None:
        self.grants = grants
        self.asked: list[float] = []

    def take(self, max_wait: float) -> float | None:
        raise AssertionError("the async driver must await take_async")

    async def take_async(self, max_wait: float) -> float | None:
        self.asked.append(max_wait)
        return self.grants.pop(0)

    def refund(self) -> None: ...

    def available(self) -> float:
        return 0.0


async def test_the_async_limiter_awaits_a_store_that_grants_over_the_network() -> None:
    clock = FakeClock()
    bucket = NetworkBucket([0.0, 0.25, None])
    limiter = RateLimiter(10.0, max_wait=1.0, store=bucket, clock=clock)

    async def work() -> str:
        return "done"

    assert "done" == await limiter.call_async(work)
    assert "done" == await limiter.call_async(work)
    with pytest.raises(RateLimitedError):
        await limiter.call_async(work)
    assert ([1.0, 1.0, 1.0], [0.25]) == (bucket.asked, clock.sleeps)

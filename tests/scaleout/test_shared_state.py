"""Breaker, limiter and retry budget shared through Redis: fleet-wide state, the local fast
path, and the fail modes with a Redis the test stops mid-test."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
import redis
from tests.forking import run_forked

from faultwise.resilience import (
    BreakerStateChanged,
    CircuitOpenError,
    CircuitState,
    Event,
    RateLimitedError,
)
from faultwise.resilience.shared import (
    AsyncSharedState,
    FailMode,
    SharedState,
    SharedStateRestored,
    SharedStateUnavailable,
)

from .redis_server import RedisServer

pytestmark = pytest.mark.integration


def replicas(url: str, prefix: str, n: int = 2, **options: object) -> list[SharedState]:
    return [SharedState(url, prefix=prefix, background=False, **options) for _ in range(n)]  # type: ignore[arg-type]


def fail() -> None:
    raise ConnectionError("dependency down")


def ok() -> str:
    return "ok"


def outcomes(call: Callable[[], object], n: int) -> list[str]:
    seen = []
    for _ in range(n):
        try:
            call()
            seen.append("ok")
        except CircuitOpenError:
            seen.append("rejected")
        except RateLimitedError:
            seen.append("limited")
        except ConnectionError:
            seen.append("failed")
    return seen


def test_failures_split_across_replicas_count_in_one_window(redis_url: str, prefix: str) -> None:
    a, b = replicas(redis_url, prefix)
    breaker_a = a.circuit_breaker("db", minimum_calls=10, failure_rate=0.5)
    breaker_b = b.circuit_breaker("db", minimum_calls=10, failure_rate=0.5)
    outcomes(lambda: breaker_a.call(fail), 4)  # 4 of 10 calls: below the minimum alone
    a.sync()
    b.sync()
    assert ["failed"] * 5 == outcomes(lambda: breaker_b.call(fail), 5)
    assert CircuitState.CLOSED == breaker_b.state  # 9 calls: still below the minimum
    assert ["failed", "rejected"] == outcomes(lambda: breaker_b.call(fail), 2)
    assert (CircuitState.CLOSED, CircuitState.OPEN) == (breaker_a.state, breaker_b.state)
    assert (10, 10) == (breaker_b.snapshot().window.calls, breaker_b.snapshot().window.failures)


def test_a_breaker_opened_in_one_replica_rejects_in_the_others_after_a_sync(
    redis_url: str, prefix: str
) -> None:
    a, b, c = replicas(redis_url, prefix, 3)
    breakers = [s.circuit_breaker("db", minimum_calls=5, open_duration=30.0) for s in (a, b, c)]
    events: list[Event] = []
    breakers[1].on_event(events.append)
    assert ["failed"] * 5 == outcomes(lambda: breakers[0].call(fail), 5)
    assert ["ok", "ok"] == outcomes(lambda: breakers[1].call(ok), 2)
    for shared in (a, b, c):
        shared.sync()
    assert ["rejected"] * 2 == outcomes(lambda: breakers[1].call(ok), 2)
    assert ["rejected"] == outcomes(lambda: breakers[2].call(ok), 1)
    assert 29.0 < breakers[2].open_remaining <= 30.0  # the opener's open time, not a new one
    assert [(CircuitState.CLOSED, CircuitState.OPEN)] == [
        (e.from_state, e.to_state) for e in events if isinstance(e, BreakerStateChanged)
    ]


def test_a_replica_that_starts_later_adopts_the_open_breaker_and_resets_nothing(
    redis_url: str, prefix: str
) -> None:
    (first,) = replicas(redis_url, prefix, 1)
    opener = first.circuit_breaker("db", minimum_calls=5, open_duration=30.0)
    outcomes(lambda: opener.call(fail), 5)
    first.sync()
    time.sleep(0.05)
    (late,) = replicas(redis_url, prefix, 1)
    newcomer = late.circuit_breaker("db", minimum_calls=5, open_duration=30.0)
    late.sync()
    first.sync()
    assert (CircuitState.OPEN, CircuitState.OPEN) == (opener.state, newcomer.state)
    assert 29.0 < newcomer.open_remaining < 29.96  # the opener's time, not a fresh 30 s
    assert 5 == newcomer.snapshot().window.failures


def test_closing_after_the_probes_clears_the_window_for_the_whole_fleet(
    redis_url: str, prefix: str
) -> None:
    a, b = replicas(redis_url, prefix)
    options = {"minimum_calls": 5, "open_duration": 0.05, "half_open_calls": 1}
    breaker_a, breaker_b = (s.circuit_breaker("db", **options) for s in (a, b))  # type: ignore[arg-type]
    outcomes(lambda: breaker_a.call(fail), 5)
    a.sync()
    b.sync()
    assert CircuitState.OPEN == breaker_b.state
    time.sleep(0.06)
    assert ["ok"] == outcomes(lambda: breaker_a.call(ok), 1)  # the probe closes it
    a.sync()
    b.sync()
    assert (CircuitState.CLOSED, CircuitState.CLOSED) == (breaker_a.state, breaker_b.state)
    assert (0, 0) == (breaker_b.snapshot().window.calls, breaker_a.snapshot().window.failures)


def test_forcing_a_breaker_open_by_hand_applies_to_the_fleet(redis_url: str, prefix: str) -> None:
    a, b = replicas(redis_url, prefix)
    breaker_a, breaker_b = a.circuit_breaker("db"), b.circuit_breaker("db")
    breaker_a.force_open()
    a.sync()
    b.sync()
    assert CircuitState.FORCED_OPEN == breaker_b.state
    breaker_b.close()
    b.sync()
    a.sync()
    assert CircuitState.CLOSED == breaker_a.state


def test_one_token_bucket_serves_every_replica(redis_url: str, prefix: str) -> None:
    limiters = [
        s.rate_limiter("api", rate=1.0, burst=30, max_wait=0.0)
        for s in replicas(redis_url, prefix, 3)
    ]
    granted = [sum(limiter.try_acquire() for _ in range(40)) for limiter in limiters]
    assert 30 <= sum(granted) <= 31  # the burst, plus at most one token refilled meanwhile
    assert all(g >= 1 for g in granted[:1])


def test_tokens_come_in_growing_batches_so_most_calls_skip_redis(
    redis_url: str, prefix: str
) -> None:
    (shared,) = replicas(redis_url, prefix, 1)
    limiter = shared.rate_limiter("api", rate=10_000.0, burst=10_000)
    client = redis.Redis.from_url(redis_url)
    before = client.info("stats")["total_commands_processed"]
    for _ in range(2000):
        limiter.call(ok)
    commands = client.info("stats")["total_commands_processed"] - before
    client.close()
    assert commands < 200  # one EVALSHA per batch, not one per call


def test_a_reserved_token_makes_the_caller_wait_for_it(redis_url: str, prefix: str) -> None:
    (shared,) = replicas(redis_url, prefix, 1)
    limiter = shared.rate_limiter("slow-api", rate=20.0, burst=1, max_wait=1.0)
    assert 0.0 == limiter.reserve()
    assert 0.0 < limiter.reserve() <= 0.05


def test_a_retry_budget_is_filled_by_every_replica(redis_url: str, prefix: str) -> None:
    a, b = replicas(redis_url, prefix)
    budget_a = a.retry_budget("db", ratio=0.5, min_per_second=0.0)
    budget_b = b.retry_budget("db", ratio=0.5, min_per_second=0.0)
    for _ in range(10):
        budget_a.deposit()
    assert not budget_b.try_withdraw()
    a.sync()
    b.sync()
    assert [True] * 5 + [False] == [budget_b.try_withdraw() for _ in range(6)]
    b.sync()
    a.sync()
    assert 0.0 == budget_a.balance()


async def test_the_async_twin_shares_breaker_limiter_and_budget(
    redis_url: str, prefix: str
) -> None:
    a = AsyncSharedState(redis_url, prefix=prefix, background=False)
    b = AsyncSharedState(redis_url, prefix=prefix, background=False)
    breaker_a = a.circuit_breaker("db", minimum_calls=3)
    breaker_b = b.circuit_breaker("db", minimum_calls=3)

    async def failing() -> None:
        raise ConnectionError

    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker_a.call_async(failing)
    await a.sync()
    await b.sync()
    assert CircuitState.OPEN == breaker_b.state
    limiter = b.rate_limiter("api", rate=1.0, burst=5, max_wait=0.0)

    async def work() -> str:
        return "ok"

    results = []
    for _ in range(7):
        try:
            results.append(await limiter.call_async(work))
        except RateLimitedError:
            results.append("limited")
    assert ["ok"] * 5 + ["limited"] * 2 == results
    budget = a.retry_budget("db", ratio=1.0, min_per_second=0.0)
    budget.deposit()
    await a.sync()
    assert budget.try_withdraw()
    await a.aclose()
    await b.aclose()


def run_bounded(call: Callable[[], object], seconds: float) -> object:
    """Run ``call`` in a thread; fail the test if it has not returned within ``seconds``."""
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the call hung for more than {seconds} s"
    return box[0]


def test_with_redis_stopped_fail_open_falls_back_to_local_state_and_says_so(
    own_redis: RedisServer,
) -> None:
    shared = SharedState(own_redis.url, refresh=0.05, fail="open", prefix="t:")
    events: list[Event] = []
    shared.on_event(events.append)
    breaker = shared.circuit_breaker("db", minimum_calls=5, open_duration=60.0)
    limiter = shared.rate_limiter("api", rate=1000.0, burst=20, local_rate=5.0, max_wait=0.0)
    budget = shared.retry_budget("db", ratio=1.0, min_per_second=0.0)
    try:
        assert ["ok"] * 3 == outcomes(lambda: breaker.call(ok), 3)
        own_redis.stop()
        deadline = time.monotonic() + 5.0
        while shared.available and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [SharedStateUnavailable] == [type(e) for e in events]
        assert FailMode.OPEN == events[0].fail_mode  # type: ignore[attr-defined]
        seen = run_bounded(lambda: outcomes(lambda: limiter.call(ok), 10), 5.0)
        assert ["ok"] * 5 + ["limited"] * 5 == seen  # the local bucket: local_rate, its burst
        assert ["ok"] * 2 == run_bounded(lambda: outcomes(lambda: breaker.call(ok), 2), 5.0)
        seen = run_bounded(lambda: outcomes(lambda: breaker.call(fail), 7), 5.0)
        assert ["failed"] * 5 + ["rejected"] * 2 == seen  # its own window opens it
        budget.deposit()
        assert budget.try_withdraw()  # the local budget
        own_redis.start()
        deadline = time.monotonic() + 5.0
        while not shared.available and time.monotonic() < deadline:
            time.sleep(0.01)
        assert isinstance(events[-1], SharedStateRestored)
    finally:
        shared.close()


def test_with_redis_stopped_fail_closed_rejects_until_it_is_back(
    own_redis: RedisServer,
) -> None:
    shared = SharedState(own_redis.url, refresh=0.05, fail=FailMode.CLOSED, prefix="t:")
    breaker = shared.circuit_breaker("db")
    limiter = shared.rate_limiter("api", rate=1000.0, burst=100, max_wait=0.0)
    budget = shared.retry_budget("db", ratio=1.0)
    try:
        assert ["ok"] * 3 == outcomes(lambda: breaker.call(ok), 3)
        own_redis.stop()
        deadline = time.monotonic() + 5.0
        while shared.available and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ["rejected"] * 3 == run_bounded(lambda: outcomes(lambda: breaker.call(ok), 3), 5.0)
        assert CircuitState.FORCED_OPEN == breaker.state
        seen = run_bounded(lambda: outcomes(lambda: limiter.call(ok), 200), 5.0)
        assert "limited" == seen[-1]
        assert not budget.try_withdraw()
        own_redis.start()
        deadline = time.monotonic() + 5.0
        while breaker.state is not CircuitState.CLOSED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ["ok"] == outcomes(lambda: breaker.call(ok), 1)  # the fleet's state is back
    finally:
        shared.close()


async def test_the_async_twin_follows_the_fail_mode_without_hanging(
    own_redis: RedisServer,
) -> None:
    shared = AsyncSharedState(own_redis.url, refresh=0.05, fail="closed", prefix="t:")
    events: list[Event] = []
    shared.on_event(events.append)
    limiter = shared.rate_limiter("api", rate=1000.0, burst=10, max_wait=0.0)

    async def work() -> str:
        return "ok"

    async with shared:
        assert "ok" == await limiter.call_async(work)
        own_redis.stop()
        results = []
        async with asyncio.timeout(5.0):
            for _ in range(20):
                try:
                    results.append(await limiter.call_async(work))
                except RateLimitedError:
                    results.append("limited")
        assert "limited" == results[-1]
        assert [SharedStateUnavailable] == [type(e) for e in events]


def test_a_worker_forked_after_startup_syncs_its_own_counts_once(
    redis_url: str, prefix: str
) -> None:
    # gunicorn --preload: the state and its syncer are made before the workers are forked
    state = SharedState(redis_url, prefix=prefix, refresh=0.05)
    breaker = state.circuit_breaker("db", minimum_calls=100, failure_rate=0.9)
    budget = state.retry_budget("db", ratio=1.0, min_per_second=0.0)
    outcomes(lambda: breaker.call(fail), 3)  # pending at the fork: the parent flushes them
    budget.deposit()

    def worker() -> bool:
        outcomes(lambda: breaker.call(fail), 5)
        budget.deposit()
        time.sleep(0.5)  # ten refresh intervals: only the worker's own syncer can flush
        return True

    assert 0 == run_forked(worker)
    state.close()
    reader = replicas(redis_url, prefix, n=1)[0]
    fleet = reader.circuit_breaker("db", minimum_calls=100, failure_rate=0.9)
    fleet_budget = reader.retry_budget("db", ratio=1.0, min_per_second=0.0)
    reader.sync()
    window = fleet.snapshot().window
    assert (8, 8, 2.0) == (window.calls, window.failures, fleet_budget.balance())

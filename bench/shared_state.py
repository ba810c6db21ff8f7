"""Per-call cost of breaker and limiter state shared through Redis, beside local state and
the peers (pybreaker's CircuitRedisStorage, the limits library on Redis).

Wall time per call on the success path (a Redis round trip is waiting, not CPU), best of
interleaved rounds, against the Redis on 127.0.0.1:6379. faultwise's shared strategies run
with their background syncer on (refresh 0.1 s), as in production; "no fast path" is the
shared limiter fetching one token per call, what a per-call Redis design costs.

    python bench/shared_state.py              # full run, table with ratios
    python bench/shared_state.py --quick --json
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable

import limits
import limits.storage
import limits.strategies
import pybreaker
import redis

from _common import arguments, emit, table
from faultwise.resilience import CircuitBreaker, Event, Policy, RateLimiter
from faultwise.resilience.shared import AsyncSharedState, SharedState, SharedStateUnavailable

URL = os.environ.get("FAULTWISE_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PREFIX = f"bench:{uuid.uuid4().hex[:8]}:"
HUGE = 1e12  # a rate no run reaches: measure the success path only
TIMEOUT = 1.0  # generous: a loaded machine must not make Redis look down mid-run
OUTAGES: list[Event] = []  # any is reported: the numbers of that run mix in the fallback


def work() -> int:
    return 1


async def awork() -> int:
    return 1


def wall_ns(fn: Callable[[], object], number: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(number):
        fn()
    return (time.perf_counter_ns() - started) / number


async def awall_ns(fn: Callable[[], Awaitable[object]], number: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(number):
        await fn()
    return (time.perf_counter_ns() - started) / number


def best(cases: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, float]:
    result = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, (fn, number) in cases.items():
            result[name] = min(result[name], wall_ns(fn, number))
    return result


def sync_cases(
    shared: SharedState, fast: int, slow: int
) -> dict[str, tuple[Callable[[], object], int]]:
    client = redis.Redis.from_url(URL)
    redis_storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, client, namespace=f"{PREFIX}pybreaker"
    )
    moving = limits.strategies.MovingWindowRateLimiter(limits.storage.storage_from_string(URL))
    fixed = limits.strategies.FixedWindowRateLimiter(limits.storage.storage_from_string(URL))
    item = limits.parse("1000000000/second")
    key = f"{PREFIX}limits"
    return {
        "bare_ns": (work, fast),
        "breaker_local_ns": (Policy(CircuitBreaker())(work), fast),
        "breaker_shared_ns": (Policy(shared.circuit_breaker("b"))(work), fast),
        "pybreaker_memory_ns": (pybreaker.CircuitBreaker()(work), fast),
        "pybreaker_redis_ns": (pybreaker.CircuitBreaker(state_storage=redis_storage)(work), slow),
        "limiter_local_ns": (Policy(RateLimiter(HUGE))(work), fast),
        "limiter_shared_ns": (Policy(shared.rate_limiter("l", HUGE, burst=HUGE))(work), fast),
        "limiter_trip_ns": (
            Policy(shared.rate_limiter("l1", HUGE, burst=HUGE, max_batch=1))(work),
            slow,
        ),
        "limits_fixed_ns": (lambda: fixed.hit(item, key, "fixed"), slow),
        "limits_moving_ns": (lambda: moving.hit(item, key, "moving"), slow),
    }


def async_results(fast: int, slow: int, rounds: int) -> dict[str, float]:
    async def main() -> dict[str, float]:
        async with AsyncSharedState(URL, prefix=PREFIX, timeout=TIMEOUT) as shared:
            shared.on_event(_outage)
            cases: dict[str, tuple[Callable[[], Awaitable[object]], int]] = {
                "bare_await_ns": (awork, fast),
                "breaker_local_async_ns": (Policy(CircuitBreaker())(awork), fast),
                "breaker_shared_async_ns": (Policy(shared.circuit_breaker("ab"))(awork), fast),
                "limiter_local_async_ns": (Policy(RateLimiter(HUGE))(awork), fast),
                "limiter_shared_async_ns": (
                    Policy(shared.rate_limiter("al", HUGE, burst=HUGE))(awork),
                    fast,
                ),
                "limiter_trip_async_ns": (
                    Policy(shared.rate_limiter("al1", HUGE, burst=HUGE, max_batch=1))(awork),
                    slow,
                ),
            }
            result = {name: float("inf") for name in cases}
            for _ in range(rounds):
                for name, (fn, number) in cases.items():
                    result[name] = min(result[name], await awall_ns(fn, number))
            return result

    return asyncio.run(main())


def _outage(event: Event) -> None:
    if isinstance(event, SharedStateUnavailable):
        OUTAGES.append(event)


def cleanup() -> None:
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(f"{PREFIX}*")) + list(client.scan_iter("LIMITS:*bench:*"))
    if keys:
        client.delete(*keys)
    client.close()


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    fast, slow, rounds = (20_000, 1_000, 3) if args.quick else (200_000, 5_000, 7)
    result: dict[str, float] = {}
    try:
        with SharedState(URL, prefix=PREFIX, timeout=TIMEOUT) as shared:
            shared.on_event(_outage)
            result.update(best(sync_cases(shared, fast, slow), rounds))
        result.update(async_results(fast // 2, slow, rounds))
    finally:
        cleanup()
    result = {k: round(v, 1) for k, v in result.items()}
    result["redis_unavailable_events"] = len(OUTAGES)
    if args.json:
        emit(result)
        return
    print(render(result))


def render(r: dict[str, float]) -> str:
    pairs = [
        ("bare call", "bare_ns", "", ""),
        ("CircuitBreaker, local", "breaker_local_ns", "pybreaker, memory", "pybreaker_memory_ns"),
        ("CircuitBreaker, Redis", "breaker_shared_ns", "pybreaker Redis", "pybreaker_redis_ns"),
        ("RateLimiter, local", "limiter_local_ns", "", ""),
        ("RateLimiter, Redis", "limiter_shared_ns", "limits fixed", "limits_fixed_ns"),
        ("RateLimiter, Redis, 1 a trip", "limiter_trip_ns", "limits moving", "limits_moving_ns"),
        ("bare await", "bare_await_ns", "", ""),
        ("CircuitBreaker, local, async", "breaker_local_async_ns", "", ""),
        ("CircuitBreaker, Redis, async", "breaker_shared_async_ns", "", ""),
        ("RateLimiter, local, async", "limiter_local_async_ns", "", ""),
        ("RateLimiter, Redis, async", "limiter_shared_async_ns", "", ""),
        ("RateLimiter, Redis, 1 a trip, async", "limiter_trip_async_ns", "", ""),
    ]  # fmt: skip
    rows = [
        (name, r[key], peer, r[peer_key] if peer_key else "") for name, key, peer, peer_key in pairs
    ]
    quotients = [
        ("breaker: Redis / local", "breaker_shared_ns", "breaker_local_ns"),
        ("pybreaker Redis / faultwise Redis breaker", "pybreaker_redis_ns", "breaker_shared_ns"),
        ("limiter: Redis / local", "limiter_shared_ns", "limiter_local_ns"),
        ("limiter: no fast path / fast path", "limiter_trip_ns", "limiter_shared_ns"),
        ("limits fixed window / faultwise Redis limiter", "limits_fixed_ns", "limiter_shared_ns"),
        ("async breaker: Redis / local", "breaker_shared_async_ns", "breaker_local_async_ns"),
        ("async limiter: Redis / local", "limiter_shared_async_ns", "limiter_local_async_ns"),
    ]  # fmt: skip
    ratios = [(name, r[top] / r[bottom]) for name, top, bottom in quotients]
    return "\n\n".join(
        [
            "Success-path cost with shared state, wall ns per call (best of interleaved rounds)",
            table(["faultwise", "ns", "peer", "ns"], rows),
            table(["ratio", "value"], ratios),
            f"Redis unavailable during the run: {r['redis_unavailable_events']:.0f} times"
            " (0: every Redis-backed number above is the shared path)",
        ]
    )


if __name__ == "__main__":
    main()

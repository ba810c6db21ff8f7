"""Per-call overhead of faultwise.resilience on the success path, side by side with the peers.

Every case wraps the same trivial function (``return 1``) the way its library documents;
times are CPU ns per call (best of interleaved rounds, see bench/_common.py). The parallel case
is wall time: 8 threads each make one 0.2 s call through one shared breaker. The state rows
call the hot methods directly: ``CircuitBreaker.on_success`` with each window (on one breaker,
and round-robin over 10,000 breakers, where the objects no longer sit in the CPU's caches) and
``RetryBudget.deposit``.

    python bench/resilience.py              # full run, table with ratios
    python bench/resilience.py --quick --json
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import aiobreaker
import circuitbreaker
import pybreaker
import tenacity
from purgatory import SyncCircuitBreakerFactory

from _common import arguments, async_ns_per_call, best_ns_per_call, emit, table
from faultwise.resilience import (
    Bulkhead,
    CircuitBreaker,
    CountWindow,
    Policy,
    Retry,
    RetryBudget,
    Timeout,
    TimeWindow,
)

MANY = 10_000  # breakers in the round-robin cases


def work() -> int:
    return 1


async def awork() -> int:
    return 1


def full_policy() -> Policy:
    """The policy the targets name: timeout + retry + breaker + bulkhead."""
    return Policy(Timeout(5.0), Retry(), CircuitBreaker(), Bulkhead(64))


def sync_cases() -> dict[str, Callable[[], object]]:
    return {
        "bare_ns": work,
        "retry_ns": Policy(Retry())(work),
        "tenacity_retry_ns": tenacity.retry(work),
        "breaker_ns": Policy(CircuitBreaker())(work),
        "pybreaker_ns": pybreaker.CircuitBreaker()(work),
        "circuitbreaker_ns": circuitbreaker.circuit(work),
        "purgatory_ns": SyncCircuitBreakerFactory()("bench")(work),
        "policy_ns": full_policy()(work),
    }


def on_success(window: Callable[[], CountWindow | TimeWindow]) -> Callable[[], None]:
    """``on_success`` of a closed breaker with a fast call, bound to its permit."""
    breaker = CircuitBreaker(window=window())
    return functools.partial(breaker.on_success, breaker.acquire(), 0.0)


def round_robin(calls: list[Callable[[], object]]) -> Callable[[], object]:
    """Each of ``calls`` in turn."""
    turn = itertools.cycle(calls).__next__

    def call() -> object:
        return turn()()

    return call


def state_cases() -> dict[str, Callable[[], object]]:
    return {
        "round_robin_bare_ns": round_robin([work] * MANY),
        "count_success_ns": on_success(CountWindow),
        "time_success_ns": on_success(TimeWindow),
        "count_success_many_ns": round_robin([on_success(CountWindow) for _ in range(MANY)]),
        "time_success_many_ns": round_robin([on_success(TimeWindow) for _ in range(MANY)]),
        "deposit_ns": RetryBudget().deposit,
    }


def async_cases() -> dict[str, Callable[[], Any]]:
    aio = aiobreaker.CircuitBreaker()

    async def aiobreaker_call() -> int:
        return await aio.call_async(awork)  # type: ignore[no-any-return]

    return {
        "bare_await_ns": awork,
        "retry_async_ns": Policy(Retry())(awork),
        "tenacity_async_ns": tenacity.retry(awork),
        "breaker_async_ns": Policy(CircuitBreaker())(awork),
        "aiobreaker_ns": aiobreaker_call,
        "circuitbreaker_async_ns": circuitbreaker.circuit(awork),
        "policy_async_ns": full_policy()(awork),
    }


def parallel_seconds(call: Callable[[Callable[[], None]], object]) -> float:
    """Wall time for 8 threads each making one 0.2 s call through ``call``."""

    def slow() -> None:
        time.sleep(0.2)

    threads = [threading.Thread(target=call, args=(slow,)) for _ in range(8)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    number, rounds = (20_000, 5) if args.quick else (200_000, 9)
    result: dict[str, float] = {}
    result.update(best_ns_per_call(sync_cases(), number=number, rounds=rounds))
    result.update(best_ns_per_call(state_cases(), number=number, rounds=rounds))
    result.update(async_ns_per_call(async_cases(), number=number // 2, rounds=rounds))
    breaker, shared = CircuitBreaker(), pybreaker.CircuitBreaker()
    result["breaker_parallel_s"] = parallel_seconds(lambda fn: Policy(breaker).run(fn))
    result["pybreaker_parallel_s"] = parallel_seconds(shared.call)
    result = {k: round(v, 3) if k.endswith("_s") else round(v, 1) for k, v in result.items()}
    if args.json:
        emit(result)
        return
    print(render(result))


def render(r: dict[str, float]) -> str:
    tenacity_ns = r["tenacity_retry_ns"]
    rows = [
        ("bare call", r["bare_ns"], "", ""),
        ("faultwise Retry", r["retry_ns"], "tenacity @retry", tenacity_ns),
        (
            "faultwise CircuitBreaker",
            r["breaker_ns"],
            "circuitbreaker @circuit",
            r["circuitbreaker_ns"],
        ),
        ("", "", "pybreaker", r["pybreaker_ns"]),
        ("", "", "purgatory", r["purgatory_ns"]),
        (
            "faultwise Policy (timeout+retry+breaker+bulkhead)",
            r["policy_ns"],
            "tenacity @retry",
            tenacity_ns,
        ),
        ("bare await", r["bare_await_ns"], "", ""),
        ("faultwise Retry, async", r["retry_async_ns"], "tenacity async", r["tenacity_async_ns"]),
        (
            "faultwise CircuitBreaker, async",
            r["breaker_async_ns"],
            "aiobreaker",
            r["aiobreaker_ns"],
        ),
        ("", "", "circuitbreaker async", r["circuitbreaker_async_ns"]),
        ("faultwise Policy, async", r["policy_async_ns"], "tenacity async", r["tenacity_async_ns"]),
    ]
    count_ns, many_ns = r["count_success_ns"], r["count_success_many_ns"]
    state_rows = [
        ("CircuitBreaker.on_success, TimeWindow", r["time_success_ns"], "CountWindow", count_ns),
        (
            f"the same, round-robin over {MANY:,} breakers",
            r["time_success_many_ns"],
            "CountWindow",
            many_ns,
        ),
        ("", "", "round-robin step alone", r["round_robin_bare_ns"]),
        ("RetryBudget.deposit", r["deposit_ns"], "", ""),
    ]
    ratios = [
        ("tenacity_retry_ns / retry_ns", tenacity_ns / r["retry_ns"], ">= 20"),
        ("circuitbreaker_ns / breaker_ns", r["circuitbreaker_ns"] / r["breaker_ns"], ">= 1"),
        ("tenacity_retry_ns / policy_ns", tenacity_ns / r["policy_ns"], ">= 6"),
        ("breaker_parallel_s", r["breaker_parallel_s"], "< 0.3"),
        ("pybreaker_parallel_s", r["pybreaker_parallel_s"], ""),
        ("time_success_ns / count_success_ns", r["time_success_ns"] / count_ns, ""),
        ("time_success_many_ns / count_success_many_ns", r["time_success_many_ns"] / many_ns, ""),
    ]
    return "\n\n".join(
        [
            "Success-path overhead, CPU ns per call (best of interleaved rounds)",
            table(["faultwise", "ns", "peer", "ns"], rows),
            "State on the success path, CPU ns per call (peer: the same with a CountWindow)",
            table(["faultwise", "ns", "reference", "ns"], state_rows),
            table(["ratio", "value", "target"], ratios),
        ]
    )


if __name__ == "__main__":
    main()

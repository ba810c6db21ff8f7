"""Four processes share one Redis-backed breaker: once it opens in one, the others reject
within one refresh interval."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from typing import Any

import pytest

from faultwise.resilience import CircuitOpenError, CircuitState
from faultwise.resilience.shared import SharedState

from .redis_server import RedisServer

REFRESH = 0.2
PROCESSES = 4


def replica(url: str, index: int, barrier: Any, results: Any) -> None:
    """One replica: the first makes failing calls until its breaker opens; the others poll
    their own breaker and note when it first rejects."""
    shared = SharedState(url, refresh=REFRESH, prefix="fleet:")
    breaker = shared.circuit_breaker("db", minimum_calls=10, failure_rate=0.5, open_duration=30)
    barrier.wait(timeout=60)
    deadline = time.monotonic() + 10.0
    try:
        if index == 0:
            time.sleep(0.3)  # the others are polling by now
            while breaker.state is CircuitState.CLOSED and time.monotonic() < deadline:
                with contextlib.suppress(ConnectionError):
                    breaker.call(_fail)
            results.put((index, "opened", time.time()))
            return
        while breaker.try_acquire() is not None and time.monotonic() < deadline:
            time.sleep(0.001)
        rejected_at = time.time()
        try:
            breaker.call(time.time)
            results.put((index, "called", rejected_at))
        except CircuitOpenError:
            results.put((index, "rejected", rejected_at))
    finally:
        shared.close()


def _fail() -> None:
    raise ConnectionError("dependency down")


@pytest.mark.integration
@pytest.mark.slow
def test_four_processes_reject_within_one_refresh_after_one_opens(
    own_redis: RedisServer,
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(target=replica, args=(own_redis.url, i, barrier, results))
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    by_index = {index: (what, at) for index, what, at in reports}
    assert ("opened", [("rejected",)] * 3) == (
        by_index[0][0],
        [(by_index[i][0],) for i in range(1, PROCESSES)],
    )
    opened_at = by_index[0][1]
    delays = [by_index[i][1] - opened_at for i in range(1, PROCESSES)]
    print(f"rejected {[round(d * 1000, 1) for d in delays]} ms after the breaker opened")
    # one refresh interval, plus the opener's publish round trip and the scheduling delays
    # of five processes on a busy two-core machine
    assert all(delay <= REFRESH + 0.1 for delay in delays), delays
    assert [0] * PROCESSES == [process.exitcode for process in processes]

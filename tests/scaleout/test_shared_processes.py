"""Four processes share one Redis-backed breaker (on a Redis the test started): once it opens
in one, the others reject within one refresh interval; then the test stops Redis, and every
process follows the chosen fail mode without a call hanging."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import time
from typing import Any

import pytest

from faultwise.resilience import CircuitOpenError, CircuitState, Event
from faultwise.resilience.shared import FailMode, SharedState, SharedStateUnavailable

from .redis_server import RedisServer

REFRESH = 0.2
PROCESSES = 4


def _fail() -> None:
    raise ConnectionError("dependency down")


def _ok() -> str:
    return "ok"


class TimedSharedState(SharedState):
    """Notes when each sync started and ended (wall clock, comparable across processes)."""

    __slots__ = ("syncs",)

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.syncs: list[tuple[float, float]] = []

    def sync(self) -> None:
        started = time.time()
        super().sync()
        self.syncs.append((started, time.time()))


def replica(url: str, fail: str, index: int, sync: Any, results: Any) -> None:
    """Phase 1: the first replica makes failing calls until "db" opens; the others poll their
    own "db" breaker and note when it first rejects. Phase 2 (after the test stops Redis):
    every replica calls through a second, closed breaker and notes what happens."""
    shared = TimedSharedState(url, refresh=REFRESH, prefix="fleet:", fail=fail)
    outages: list[Event] = []
    shared.on_event(lambda e: outages.append(e) if isinstance(e, SharedStateUnavailable) else None)
    db = shared.circuit_breaker("db", minimum_calls=10, failure_rate=0.5, open_duration=30)
    other = shared.circuit_breaker("other", minimum_calls=10)
    ready, opened, stopped = sync
    ready.wait(timeout=60)  # every replica is up and syncing before anything fails
    deadline = time.monotonic() + 20.0
    try:
        if index == 0:
            time.sleep(3 * REFRESH)  # the others are polling and syncing by now
            while db.state is CircuitState.CLOSED and time.monotonic() < deadline:
                with contextlib.suppress(ConnectionError):
                    db.call(_fail)
            opened_at = time.time()
            while not any(start >= opened_at for start, _ in shared.syncs):
                time.sleep(0.001)
            published = min(end for start, end in shared.syncs if start >= opened_at)
            results.put((index, "opened", (opened_at, published, [])))
        else:
            while db.try_acquire() is not None and time.monotonic() < deadline:
                time.sleep(0.001)
            rejected_at = time.time()
            try:
                db.call(_ok)
                outcome = "called"
            except CircuitOpenError:
                outcome = "rejected"
            results.put((index, outcome, (rejected_at, 0.0, list(shared.syncs))))
        opened.wait(timeout=30)
        stopped.wait(timeout=30)
        while not outages and time.monotonic() < deadline:
            time.sleep(0.01)
        seen, slowest = [], 0.0
        for _ in range(20):
            started = time.monotonic()
            try:
                seen.append(other.call(_ok))
            except CircuitOpenError as exc:
                seen.append(exc.state.value)
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.01)
        modes = [e.fail_mode.value for e in outages if isinstance(e, SharedStateUnavailable)]
        results.put((index, "outage", (modes, seen, slowest)))
    finally:
        shared.close()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("fail", "expected"), [("open", "ok"), ("closed", "forced_open")])
def test_four_processes_share_a_breaker_and_follow_the_fail_mode_when_redis_stops(
    own_redis: RedisServer, fail: str, expected: str
) -> None:
    context = multiprocessing.get_context("spawn")
    ready, opened, stopped = context.Barrier(PROCESSES), context.Event(), context.Event()
    results = context.Queue()
    processes = [
        context.Process(
            target=replica, args=(own_redis.url, fail, i, (ready, opened, stopped), results)
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    first = {i: (what, at) for i, what, at in (results.get(timeout=90) for _ in processes)}
    opened.set()
    own_redis.stop()
    stopped.set()
    outage = {i: report for i, _, report in (results.get(timeout=60) for _ in processes)}
    for process in processes:
        process.join(timeout=30)

    assert ["opened", "rejected", "rejected", "rejected"] == [first[i][0] for i in range(4)]
    opened_at, published, _ = first[0][1]
    delays = [first[i][1][0] - opened_at for i in range(1, PROCESSES)]
    print(f"rejected {[round(d * 1000) for d in delays]} ms after the breaker opened")
    for i in range(1, PROCESSES):
        rejected_at, _, syncs = first[i][1]
        # Each replica rejects from its first sync that began after the opener published:
        # within one refresh interval of it, whatever the machine's scheduling adds.
        adopting = min(end for start, end in syncs if start >= published)
        gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(syncs))
        assert rejected_at <= adopting + 0.05, (i, rejected_at - adopting)
        assert REFRESH == pytest.approx(gaps[len(gaps) // 2], abs=0.05)  # the sync cadence
    for modes, seen, slowest in outage.values():
        assert ([FailMode(fail).value], [expected] * 20) == (modes, seen)
        assert slowest < 1.0  # nothing hangs: a call never waits on the dead Redis
    assert [0] * PROCESSES == [process.exitcode for process in processes]

"""Timeout: bound a call's time, and give everything inside it the same deadline.

An asyncio call is cancelled when its time is up. A synchronous call cannot be interrupted
from outside in Python (Polly calls this "optimistic" timeout and says the same): the timeout
sets the deadline contextvar so the call and everything it runs (nested policies, retries,
waits, :func:`deadline_to_headers` on outgoing HTTP calls) can see the remaining time, and if
the call still overruns, its late result is discarded and :class:`TimeoutExceeded` is raised
when it returns, so sync and async callers see the same contract.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._base import Event, Next, ResilienceError, Strategy
from faultwise.resilience._deadline import _current, tighter

__all__ = ["TimedOut", "Timeout", "TimeoutConfig", "TimeoutExceeded"]


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """``seconds``: the most one call through the strategy may take.

    No default: it depends on the call (anchors: resilience4j's time limiter 1 s, Polly 30 s,
    Envoy's route timeout 15 s).
    """

    seconds: float

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.seconds!r}")


class Timeout(Strategy):
    """Bound a call to ``seconds`` (or less, when an outer deadline is sooner).

    >>> from faultwise.resilience import Policy, Timeout
    >>> policy = Policy(Timeout(2.0))
    """

    __slots__ = ("_clock", "_now", "config", "seconds")
    kind: ClassVar[str] = "timeout"

    def __init__(self, seconds: float, *, name: str | None = None, clock: Clock = SYSTEM_CLOCK):
        super().__init__(name)
        self.config = TimeoutConfig(seconds)
        self.seconds = seconds
        self._clock = clock
        self._now = clock.now

    def _expired(self, start: float, at: float, now: float) -> TimeoutExceeded:
        limit = max(at - start, 0.0)
        self._emit(TimedOut(self.name, limit, now - start))
        return TimeoutExceeded(self.name, limit)

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        now = self._now
        start = now()
        deadline = tighter(self.seconds, self._clock, start)
        at = deadline[0]
        if at <= start:  # never start work that cannot finish in time
            raise self._expired(start, at, start)
        token = _current.set(deadline)
        try:
            result = next(args, kwargs)
        finally:
            _current.reset(token)
        end = now()
        if end > at:
            raise self._expired(start, at, end)
        return result

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        start = self._now()
        deadline = tighter(self.seconds, self._clock, start)
        at = deadline[0]
        if at <= start:
            raise self._expired(start, at, start)
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - run_async always runs inside a task
            raise RuntimeError("Timeout needs to run inside an asyncio task")
        watchdog = _watchdog()
        expiry = watchdog.watch(task, at - start)
        token = _current.set(deadline)
        try:
            return await next(args, kwargs)
        except asyncio.CancelledError:
            if expiry.fired and task.uncancel() <= expiry.cancelling:
                raise self._expired(start, at, self._now()) from None
            raise
        finally:
            watchdog.done(expiry)
            _current.reset(token)


class _Expiry:
    """One call's deadline on the event loop's clock."""

    __slots__ = ("at", "cancelling", "done", "fired", "task")

    def __init__(self, at: float, task: asyncio.Task[Any]) -> None:
        self.at = at
        self.task = task
        self.cancelling = task.cancelling()  # to tell our cancellation from an outside one
        self.fired = self.done = False

    def __lt__(self, other: _Expiry) -> bool:
        return self.at < other.at


class _Watchdog:
    """All async timeouts of one event loop share one timer.

    A timer per call (what ``asyncio.timeout()`` does) costs a ``TimerHandle`` and its
    cancellation on every call; here a call pushes one entry on a heap and the loop's single
    timer fires at the earliest deadline, cancelling the task of every entry that is due and
    not done. Finished entries are dropped as they reach the top, and the heap is compacted
    when more than half of it is finished, so it stays within twice the calls in flight.
    """

    __slots__ = ("finished", "heap", "loop", "timer", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.heap: list[_Expiry] = []
        self.finished = 0
        self.timer: asyncio.TimerHandle | None = None
        self.when = math.inf

    def watch(self, task: asyncio.Task[Any], seconds: float) -> _Expiry:
        expiry = _Expiry(self.loop.time() + seconds, task)
        heapq.heappush(self.heap, expiry)
        if expiry.at < self.when:
            self._schedule(expiry.at)
        return expiry

    def done(self, expiry: _Expiry) -> None:
        expiry.done = True
        if expiry.fired:
            return  # already off the heap
        self.finished += 1
        if self.finished > 64 and self.finished * 2 > len(self.heap):
            self.heap = [e for e in self.heap if not e.done]
            heapq.heapify(self.heap)
            self.finished = 0

    def _schedule(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.when = when
        self.timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self.timer, self.when = None, math.inf
        # (the loop may run a timer up to its clock resolution early: allow 1 µs)
        heap, now = self.heap, self.loop.time() + 1e-6
        while heap and (heap[0].done or heap[0].at <= now):
            expiry = heapq.heappop(heap)
            if expiry.done:
                self.finished -= 1
            else:
                expiry.fired = True
                expiry.task.cancel()
        if heap:
            self._schedule(heap[0].at)


_local = threading.local()


def _watchdog() -> _Watchdog:
    """The watchdog of the running loop (one per thread's loop, made on first use)."""
    loop = asyncio.get_running_loop()
    watchdog: _Watchdog | None = getattr(_local, "watchdog", None)
    if watchdog is None or watchdog.loop is not loop:
        watchdog = _local.watchdog = _Watchdog(loop)
    return watchdog


class TimeoutExceeded(ResilienceError, TimeoutError):
    """A call took longer than its timeout or deadline. Also a builtin :class:`TimeoutError`."""

    def __init__(self, strategy: str, timeout: float) -> None:
        super().__init__(f"{strategy}: call exceeded its time limit of {timeout:.3f} s")
        self.strategy = strategy
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class TimedOut(Event):
    """A call ran out of time (``timeout``: the limit applied; ``elapsed``: time spent)."""

    kind: ClassVar[str] = "timeout"
    event: ClassVar[str] = "timed_out"
    timeout: float
    elapsed: float

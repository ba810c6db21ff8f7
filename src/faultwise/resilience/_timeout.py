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
import math
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
        # One timer that cancels this task, like asyncio.timeout() but without its context
        # manager machinery; the cancellation is told apart from an outside one by the
        # task's cancel count (Task.cancelling/uncancel).
        expiry = _Expiry(task)
        loop = asyncio.get_running_loop()
        timer = loop.call_at(loop.time() + (at - start), expiry.fire)
        token = _current.set(deadline)
        try:
            return await next(args, kwargs)
        except asyncio.CancelledError:
            if expiry.fired and task.uncancel() <= expiry.cancelling:
                raise self._expired(start, at, self._now()) from None
            raise
        finally:
            timer.cancel()
            _current.reset(token)


class _Expiry:
    __slots__ = ("cancelling", "fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.cancelling = task.cancelling()
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        self.task.cancel()


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

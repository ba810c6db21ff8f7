"""Helpers shipped for tests, faultwise's own and its users'.

``FakeClock`` makes every timing rule testable without sleeping::

    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    clock.advance(30.0)      # the open duration passes instantly
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["FakeClock", "capture_events"]

_DEFAULT_WALL_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z: a fixed, readable start


class FakeClock:
    """A manual clock: time moves only when told to, and sleeping moves it.

    ``sleep`` and ``sleep_async`` return at once after advancing the clock by the requested
    amount, and record it in :attr:`sleeps`, so a test can assert the exact backoff schedule.
    ``sleep_async`` yields to the event loop once, so other tasks still interleave.
    Thread-safe.
    """

    def __init__(self, start: float = 0.0, *, wall_ns: int = _DEFAULT_WALL_NS) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._wall_offset_ns = wall_ns - round(start * 1e9)
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def wall_ns(self) -> int:
        return self._wall_offset_ns + round(self._now * 1e9)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backward)."""
        if seconds < 0:
            raise ValueError(f"time cannot go backward: advance({seconds!r})")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    async def sleep_async(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"


class _HasEvents(Protocol):
    def on_event(self, listener: Callable[[Any], object]) -> Callable[[], None]: ...


@contextmanager
def capture_events(*sources: _HasEvents) -> Iterator[list[Any]]:
    """Collect the events of resilience strategies or policies while the block runs::

    with capture_events(breaker) as events:
        ...
    assert [BreakerStateChanged(...)] == events
    """
    events: list[Any] = []
    undo = [source.on_event(events.append) for source in sources]
    try:
        yield events
    finally:
        for unsubscribe in undo:
            unsubscribe()

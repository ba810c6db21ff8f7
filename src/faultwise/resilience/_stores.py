"""State stores: the mutable counters behind the breaker, the limiter and the budget.

Each strategy keeps its shared counters behind one of these small protocols, so a store
shared by many processes (e.g. Redis) can replace the in-memory one without touching the
strategy's logic. The in-memory stores here are thread-safe; none holds a lock while a
protected call runs.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from faultwise._clock import SYSTEM_CLOCK, Clock

__all__ = [
    "FAILURE",
    "SLOW",
    "SUCCESS",
    "AsyncTokenBucketStore",
    "BreakerWindow",
    "CountWindow",
    "SlidingSum",
    "SlidingSumStore",
    "TimeWindow",
    "TokenBucket",
    "TokenBucketStore",
    "WindowCounts",
]

# Call outcomes as bit flags: SUCCESS 0, FAILURE 1, SLOW 2, a slow failure 3.
SUCCESS = 0
FAILURE = 1
SLOW = 2


class SlidingSumStore(Protocol):
    """A sum of recent additions; additions expire after the store's window."""

    def add(self, delta: int) -> None: ...
    def add_if_at_least(self, delta: int, floor: int) -> bool: ...
    def total(self) -> int: ...


class SlidingSum:
    """An integer sum over the last ``window`` seconds, kept in ``slices`` time slices."""

    __slots__ = ("_index", "_lock", "_now", "_ring", "_total", "_width")

    def __init__(self, window: float, *, slices: int = 10, clock: Clock = SYSTEM_CLOCK) -> None:
        self._width = window / slices
        self._ring = [0] * slices
        self._total = 0
        self._now = clock.now
        self._index = math.floor(self._now() / self._width)
        self._lock = threading.Lock()

    def _roll(self) -> int:
        index = math.floor(self._now() / self._width)
        gap = index - self._index
        if gap > 0:
            ring, n = self._ring, len(self._ring)
            for step in range(1, min(gap, n) + 1):
                slot = (self._index + step) % n
                self._total -= ring[slot]
                ring[slot] = 0
            self._index = index
        return index % len(self._ring)

    def add(self, delta: int) -> None:
        with self._lock:
            self._ring[self._roll()] += delta
            self._total += delta

    def add_if_at_least(self, delta: int, floor: int) -> bool:
        """Add ``delta`` only if the sum stays ``>= floor``; says whether it did."""
        with self._lock:
            slot = self._roll()
            if self._total + delta < floor:
                return False
            self._ring[slot] += delta
            self._total += delta
            return True

    def total(self) -> int:
        with self._lock:
            self._roll()
            return self._total


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Outcomes in a breaker's sliding window."""

    calls: int
    failures: int
    slow: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        return self.slow / self.calls if self.calls else 0.0


class BreakerWindow(Protocol):
    """Where a breaker records outcomes (bit flags ``FAILURE | SLOW``).

    The breaker calls ``record``, ``counts`` and ``reset`` under its own lock;
    ``record_success`` is called from any thread with no lock held, so it must be safe alone.
    """

    def record_success(self) -> object: ...
    def record(self, outcome: int) -> None: ...
    def counts(self) -> WindowCounts: ...
    def reset(self) -> None: ...


class CountWindow:
    """The last ``size`` calls (resilience4j's count-based window, default 100).

    Every call takes the next number of one ``itertools.count``: atomic in CPython, so the
    success path takes no lock and costs one C call. Failures and slow calls keep their numbers
    in two deques; numbers that fall out of the window are dropped as new ones arrive, so
    recording and counting are O(1) amortised whatever the size.
    """

    __slots__ = ("_base", "_failures", "_seq", "_slow", "record_success", "size")

    def __init__(self, size: int = 100) -> None:
        if size < 1:
            raise ValueError(f"window size must be >= 1, got {size!r}")
        self.size = size
        self._seq = itertools.count()
        self.record_success = self._seq.__next__
        self._failures: deque[int] = deque()
        self._slow: deque[int] = deque()
        self._base = 0

    def _latest(self) -> int:
        # itertools.count has no peek; its repr, "count(n)", names the next number.
        return int(repr(self._seq)[6:-1]) - 1

    def _drop_old(self, latest: int) -> None:
        oldest = max(latest - self.size + 1, self._base)
        for numbers in (self._failures, self._slow):
            while numbers and numbers[0] < oldest:
                numbers.popleft()

    def record(self, outcome: int) -> None:
        number = next(self._seq)
        if outcome & FAILURE:
            self._failures.append(number)
        if outcome & SLOW:
            self._slow.append(number)
        self._drop_old(number)

    def counts(self) -> WindowCounts:
        latest = self._latest()
        self._drop_old(latest)
        calls = min(self.size, latest + 1 - self._base)
        return WindowCounts(calls, len(self._failures), len(self._slow))

    def reset(self) -> None:
        self._base = self._latest() + 1
        self._failures.clear()
        self._slow.clear()

    def __repr__(self) -> str:
        return f"CountWindow(size={self.size})"


class TimeWindow:
    """Outcomes of the last ``seconds`` seconds, in one-second buckets (resilience4j's
    time-based window)."""

    __slots__ = ("_calls", "_failures", "_lock", "_now", "_second", "_slow", "seconds")

    def __init__(self, seconds: int = 60, *, clock: Clock = SYSTEM_CLOCK) -> None:
        if seconds < 1:
            raise ValueError(f"window seconds must be >= 1, got {seconds!r}")
        self.seconds = seconds
        self._now = clock.now
        self._lock = threading.Lock()
        self._calls = [0] * seconds
        self._failures = [0] * seconds
        self._slow = [0] * seconds
        self._second = math.floor(self._now())

    def _roll(self) -> int:
        second = math.floor(self._now())
        for step in range(1, min(second - self._second, self.seconds) + 1):
            slot = (self._second + step) % self.seconds
            self._calls[slot] = self._failures[slot] = self._slow[slot] = 0
        self._second = max(second, self._second)
        return self._second % self.seconds

    def record_success(self) -> None:
        self.record(SUCCESS)

    def record(self, outcome: int) -> None:
        with self._lock:
            slot = self._roll()
            self._calls[slot] += 1
            self._failures[slot] += outcome & FAILURE
            self._slow[slot] += (outcome & SLOW) >> 1

    def counts(self) -> WindowCounts:
        with self._lock:
            self._roll()
            return WindowCounts(sum(self._calls), sum(self._failures), sum(self._slow))

    def reset(self) -> None:
        with self._lock:
            for ring in (self._calls, self._failures, self._slow):
                ring[:] = [0] * self.seconds

    def __repr__(self) -> str:
        return f"TimeWindow(seconds={self.seconds})"


class TokenBucketStore(Protocol):
    """Tokens refilled at a steady rate up to a burst, with reservations and refunds."""

    def take(self, max_wait: float) -> float | None: ...
    def refund(self) -> None: ...
    def available(self) -> float: ...


class AsyncTokenBucketStore(TokenBucketStore, Protocol):
    """A bucket that may need I/O to grant a token (one shared by many processes): the
    rate limiter's async drivers await :meth:`take_async` instead of calling ``take``."""

    async def take_async(self, max_wait: float) -> float | None: ...


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up.

    :meth:`take` reserves a token: it returns 0.0 when one is there, the wait until it will
    be (a reservation, tokens go below zero) when that wait is ``<= max_wait``, or ``None``.
    A reservation whose caller gives up is handed back with :meth:`refund`.
    """

    __slots__ = ("_last", "_lock", "_now", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.rate = rate
        self.burst = burst
        self._now = clock.now
        self._tokens = float(burst)
        self._last = self._now()
        self._lock = threading.Lock()

    def _refill(self) -> float:
        now = self._now()
        tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return tokens

    def take(self, max_wait: float) -> float | None:
        with self._lock:
            tokens = self._refill()
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            if wait > max_wait:
                self._tokens = tokens
                return None
            self._tokens = tokens - 1
            return wait

    def refund(self) -> None:
        with self._lock:
            self._tokens = min(self.burst, self._refill() + 1)

    def available(self) -> float:
        with self._lock:
            self._tokens = self._refill()
            return self._tokens

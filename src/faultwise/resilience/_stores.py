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
from collections.abc import Callable
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
    "Tally",
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


class Tally:
    """A count any thread adds one to with no lock, read under its owner's lock.

    ``bump`` is ``itertools.count.__next__``: one C call that runs under the GIL without
    releasing it, so two threads' bumps never interleave (``n += 1`` is a load, an add and a
    store, and CPython does not promise that no thread runs in between; the argument needs
    the GIL). ``next()`` is also the only way to read a count, and it advances it: ``read``
    discounts the steps it took, so reads must not interleave (the owner's lock).
    """

    __slots__ = ("_count", "_reads", "bump")

    def __init__(self) -> None:
        self._count = itertools.count()
        self.bump: Callable[[], object] = self._count.__next__
        self._reads = 0

    def read(self) -> int:
        """The bumps so far (call it under the owner's lock)."""
        value = next(self._count) - self._reads
        self._reads += 1
        return value


class _Ring:
    """Sums over the last ``slices`` time slices of ``width`` seconds: a tally that any thread
    bumps with no lock, and ``columns`` sums changed under the lock.

    The tally is one ``itertools.count`` for the ring's whole life, never replaced; each slice
    keeps the tally's value when it began, so the bumps in the window are the tally now minus
    that value for the oldest live slice, and a bump can never land in a detached counter.
    """

    __slots__ = (
        "_bump",
        "_columns",
        "_edge",
        "_index",
        "_lock",
        "_marks",
        "_now",
        "_sums",
        "_tally",
        "_width",
    )

    def __init__(self, width: float, slices: int, columns: int, clock: Clock) -> None:
        self._width = width
        self._now = clock.now
        self._lock = threading.Lock()
        self._tally = Tally()
        self._bump = self._tally.bump
        self._marks = [0] * slices
        self._columns = [[0] * slices for _ in range(columns)]
        self._sums = [0] * columns
        self._index = math.floor(self._now() / width)
        self._edge = (self._index + 1) * width  # the time the current slice ends

    def _roll(self) -> int:
        """Empty the slices that left the window (the lock is held); the current slot."""
        index = math.floor(self._now() / self._width)
        n = len(self._marks)
        if index > self._index:
            began = self._tally.read()
            for step in range(1, min(index - self._index, n) + 1):
                slot = (self._index + step) % n
                self._marks[slot] = began
                for c, column in enumerate(self._columns):
                    self._sums[c] -= column[slot]
                    column[slot] = 0
            self._index = index
            self._edge = (index + 1) * self._width
        return self._index % n

    def _add(self, slot: int, column: int, delta: int) -> None:
        """Add to a column's slot (the lock is held)."""
        self._columns[column][slot] += delta
        self._sums[column] += delta

    def _in_window(self) -> int:
        """Bumps in the window (the lock is held, the ring rolled)."""
        return self._tally.read() - self._marks[(self._index + 1) % len(self._marks)]

    def _clear(self) -> None:
        """Forget every slice (the lock is held)."""
        n = len(self._marks)
        self._marks[:] = [self._tally.read()] * n
        for column in self._columns:
            column[:] = [0] * n
        self._sums[:] = [0] * len(self._sums)


# The lock-free fast paths below (SlidingSum.add, TimeWindow.record_success) bump the tally
# while the clock is still before the current slice's end. Why no update is lost:
# - the bump is ``itertools.count.__next__``, one C call that runs under the GIL without
#   releasing it, so two threads' bumps never interleave; ``ring[slot] += 1`` is a load, an
#   add and a store, and CPython does not promise that no thread runs in between. The argument
#   needs the GIL, as CountWindow's does: it does not hold on a free-threaded build.
# - ``_edge`` is read without the lock, and only ever grows. A stale value sends the call to
#   the locked path, which rolls as needed. A roll by another thread between the check and the
#   bump moves the bump into the slice that just began (the slices' marks are tally values): a
#   call at a boundary is counted one slice late, never lost and never in an expired slice.


class SlidingSum(_Ring):
    """An integer sum over the last ``window`` seconds, kept in ``slices`` time slices.

    Adding ``unit`` (a request counter's 1, a retry budget's deposit) takes no lock while the
    current slice lasts; other deltas, a slice change and reads take the lock.
    """

    __slots__ = ("_unit",)

    def __init__(
        self, window: float, *, slices: int = 10, unit: int = 1, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        super().__init__(window / slices, slices, 1, clock)
        self._unit = unit

    def add(self, delta: int) -> None:
        if delta == self._unit and self._now() < self._edge:
            self._bump()  # lock-free: see the comment above this class
            return
        with self._lock:
            self._add(self._roll(), 0, delta)

    def add_if_at_least(self, delta: int, floor: int) -> bool:
        """Add ``delta`` only if the sum stays ``>= floor``; says whether it did."""
        with self._lock:
            slot = self._roll()
            if self._sum() + delta < floor:
                return False
            self._add(slot, 0, delta)
            return True

    def total(self) -> int:
        with self._lock:
            self._roll()
            return self._sum()

    def _sum(self) -> int:
        return self._sums[0] + self._unit * self._in_window()


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


class TimeWindow(_Ring):
    """Outcomes of the last ``seconds`` seconds, in one-second buckets (resilience4j's
    time-based window).

    A success within the second of the last roll takes no lock (one ``itertools.count`` step,
    as in :class:`CountWindow`); other outcomes, a new second and reads take the lock.
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: int = 60, *, clock: Clock = SYSTEM_CLOCK) -> None:
        if seconds < 1:
            raise ValueError(f"window seconds must be >= 1, got {seconds!r}")
        super().__init__(1.0, seconds, 2, clock)  # calls are the tally; failures, slow calls
        self.seconds = seconds

    def record_success(self) -> None:
        if self._now() < self._edge:
            self._bump()  # lock-free: see the comment above SlidingSum
        else:
            self.record(SUCCESS)

    def record(self, outcome: int) -> None:
        with self._lock:
            slot = self._roll()
            self._bump()
            if outcome & FAILURE:
                self._add(slot, 0, 1)
            if outcome & SLOW:
                self._add(slot, 1, 1)

    def counts(self) -> WindowCounts:
        with self._lock:
            self._roll()
            failures, slow = self._sums
            return WindowCounts(self._in_window(), failures, slow)

    def reset(self) -> None:
        with self._lock:
            self._clear()

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

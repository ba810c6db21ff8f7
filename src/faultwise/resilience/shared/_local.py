"""The process-local half of shared state: what every call touches, with no I/O.

Each shared store keeps the counts its process made since the last sync, the fleet-wide view
fetched at that sync, and a short local history to fall back on. A syncer (a thread or an
asyncio task, see ``_redis``) drains the local counts into Redis every ``refresh`` seconds
and brings back the fleet's; calls never wait for it. Only the rate limiter asks Redis on a
call, once per batch of tokens.
"""

from __future__ import annotations

import enum
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from faultwise._clock import Clock
from faultwise.resilience._base import Emitter, Event
from faultwise.resilience._circuit_breaker import BreakerStateChanged, CircuitBreaker, CircuitState
from faultwise.resilience._stores import FAILURE, SLOW, Tally, TokenBucket, WindowCounts

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FailMode",
    "Hub",
    "SharedBucket",
    "SharedStateRestored",
    "SharedStateUnavailable",
    "SharedSum",
    "SharedWindow",
]


class FailMode(enum.Enum):
    """What shared strategies do while the shared store cannot be reached.

    ``OPEN``: carry on with this process's own state (its own window, its own bucket at
    ``local_rate``, its own budget). ``CLOSED``: refuse (the breaker is forced open, the
    limiter rejects, the budget allows no retry) until the store answers again.
    """

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SharedStateUnavailable(Event):
    """The shared store stopped answering; strategies now follow ``fail_mode``."""

    kind: ClassVar[str] = "shared_state"
    event: ClassVar[str] = "unavailable"
    fail_mode: FailMode
    error: str


@dataclass(frozen=True, slots=True)
class SharedStateRestored(Event):
    """The shared store answers again after ``down_for`` seconds; fleet state is back."""

    kind: ClassVar[str] = "shared_state"
    event: ClassVar[str] = "restored"
    down_for: float


class Hub(Emitter):
    """What the stores of one shared-state connection share: health, fail mode, the clock."""

    __slots__ = ("_down_since", "available", "clock", "fail", "name", "participants", "refresh")

    def __init__(self, name: str, refresh: float, fail: FailMode | str, clock: Clock) -> None:
        super().__init__()
        if not (refresh > 0 and math.isfinite(refresh)):
            raise ValueError(f"refresh must be > 0, got {refresh!r}")
        self.name = name
        self.refresh = refresh
        self.fail = FailMode(fail)
        self.clock = clock
        self.available = True
        self.participants: list[SharedWindow | SharedSum] = []
        self._down_since = 0.0

    def wake(self) -> None:
        """Ask the syncer to run now (a breaker changed state); default: wait for the tick."""

    def mark_down(self, error: BaseException) -> None:
        """The store failed: fall back per the fail mode, once, and say so."""
        if not self.available:
            return
        self.available = False
        self._down_since = self.clock.now()
        self._emit(SharedStateUnavailable(self.name, self.fail, repr(error)))
        for participant in self.participants:
            participant.degrade()

    def mark_up(self) -> None:
        if self.available:
            return
        self.available = True
        self._emit(SharedStateRestored(self.name, self.clock.now() - self._down_since))
        for participant in self.participants:
            participant.restore()


class _History:
    """This process's own recent deltas, one entry per sync tick, for the local fallback."""

    __slots__ = ("_entries", "_now", "window")

    def __init__(self, window: float, now: Callable[[], float]) -> None:
        self.window = window
        self._now = now
        self._entries: deque[tuple[float, tuple[int, ...]]] = deque()

    def add(self, deltas: tuple[int, ...]) -> None:
        now = self._now()
        if any(deltas):
            self._entries.append((now, deltas))
        while self._entries and self._entries[0][0] <= now - self.window:
            self._entries.popleft()

    def totals(self, width: int) -> list[int]:
        totals = [0] * width
        for _, deltas in self._entries:
            for i, delta in enumerate(deltas):
                totals[i] += delta
        return totals

    def clear(self) -> None:
        self._entries.clear()


class SharedWindow:
    """A breaker window over the whole fleet: ``seconds`` of calls, failures and slow calls.

    Successes cost one ``itertools.count`` step (atomic, no lock), as in the in-memory
    window; failures take a small lock. :meth:`counts` is the fleet's counts at the last sync
    plus this process's since then (its own history alone while the store is down). The
    breaker's own state changes are published; those of other processes are adopted.
    """

    __slots__ = (
        "_adopting",
        "_breaker",
        "_calls",
        "_failures",
        "_flushed",
        "_history",
        "_hub",
        "_lock",
        "_publish",
        "_shared",
        "_slow",
        "_successes",
        "known_epoch",
        "name",
        "record_success",
        "seconds",
    )

    def __init__(self, hub: Hub, name: str, seconds: int) -> None:
        if seconds < 1:
            raise ValueError(f"window seconds must be >= 1, got {seconds!r}")
        self._hub = hub
        self.name = name
        self.seconds = seconds
        self._lock = threading.Lock()
        self._successes = Tally()  # successes are counted with no lock, as CountWindow does
        self.record_success: Callable[[], object] = self._successes.bump
        self._flushed = 0
        self._calls = self._failures = self._slow = 0
        self._shared = WindowCounts(0, 0, 0)
        self._history = _History(seconds, hub.clock.now)
        self._breaker: CircuitBreaker | None = None
        self._publish: tuple[CircuitState, float] | None = None
        self._adopting: int | None = None
        self.known_epoch = 0

    def attach(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        breaker.on_event(self._on_event)

    # -- BreakerWindow --------------------------------------------------------------------

    def record(self, outcome: int) -> None:
        with self._lock:
            self._calls += 1
            self._failures += outcome & FAILURE
            self._slow += (outcome & SLOW) >> 1

    def counts(self) -> WindowCounts:
        with self._lock:
            calls, failures, slow = self._pending()
            if self._hub.available:
                base = self._shared
                return WindowCounts(base.calls + calls, base.failures + failures, base.slow + slow)
            mine = self._history.totals(3)
            return WindowCounts(mine[0] + calls, mine[1] + failures, mine[2] + slow)

    def reset(self) -> None:
        with self._lock:
            self._flushed = self._successes.read()
            self._calls = self._failures = self._slow = 0
            self._shared = WindowCounts(0, 0, 0)
            self._history.clear()

    # -- the syncer's side ----------------------------------------------------------------

    def drain(self) -> tuple[tuple[int, int, int], tuple[CircuitState, float] | None]:
        """Take the outcomes since the last sync, and the state change to publish, if any."""
        with self._lock:
            deltas = self._pending()
            self._flushed += deltas[0] - self._calls
            self._calls = self._failures = self._slow = 0
            self._history.add(deltas)
            publish, self._publish = self._publish, None
        return deltas, publish

    def applied(
        self, counts: WindowCounts, state: CircuitState, open_for: float, epoch: int
    ) -> None:
        """The fleet's counts and state after a sync: adopt the state if another process
        changed it."""
        with self._lock:
            self._shared = counts
        if epoch != self.known_epoch:
            self.known_epoch = epoch
            self._adopt(state, open_for)

    def unpublished(self, publish: tuple[CircuitState, float] | None) -> None:
        """A sync failed: keep its state change for the next one unless a newer one came."""
        with self._lock:
            if publish is not None and self._publish is None:
                self._publish = publish

    def degrade(self) -> None:
        if self._hub.fail is FailMode.CLOSED:
            self._adopt(CircuitState.FORCED_OPEN, 0.0)

    def restore(self) -> None:
        with self._lock:
            self._publish = None
        self.known_epoch = -1  # whatever the store says now is adopted at the next sync

    def forked(self) -> None:
        """In a forked child: a lock of its own (the parent's may have been held at the fork)
        and nothing pending (the parent flushes what it counted before the fork)."""
        self._lock = threading.Lock()
        self._flushed = self._successes.read()
        self._calls = self._failures = self._slow = 0
        self._publish = None

    # -- internals ------------------------------------------------------------------------

    def _pending(self) -> tuple[int, int, int]:
        successes = self._successes.read() - self._flushed
        return successes + self._calls, self._failures, self._slow

    def _on_event(self, event: Event) -> None:
        breaker = self._breaker
        if (
            isinstance(event, BreakerStateChanged)
            and breaker is not None
            and self._adopting != threading.get_ident()
        ):
            # under the lock: drain() reads and clears it there, and a change published
            # between its read and its clear would be lost
            with self._lock:
                self._publish = (event.to_state, breaker.open_remaining)
            self._hub.wake()

    def _adopt(self, state: CircuitState, open_for: float) -> None:
        breaker = self._breaker
        if breaker is None:
            return
        self._adopting = threading.get_ident()
        try:
            breaker.adopt(state, open_for)
        finally:
            self._adopting = None

    def __repr__(self) -> str:
        return f"SharedWindow(name={self.name!r}, seconds={self.seconds})"


class SharedSum:
    """A retry budget's sliding sum over the whole fleet (Finagle's budget, fleet-wide).

    Deposits and withdrawals are decided against the fleet's sum at the last sync plus this
    process's changes since, and flushed at the next sync: within one refresh interval the
    fleet may overdraw by what each process withdrew in it.
    """

    __slots__ = ("_history", "_hub", "_lock", "_pending", "_shared", "name", "window")

    def __init__(self, hub: Hub, name: str, window: float) -> None:
        self._hub = hub
        self.name = name
        self.window = window
        self._lock = threading.Lock()
        self._pending = 0
        self._shared = 0
        self._history = _History(window, hub.clock.now)

    def add(self, delta: int) -> None:
        with self._lock:
            self._pending += delta

    def add_if_at_least(self, delta: int, floor: int) -> bool:
        with self._lock:
            if delta < 0 and not self._hub.available and self._hub.fail is FailMode.CLOSED:
                return False
            if self._base() + self._pending + delta < floor:
                return False
            self._pending += delta
            return True

    def total(self) -> int:
        with self._lock:
            return self._base() + self._pending

    def drain(self) -> int:
        with self._lock:
            delta, self._pending = self._pending, 0
            self._history.add((delta,))
        return delta

    def applied(self, total: int) -> None:
        with self._lock:
            self._shared = total

    def degrade(self) -> None: ...

    def restore(self) -> None: ...

    def forked(self) -> None:
        """In a forked child: a lock of its own and nothing pending (see SharedWindow)."""
        self._lock = threading.Lock()
        self._pending = 0

    def _base(self) -> int:
        return self._shared if self._hub.available else self._history.totals(1)[0]

    def __repr__(self) -> str:
        return f"SharedSum(name={self.name!r}, window={self.window})"


class SharedBucket:
    """The local side of one token bucket kept in Redis.

    Tokens are granted by the server in batches; calls spend them locally. A batch lives for
    ``refresh`` seconds; what is left then goes back to the bucket with the next request, so
    a quiet process does not hoard tokens. The batch doubles while the process spends each
    one within its lifetime and halves otherwise, up to ``max_batch``. I/O is done by the
    subclasses in ``_redis`` (sync and async).
    """

    __slots__ = (
        "_batch",
        "_expires",
        "_fallback",
        "_fetched_at",
        "_hub",
        "_lock",
        "_server_tokens",
        "_tokens",
        "burst",
        "local_rate",
        "max_batch",
        "name",
        "rate",
    )

    def __init__(self, hub: Hub, name: str, local_rate: float | None, max_batch: int | None):
        self._hub = hub
        self.name = name
        self.rate = self.burst = 1.0
        self.local_rate = local_rate
        self.max_batch = max_batch or 1
        self._lock = threading.Lock()
        self._tokens = 0
        self._expires = self._fetched_at = 0.0
        self._batch = 1
        self._server_tokens = 0.0
        self._fallback = TokenBucket(1.0, 1.0, clock=hub.clock)

    def bind(self, rate: float, burst: float, max_batch: int | None) -> None:
        """Take the limiter's rate and burst (the limiter computes the defaults)."""
        self.rate, self.burst = rate, burst
        self.max_batch = max_batch or max(1, int(burst // 10))
        self._server_tokens = burst
        local_rate = self.local_rate or rate
        self._fallback = TokenBucket(
            local_rate, max(1.0, min(burst, local_rate)), clock=self._hub.clock
        )

    def take(self, max_wait: float) -> float | None:
        raise NotImplementedError  # the sync and async twins in _redis

    def take_local(self) -> bool:
        """Spend a token of the current batch, if there is one and it is still fresh."""
        with self._lock:
            if self._tokens > 0 and self._hub.clock.now() < self._expires:
                self._tokens -= 1
                return True
            return False

    def request(self) -> tuple[int, int]:
        """How many tokens to ask for and how many stale ones to give back."""
        with self._lock:
            now = self._hub.clock.now()
            stale = self._tokens if now >= self._expires else 0
            fast = stale == 0 and now - self._fetched_at < self._hub.refresh
            self._batch = min(self.max_batch, self._batch * 2) if fast else max(1, self._batch // 2)
            self._tokens -= stale
            return self._batch, stale

    def granted(self, granted: int, wait: float, server_tokens: float) -> float | None:
        """Keep a fresh batch; this call takes one of it (after ``wait`` s, a reservation)."""
        with self._lock:
            now = self._hub.clock.now()
            self._server_tokens = server_tokens
            if granted < 1:
                return None
            self._tokens += granted - 1
            self._fetched_at = now
            self._expires = now + self._hub.refresh
            return wait

    def degraded(self, max_wait: float) -> float | None:
        if self._hub.fail is FailMode.CLOSED:
            return None
        return self._fallback.take(max_wait)

    def refund(self) -> None:
        if not self._hub.available:
            self._fallback.refund()
            return
        with self._lock:
            self._tokens += 1

    def available(self) -> float:
        if not self._hub.available:
            return 0.0 if self._hub.fail is FailMode.CLOSED else self._fallback.available()
        with self._lock:
            return self._tokens + self._server_tokens

    def __repr__(self) -> str:
        return f"SharedBucket(name={self.name!r}, rate={self.rate}, burst={self.burst})"

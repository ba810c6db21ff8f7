"""Adaptive concurrency limit: find how many calls in flight a dependency can take.

Netflix's concurrency-limits: a limiter admits calls while ``in_flight < limit`` and a limit
algorithm moves the limit after each call from its round-trip time and whether it was
dropped (timed out or rejected by the server). Two algorithms:

- :class:`AIMDLimit`: additive increase while the limit is in use, multiplicative decrease
  (x0.9) on a drop (Netflix ``AIMDLimit``: 20 to 200).
- :class:`Gradient2Limit`: compares a short-term RTT with a slow moving average and shrinks
  the limit as queueing makes calls slower (Netflix ``Gradient2Limit``: 20 to 200, smoothing
  0.2, queue size 4, tolerance 1.5, long window 600 samples).

>>> from faultwise.resilience import ConcurrencyLimit, Gradient2Limit, Policy
>>> policy = Policy(ConcurrencyLimit(Gradient2Limit()))
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._base import Event, Next, RejectedError, Strategy

__all__ = [
    "AIMDLimit",
    "ConcurrencyLimit",
    "ConcurrencyLimitConfig",
    "ConcurrencyLimitError",
    "ConcurrencyLimited",
    "Gradient2Limit",
    "LimitAlgorithm",
    "LimitChanged",
]

ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class ConcurrencyLimitConfig:
    """The limit algorithm and which errors count as drops."""

    algorithm: LimitAlgorithm
    drop_on: tuple[type[BaseException], ...]


class LimitAlgorithm(ABC):
    """Computes a new limit from one finished call (pure, given its own state)."""

    limit: float

    @abstractmethod
    def update(self, rtt: float, in_flight: int, dropped: bool) -> float:
        """The new limit after a call of ``rtt`` s with ``in_flight`` calls at its start."""


class AIMDLimit(LimitAlgorithm):
    """+1 when at least half the limit is in use, x``backoff`` on a drop (Netflix defaults)."""

    def __init__(
        self, initial: int = 20, *, minimum: int = 20, maximum: int = 200, backoff: float = 0.9
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("need 1 <= minimum <= initial <= maximum")
        if not 0 < backoff < 1:
            raise ValueError(f"backoff must be within (0, 1), got {backoff!r}")
        self.limit = float(initial)
        self.minimum, self.maximum, self.backoff = minimum, maximum, backoff

    def update(self, rtt: float, in_flight: int, dropped: bool) -> float:
        if dropped:
            self.limit = max(self.minimum, math.floor(self.limit * self.backoff))
        elif in_flight * 2 >= self.limit:
            self.limit = min(self.maximum, self.limit + 1)
        return self.limit


class Gradient2Limit(LimitAlgorithm):
    """Netflix's ``Gradient2Limit``: the limit follows ``long_rtt / short_rtt``."""

    def __init__(
        self,
        initial: int = 20,
        *,
        minimum: int = 20,
        maximum: int = 200,
        smoothing: float = 0.2,
        queue_size: int = 4,
        tolerance: float = 1.5,
        long_window: int = 600,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("need 1 <= minimum <= initial <= maximum")
        self.limit = float(initial)
        self.minimum, self.maximum = minimum, maximum
        self.smoothing, self.queue_size, self.tolerance = smoothing, queue_size, tolerance
        self._long_factor = 2 / (long_window + 1)  # exponential moving average
        self.long_rtt = 0.0

    def update(self, rtt: float, in_flight: int, dropped: bool) -> float:
        short = max(rtt, 1e-9)
        if self.long_rtt == 0.0:
            self.long_rtt = short
        else:
            self.long_rtt += (short - self.long_rtt) * self._long_factor
        if self.long_rtt / short > 2:  # recover quickly after a latency spike ends
            self.long_rtt *= 0.95
        if in_flight < self.limit / 2:  # app-limited: the sample says nothing about capacity
            return self.limit
        gradient = max(0.5, min(1.0, self.tolerance * self.long_rtt / short))
        target = self.limit * gradient + self.queue_size
        smoothed = self.limit * (1 - self.smoothing) + target * self.smoothing
        self.limit = max(self.minimum, min(self.maximum, smoothed))
        return self.limit


class ConcurrencyLimit(Strategy):
    """Admit calls while fewer than the adaptive limit are in flight; reject the rest.

    ``algorithm`` defaults to :class:`AIMDLimit`; ``drop_on`` errors (default
    :class:`TimeoutError`, which includes :class:`TimeoutExceeded`) shrink the limit.
    """

    __slots__ = ("_in_flight", "_lock", "_now", "config")
    kind: ClassVar[str] = "concurrency_limit"

    def __init__(
        self,
        algorithm: LimitAlgorithm | None = None,
        *,
        drop_on: ErrorTypes = TimeoutError,
        name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name)
        self.config = ConcurrencyLimitConfig(
            algorithm if algorithm is not None else AIMDLimit(),
            drop_on if isinstance(drop_on, tuple) else (drop_on,),
        )
        self._now = clock.now
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def limit(self) -> int:
        return math.floor(self.config.algorithm.limit)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_acquire(self) -> int | None:
        """Admit one call: returns the in-flight count at its start, or ``None``."""
        with self._lock:
            if self._in_flight >= self.limit:
                return None
            self._in_flight += 1
            return self._in_flight

    def on_done(self, in_flight: int, rtt: float, dropped: bool) -> None:
        """A call admitted with ``in_flight`` ended after ``rtt`` s (``dropped``: overloaded)."""
        with self._lock:
            self._in_flight -= 1
            before = self.limit
            self.config.algorithm.update(rtt, in_flight, dropped)
            after = self.limit
        if after != before:
            self._emit(LimitChanged(self.name, before, after))

    def release(self) -> None:
        """A call ended without a usable sample (cancelled, or an error to ignore)."""
        with self._lock:
            self._in_flight -= 1

    def _admit(self) -> int:
        in_flight = self.try_acquire()
        if in_flight is None:
            self._emit(ConcurrencyLimited(self.name, self.limit, self._in_flight))
            raise ConcurrencyLimitError(
                f"{self.name}: concurrency limit {self.limit} reached", strategy=self.name
            )
        return in_flight

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        in_flight = self._admit()
        start = self._now()
        try:
            result = next(args, kwargs)
        except Exception as exc:
            self.on_done(in_flight, self._now() - start, isinstance(exc, self.config.drop_on))
            raise
        except BaseException:
            self.release()
            raise
        self.on_done(in_flight, self._now() - start, False)
        return result

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        in_flight = self._admit()
        start = self._now()
        try:
            result = await next(args, kwargs)
        except Exception as exc:
            self.on_done(in_flight, self._now() - start, isinstance(exc, self.config.drop_on))
            raise
        except BaseException:  # cancelled: the permit goes back without a sample
            self.release()
            raise
        self.on_done(in_flight, self._now() - start, False)
        return result


class ConcurrencyLimitError(RejectedError):
    """The adaptive limit of calls in flight was reached."""


@dataclass(frozen=True, slots=True)
class ConcurrencyLimited(Event):
    """A call was rejected at ``limit`` with ``in_flight`` calls running."""

    kind: ClassVar[str] = "concurrency_limit"
    event: ClassVar[str] = "rejected"
    limit: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class LimitChanged(Event):
    """The adaptive limit moved from ``old`` to ``new``."""

    kind: ClassVar[str] = "concurrency_limit"
    event: ClassVar[str] = "limit_changed"
    old: int
    new: int

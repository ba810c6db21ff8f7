"""Rate limiter: a token bucket; over the rate, wait (up to a limit) or reject.

The pure interface is the store's ``take(max_wait)`` (0.0 = go now, ``d`` = go after a
reserved wait of ``d`` s, ``None`` = rejected) and ``refund()``; the drivers sleep through the
injected clock. A caller cancelled or failing while it waits gets its token refunded.

>>> from faultwise.resilience import Policy, RateLimiter
>>> policy = Policy(RateLimiter(100.0, burst=20, max_wait=0.0))  # 100/s, reject beyond
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._base import Event, Next, RejectedError, Strategy
from faultwise.resilience._deadline import remaining
from faultwise.resilience._stores import TokenBucket, TokenBucketStore

__all__ = ["RateLimited", "RateLimitedError", "RateLimiter", "RateLimiterConfig"]


@dataclass(frozen=True, slots=True)
class RateLimiterConfig:
    """``rate`` calls per second, ``burst`` saved up, ``max_wait`` seconds of waiting."""

    rate: float
    burst: float
    max_wait: float

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be > 0, got {self.rate!r}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be >= 1, got {self.burst!r}")
        if not self.max_wait >= 0:
            raise ValueError(f"max_wait must be >= 0, got {self.max_wait!r}")


class RateLimiter(Strategy):
    """At most ``rate`` calls per second on average, ``burst`` at once.

    ``burst`` defaults to one second's worth (at least 1). ``max_wait`` defaults to 5 s
    (resilience4j's limiter timeout); ``0`` rejects at once. The wait never runs past the
    current deadline: a wait longer than what remains is rejected immediately.
    """

    __slots__ = ("_clock", "_store", "_take_async", "config")
    kind: ClassVar[str] = "rate_limiter"

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        max_wait: float = 5.0,
        name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        store: TokenBucketStore | None = None,
    ) -> None:
        super().__init__(name)
        burst = max(1.0, rate) if burst is None else burst
        self.config = RateLimiterConfig(rate, burst, max_wait)
        self._clock = clock
        self._store = store if store is not None else TokenBucket(rate, burst, clock=clock)
        # A store shared across processes may need I/O to grant a token: async drivers await it.
        self._take_async = getattr(self._store, "take_async", None)

    def try_acquire(self) -> bool:
        """Take a token if one is there now."""
        return self._store.take(0.0) is not None

    def reserve(self) -> float:
        """Reserve a token: the seconds to wait before using it; raises when over the limit."""
        return self._granted(self._store.take(self._wait_limit()))

    async def reserve_async(self) -> float:
        """The asyncio twin of :meth:`reserve` (awaits a store's ``take_async`` if it has one)."""
        if self._take_async is None:
            return self.reserve()
        return self._granted(await self._take_async(self._wait_limit()))

    def _wait_limit(self) -> float:
        left = remaining()
        limit = self.config.max_wait if left is None else min(self.config.max_wait, left)
        return max(limit, 0.0)

    def _granted(self, wait: float | None) -> float:
        if wait is None:
            retry_after = max(0.0, (1 - self._store.available()) / self.config.rate)
            self._emit(RateLimited(self.name, retry_after))
            raise RateLimitedError(
                f"{self.name}: rate limit exceeded", strategy=self.name, retry_after=retry_after
            )
        return wait

    def refund(self) -> None:
        """Hand back a reserved token whose call will not be made."""
        self._store.refund()

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        wait = self.reserve()
        if wait:
            try:
                self._clock.sleep(wait)
            except BaseException:
                self.refund()
                raise
        return next(args, kwargs)

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        wait = self.reserve() if self._take_async is None else await self.reserve_async()
        if wait:
            try:
                await self._clock.sleep_async(wait)
            except BaseException:  # cancelled while waiting: the token goes back
                self.refund()
                raise
        return await next(args, kwargs)


class RateLimitedError(RejectedError):
    """Over the rate, and the wait for a token would be too long (``retry_after`` says how
    long until one is there)."""


@dataclass(frozen=True, slots=True)
class RateLimited(Event):
    """A call was rejected; a token will be there in ``retry_after`` s."""

    kind: ClassVar[str] = "rate_limiter"
    event: ClassVar[str] = "rejected"
    retry_after: float

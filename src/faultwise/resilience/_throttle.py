"""Adaptive client throttling: reject locally before an overloaded backend has to.

Google SRE book, chapter 21 ("Handling Overload", client-side throttling): each client keeps,
over the last two minutes, the number of ``requests`` it attempted and the number the
backend ``accepts``, and rejects a new request locally with probability
``max(0, (requests - K * accepts) / (requests + 1))``. With K = 2 the backend sees at most
about twice the load it accepts, so it spends little on rejections and recovers sooner.

>>> from faultwise.resilience import AdaptiveThrottle, Policy
>>> policy = Policy(AdaptiveThrottle())
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._base import Event, Next, RejectedError, Strategy
from faultwise.resilience._stores import SlidingSum, SlidingSumStore

__all__ = ["AdaptiveThrottle", "AdaptiveThrottleConfig", "Throttled", "ThrottledError"]


@dataclass(frozen=True, slots=True)
class AdaptiveThrottleConfig:
    """``k`` (accepts multiplier), ``window`` seconds, ``max_reject`` probability cap."""

    k: float
    window: float
    max_reject: float

    def __post_init__(self) -> None:
        if not self.k >= 1:
            raise ValueError(f"k must be >= 1, got {self.k!r}")
        if not self.window > 0:
            raise ValueError(f"window must be > 0, got {self.window!r}")
        if not 0 <= self.max_reject <= 1:
            raise ValueError(f"max_reject must be within 0..1, got {self.max_reject!r}")


class AdaptiveThrottle(Strategy):
    """The SRE book's client-side throttle: K = 2 over a 2-minute window by default.

    ``max_reject`` caps the local rejection probability (1.0: the book's formula as is;
    Envoy's admission control caps it at 0.8). ``rejected_if(error)`` says which errors mean
    "the backend did not accept" (default: every exception).
    """

    __slots__ = ("_accepts", "_rejected_if", "_requests", "_rng", "config")
    kind: ClassVar[str] = "throttle"

    def __init__(
        self,
        k: float = 2.0,
        *,
        window: float = 120.0,
        max_reject: float = 1.0,
        rejected_if: Callable[[BaseException], bool] = lambda error: True,
        name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        requests: SlidingSumStore | None = None,
        accepts: SlidingSumStore | None = None,
    ) -> None:
        super().__init__(name)
        self.config = AdaptiveThrottleConfig(k, window, max_reject)
        self._rejected_if = rejected_if
        self._rng = rng if rng is not None else random.Random()
        self._requests = requests if requests is not None else SlidingSum(window, clock=clock)
        self._accepts = accepts if accepts is not None else SlidingSum(window, clock=clock)

    def reject_probability(self) -> float:
        """The current local rejection probability."""
        requests = self._requests.total()
        accepts = self._accepts.total()
        p = max(0.0, (requests - self.config.k * accepts) / (requests + 1))
        return min(p, self.config.max_reject)

    def try_acquire(self) -> bool:
        """Count one request; ``False`` means reject it locally."""
        p = self.reject_probability()
        self._requests.add(1)
        if p > 0 and self._rng.random() < p:
            self._emit(Throttled(self.name, p))
            return False
        return True

    def on_accepted(self) -> None:
        """The backend accepted the request (a success or a non-overload error)."""
        self._accepts.add(1)

    def on_error(self, error: BaseException) -> None:
        if not self._rejected_if(error):
            self.on_accepted()

    def _check(self) -> None:
        if not self.try_acquire():
            raise ThrottledError(f"{self.name}: throttled locally", strategy=self.name)

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        self._check()
        try:
            result = next(args, kwargs)
        except Exception as exc:
            self.on_error(exc)
            raise
        self.on_accepted()
        return result

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        self._check()
        try:
            result = await next(args, kwargs)
        except Exception as exc:
            self.on_error(exc)
            raise
        self.on_accepted()
        return result


class ThrottledError(RejectedError):
    """The client rejected the request itself, to spare an overloaded backend."""


@dataclass(frozen=True, slots=True)
class Throttled(Event):
    """A request was rejected locally; ``probability`` was the rejection probability."""

    kind: ClassVar[str] = "throttle"
    event: ClassVar[str] = "rejected"
    probability: float

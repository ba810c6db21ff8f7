"""Retry budget: retries allowed only while they stay under a share of recent requests.

Finagle's ``RetryBudget`` semantics: every request deposits ``ratio`` of a token, every retry
withdraws one, deposits and withdrawals expire after ``ttl`` seconds, and a reserve of
``min_per_second * ttl`` tokens lets a quiet client still retry. gRPC retry throttling
(proposal A6) and Envoy's retry budget bound retries the same way. Under a long overload a
per-call retry count multiplies the load by the attempt count; a budget caps it at
``1 + ratio`` (Brooker, "What is Backoff For?", 2022).

One budget is meant to be shared by every call to one dependency::

    budget = RetryBudget()
    policy = Policy(Retry(attempts=3, budget=budget), CircuitBreaker())
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._base import RejectedError
from faultwise.resilience._stores import SlidingSum, SlidingSumStore

__all__ = ["BudgetExhaustedError", "RetryBudget", "RetryBudgetConfig"]

_SCALE = 1000  # Finagle scales tokens to integers the same way: exact arithmetic, no drift


@dataclass(frozen=True, slots=True)
class RetryBudgetConfig:
    """``ratio`` retries per request, plus ``min_per_second`` always, over ``ttl`` seconds."""

    ratio: float
    min_per_second: float
    ttl: float

    def __post_init__(self) -> None:
        if not 0 <= self.ratio <= 1000:
            raise ValueError(f"ratio must be within 0..1000, got {self.ratio!r}")
        if not (self.min_per_second >= 0 and math.isfinite(self.min_per_second)):
            raise ValueError(f"min_per_second must be >= 0, got {self.min_per_second!r}")
        if not (self.ttl > 0 and math.isfinite(self.ttl)):
            raise ValueError(f"ttl must be > 0, got {self.ttl!r}")


class RetryBudget:
    """A token bucket shared by many calls; :class:`Retry` consults it before each retry.

    Defaults are Finagle's: 20 % of requests plus 10 retries/s, tokens live 10 s.
    ``store`` holds the sliding sum (in memory by default; a shared store can replace it
    without changing this logic).
    """

    __slots__ = ("_deposit", "_reserve", "_store", "config", "name")

    def __init__(
        self,
        ratio: float = 0.2,
        *,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        name: str = "retry_budget",
        clock: Clock = SYSTEM_CLOCK,
        store: SlidingSumStore | None = None,
    ) -> None:
        self.config = RetryBudgetConfig(ratio, min_per_second, ttl)
        self.name = name
        self._deposit = round(ratio * _SCALE)
        self._reserve = round(min_per_second * ttl * _SCALE)
        # a deposit is the in-memory sum's unit: the per-request path then takes no lock
        self._store = (
            store if store is not None else SlidingSum(ttl, unit=self._deposit, clock=clock)
        )

    def deposit(self) -> None:
        """Count one request (every original call does this once)."""
        if self._deposit:
            self._store.add(self._deposit)

    def try_withdraw(self) -> bool:
        """Take the token for one retry; ``False`` when the budget is exhausted."""
        return self._store.add_if_at_least(-_SCALE, -self._reserve)

    def balance(self) -> float:
        """Retries the budget would allow right now."""
        return (self._reserve + self._store.total()) / _SCALE

    def __repr__(self) -> str:
        return f"RetryBudget(name={self.name!r}, balance={self.balance():.1f})"


class BudgetExhaustedError(RejectedError):
    """A retry was needed but the retry budget had no token left (the last error is the cause)."""

"""Retry: try again after a backoff, within attempts, elapsed time, deadline and budget.

The decision is pure: :meth:`Retry.decide` answers "given attempt n failed like this: retry
after d seconds, or stop (and why)". The sync and async drivers are short loops around it, so
the lab's simulation can drive the same object in virtual time.

>>> from faultwise.resilience import Policy, Retry, full_jitter
>>> policy = Policy(Retry(attempts=3, backoff=full_jitter(0.1, cap=2.0)))
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._backoff import Backoff, ExponentialBackoff
from faultwise.resilience._base import Event, Next, RejectedError, Strategy, type_name
from faultwise.resilience._deadline import remaining
from faultwise.resilience._retry_budget import BudgetExhaustedError, RetryBudget

__all__ = ["Retry", "RetryConfig", "RetryGaveUp", "RetryScheduled", "StopReason"]

ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """A retry's rules; see :class:`Retry` for what each field means and its default."""

    attempts: int
    backoff: Backoff
    max_elapsed: float | None
    retry_on: tuple[type[BaseException], ...]
    retry_if: Callable[[BaseException], bool] | None
    retry_on_result: Callable[[Any], bool] | None
    retry_after: Callable[[BaseException], float | None]
    max_retry_after: float
    budget: RetryBudget | None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts!r}")
        if self.max_elapsed is not None and not self.max_elapsed > 0:
            raise ValueError(f"max_elapsed must be > 0, got {self.max_elapsed!r}")


def retry_after_attribute(error: BaseException) -> float | None:
    """The default retry-after hint: a numeric ``retry_after`` attribute in seconds."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0:
        return float(hint)
    return None


class Retry(Strategy):
    """Call again when a call fails, waiting per ``backoff`` between attempts.

    - ``attempts``: total attempts including the first (3: resilience4j, the SRE book, the
      AWS SDKs).
    - ``backoff``: exponential, full jitter (AWS "Exponential Backoff And Jitter", 2015), base
      0.5 s (resilience4j's wait) capped at 20 s (botocore's maximum backoff).
    - ``max_elapsed``: no attempt starts after this many seconds since the first began.
    - The current deadline (:func:`deadline`) is respected: an attempt that cannot finish
      before it is not started (its time is estimated by the last attempt's duration).
    - ``retry_on`` exception types (default ``Exception``) and ``retry_if(error)``; results
      with ``retry_on_result(result)``. Rejections by an inner strategy
      (:class:`RejectedError`: breaker open, bulkhead full ...) are not retried unless listed
      in ``retry_on``, so a retry never hammers an open breaker.
    - A retry-after hint (``retry_after(error)``, default: the error's numeric
      ``retry_after`` attribute, in seconds) lengthens the wait; a hint longer than
      ``max_retry_after`` (60 s) stops retrying.
    - ``budget``: a shared :class:`RetryBudget`; when it is exhausted the retry stops and
      raises :class:`BudgetExhaustedError` from the last error.

    When retries stop, the last error is raised as it was (or the last result returned).
    """

    __slots__ = (
        "_budget",
        "_clock",
        "_now",
        "_result_check",
        "_retry_rejections",
        "_rng",
        "config",
    )
    kind: ClassVar[str] = "retry"

    def __init__(
        self,
        attempts: int = 3,
        *,
        backoff: Backoff | None = None,
        max_elapsed: float | None = None,
        retry_on: ErrorTypes = Exception,
        retry_if: Callable[[BaseException], bool] | None = None,
        retry_on_result: Callable[[Any], bool] | None = None,
        retry_after: Callable[[BaseException], float | None] = retry_after_attribute,
        max_retry_after: float = 60.0,
        budget: RetryBudget | None = None,
        name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name)
        types = retry_on if isinstance(retry_on, tuple) else (retry_on,)
        self.config = RetryConfig(
            attempts=attempts,
            backoff=backoff if backoff is not None else ExponentialBackoff(0.5, cap=20.0),
            max_elapsed=max_elapsed,
            retry_on=types,
            retry_if=retry_if,
            retry_on_result=retry_on_result,
            retry_after=retry_after,
            max_retry_after=max_retry_after,
            budget=budget,
        )
        self._retry_rejections = any(issubclass(t, RejectedError) for t in types)
        self._result_check = retry_on_result
        self._budget = budget
        self._clock = clock
        self._now = clock.now
        self._rng = rng if rng is not None else random.Random()

    def is_retryable(self, error: BaseException) -> bool:
        """Whether ``error`` is one this retry handles at all."""
        config = self.config
        if not isinstance(error, config.retry_on):
            return False
        if isinstance(error, RejectedError) and not self._retry_rejections:
            return False
        return config.retry_if is None or config.retry_if(error)

    def decide(
        self,
        attempt: int,
        error: BaseException | None,
        *,
        elapsed: float = 0.0,
        duration: float = 0.0,
        previous_delay: float = 0.0,
        remaining: float | None = None,
    ) -> float | StopReason:
        """Attempt ``attempt`` (1-based) failed with ``error`` (``None``: a retryable result).

        Returns the seconds to wait before the next attempt, or why to stop. ``elapsed`` is
        the time since the first attempt began, ``duration`` the failed attempt's own time,
        ``remaining`` the deadline's remaining time. Emits :class:`RetryScheduled` or
        :class:`RetryGaveUp` (except for a non-retryable error, which is simply not ours).
        """
        if error is not None and not self.is_retryable(error):
            return StopReason.NOT_RETRYABLE
        config = self.config
        delay = config.backoff.delay(attempt, previous_delay, self._rng)
        hint = None if error is None else config.retry_after(error)
        reason: StopReason | None = None
        if attempt >= config.attempts:
            reason = StopReason.ATTEMPTS
        elif hint is not None and hint > config.max_retry_after:
            reason = StopReason.RETRY_AFTER
        else:
            delay = delay if hint is None else max(delay, hint)
            if config.max_elapsed is not None and elapsed + delay >= config.max_elapsed:
                reason = StopReason.ELAPSED
            elif remaining is not None and delay + duration >= remaining:
                reason = StopReason.DEADLINE
            elif self._budget is not None and not self._budget.try_withdraw():
                reason = StopReason.BUDGET
        error_type = None if error is None else type_name(error)
        if reason is not None:
            self._emit(RetryGaveUp(self.name, attempt, reason, error_type))
            return reason
        self._emit(RetryScheduled(self.name, attempt + 1, delay, error_type))
        return delay

    def _accepts(self, result: Any) -> bool:
        check = self._result_check
        return check is None or not check(result)

    def _decide_now(
        self,
        attempt: int,
        error: BaseException | None,
        first: float,
        started: float,
        previous: float,
    ) -> float | StopReason:
        ended = self._now()
        return self.decide(
            attempt,
            error,
            elapsed=ended - first,
            duration=ended - started,
            previous_delay=previous,
            remaining=remaining(),
        )

    def _give_up(self, reason: StopReason, error: BaseException | None, result: Any) -> Any:
        if error is None:
            return result
        if reason is StopReason.BUDGET:
            raise BudgetExhaustedError(
                f"{self.name}: retry budget exhausted after {type(error).__name__}",
                strategy=self.name,
            ) from error
        raise error

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        if self._budget is not None:
            self._budget.deposit()
        now = self._now
        first = started = now()
        attempt = 1
        previous = 0.0
        while True:
            error: BaseException | None = None
            try:
                result = next(args, kwargs)
            except Exception as exc:
                error, result = exc, None
            else:
                if self._accepts(result):
                    return result
            decision = self._decide_now(attempt, error, first, started, previous)
            if isinstance(decision, StopReason):
                return self._give_up(decision, error, result)
            del error  # no reference cycle through the traceback while sleeping
            self._clock.sleep(decision)
            previous, attempt, started = decision, attempt + 1, now()

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        if self._budget is not None:
            self._budget.deposit()
        now = self._now
        first = started = now()
        attempt = 1
        previous = 0.0
        while True:
            error: BaseException | None = None
            try:
                result = await next(args, kwargs)
            except Exception as exc:
                error, result = exc, None
            else:
                if self._accepts(result):
                    return result
            decision = self._decide_now(attempt, error, first, started, previous)
            if isinstance(decision, StopReason):
                return self._give_up(decision, error, result)
            del error
            await self._clock.sleep_async(decision)
            previous, attempt, started = decision, attempt + 1, now()


class StopReason(enum.Enum):
    """Why a retry stopped (the values are stable strings for metrics and logs)."""

    NOT_RETRYABLE = "not_retryable"
    ATTEMPTS = "attempts"
    ELAPSED = "elapsed"
    DEADLINE = "deadline"
    RETRY_AFTER = "retry_after"
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class RetryScheduled(Event):
    """Attempt ``attempt`` will start after ``delay`` s, because of ``error_type``
    (``None``: a retried result)."""

    kind: ClassVar[str] = "retry"
    event: ClassVar[str] = "retry"
    attempt: int
    delay: float
    error_type: str | None


@dataclass(frozen=True, slots=True)
class RetryGaveUp(Event):
    """Retries stopped after ``attempts`` attempts, for ``reason``."""

    kind: ClassVar[str] = "retry"
    event: ClassVar[str] = "gave_up"
    attempts: int
    reason: StopReason
    error_type: str | None

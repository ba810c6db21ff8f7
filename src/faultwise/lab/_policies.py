"""Client policies the lab compares, each driving its library's own decision logic.

The simulation never sleeps and answers arrive as events, so a library cannot run its own
``call`` loop here. Each adapter drives the library's decision objects exactly as the
library's loop would, one step per event:

* tenacity: ``Retrying.iter(retry_state)`` is tenacity's whole decision loop (its
  ``__call__`` is that loop plus ``time.sleep``); the adapter calls ``iter`` after each
  outcome and turns ``DoSleep(s)`` into an event ``s`` seconds later. Its full-jitter wait
  draws from the global :mod:`random`, which the lab seeds (and restores) per run.
* pybreaker: ``CircuitBreaker.calling()`` is the context manager an asyncio user wraps an
  ``await`` with; the adapter enters it before an attempt and exits it with the outcome.
  pybreaker reads ``datetime.now()`` to end its open state; a storage that reports the open
  time shifted by the virtual clock makes that comparison happen in virtual time.
* faultwise: its strategies are pure state machines on an injected :class:`~faultwise.Clock`,
  so the simulation's clock drives them unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from faultwise._clock import Clock
from faultwise.lab._sim import Outcome

__all__ = [
    "AttemptFailed",
    "ImmediateRetries",
    "NoRetries",
    "TenacityPolicy",
    "attempt_error",
    "seeded_global_random",
]


_OK = Outcome.OK  # globals: an Enum member read through its class costs ~40 ns per call
_LOCAL_REJECT = Outcome.LOCAL_REJECT


class AttemptFailed(Exception):
    """What a failed attempt raises into a library that expects an exception."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


def attempt_error(outcome: Outcome) -> AttemptFailed:
    """The exception a failed attempt raises (a fast 503 is a :class:`ServerShed`)."""
    if outcome is Outcome.REJECTED:
        from faultwise.lab._faultwise_policy import ServerShed

        return ServerShed(outcome)
    return AttemptFailed(outcome)


class NoRetries:
    """One attempt per call, nothing else."""

    name = "none"

    def begin(self, now: float) -> None:
        return None

    def admit(self, state: None, now: float) -> Outcome | None:
        return None

    def outcome(self, state: None, now: float, outcome: Outcome) -> float | None:
        return None


class ImmediateRetries:
    """Up to ``retries`` more attempts, each sent at once after a failure."""

    name = "immediate_retries"

    def __init__(self, retries: int = 3) -> None:
        self.retries = retries

    def begin(self, now: float) -> list[int]:
        return [0]

    def admit(self, state: list[int], now: float) -> Outcome | None:
        return None

    def outcome(self, state: list[int], now: float, outcome: Outcome) -> float | None:
        if outcome is _OK or outcome is _LOCAL_REJECT or state[0] >= self.retries:
            return None
        state[0] += 1
        return 0.0


class _TenacityCall:
    __slots__ = ("breaker_cm", "retry_state")

    def __init__(self, retry_state: Any) -> None:
        self.retry_state = retry_state
        self.breaker_cm: AbstractContextManager[Any] | None = None


class TenacityPolicy:
    """tenacity's ``Retrying`` (and optionally a pybreaker breaker inside it), stepwise.

    The retry predicate retries failed attempts (timeouts, 5xx) and never an open breaker's
    refusal, the usual way the two are combined.
    """

    def __init__(self, retrying: Any, *, breaker: Any = None, name: str = "tenacity") -> None:
        self.retrying = retrying
        self.breaker = breaker
        self.name = name

    def begin(self, now: float) -> _TenacityCall:
        import tenacity

        self.retrying.begin()  # what Retrying.__call__ does first: fresh statistics
        call = _TenacityCall(tenacity.RetryCallState(self.retrying, fn=None, args=(), kwargs={}))
        self.retrying.iter(call.retry_state)  # first step: DoAttempt
        return call

    def admit(self, state: _TenacityCall, now: float) -> Outcome | None:
        if self.breaker is None:
            return None
        import pybreaker

        cm = self.breaker.calling()
        try:
            cm.__enter__()
        except pybreaker.CircuitBreakerError:
            return Outcome.LOCAL_REJECT
        state.breaker_cm = cm
        return None

    def outcome(self, state: _TenacityCall, now: float, outcome: Outcome) -> float | None:
        import tenacity

        failure = None if outcome is Outcome.OK else attempt_error(outcome)
        self._close_breaker(state, failure)
        rs = state.retry_state
        if failure is None:
            rs.set_result(None)
        elif outcome is Outcome.LOCAL_REJECT:
            import pybreaker

            rs.set_exception((pybreaker.CircuitBreakerError, pybreaker.CircuitBreakerError(), None))
        else:
            rs.set_exception((type(failure), failure, None))
        try:
            action = self.retrying.iter(rs)
        except Exception:  # tenacity re-raises the last error: the call has failed for good
            return None
        if isinstance(action, tenacity.DoSleep):
            rs.prepare_for_next_attempt()
            self.retrying.iter(rs)  # DoAttempt
            return float(action)
        return None

    @staticmethod
    def _close_breaker(state: _TenacityCall, failure: AttemptFailed | None) -> None:
        cm = state.breaker_cm
        if cm is None:
            return
        state.breaker_cm = None
        try:
            if failure is None:
                cm.__exit__(None, None, None)
            else:
                cm.__exit__(AttemptFailed, failure, None)
        except Exception:  # pybreaker re-raises the error, or its own error when it trips
            pass


def tenacity_retrying(retries: int = 3, *, multiplier: float = 0.1, cap: float = 2.0) -> Any:
    """tenacity with exponential backoff and full jitter: U(0, min(cap, multiplier·2^n))."""
    import tenacity

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_random_exponential(multiplier=multiplier, max=cap),
        retry=tenacity.retry_if_exception_type(AttemptFailed),
        reraise=True,
    )


def virtual_time_breaker(clock: Clock, *, fail_max: int = 5, reset_timeout: float = 5.0) -> Any:
    """A pybreaker ``CircuitBreaker`` whose open timeout elapses in ``clock``'s time."""
    import pybreaker

    class VirtualTimeStorage(pybreaker.CircuitMemoryStorage):
        """pybreaker compares ``datetime.now()`` to ``opened_at``: report the opening time
        shifted so that the real-time comparison is the virtual-time one."""

        def __init__(self) -> None:
            super().__init__(pybreaker.STATE_CLOSED)
            self._opened_virtual: float | None = None

        @property
        def opened_at(self) -> datetime | None:
            if self._opened_virtual is None:
                return None
            elapsed = clock.now() - self._opened_virtual
            return datetime.now(UTC) - timedelta(seconds=elapsed)

        @opened_at.setter
        def opened_at(self, value: datetime) -> None:
            self._opened_virtual = clock.now()

    return pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=reset_timeout, state_storage=VirtualTimeStorage()
    )


@contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seed the global :mod:`random` (tenacity's jitter source) for one run, then restore it."""
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)

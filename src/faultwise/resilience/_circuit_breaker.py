"""Circuit breaker: stop calling a dependency that is failing, probe it, resume when healthy.

resilience4j's state machine, as a pure object: :meth:`CircuitBreaker.try_acquire` returns a
permit (or ``None``), then the caller reports :meth:`~CircuitBreaker.on_success` or
:meth:`~CircuitBreaker.on_failure` with the call's duration, or :meth:`~CircuitBreaker.release`
when the call was not made or was cancelled. The drivers do exactly that, and hold no lock
while the protected call runs.

- CLOSED: calls pass; outcomes go into a sliding window (:class:`CountWindow` or
  :class:`TimeWindow`). Once the window holds ``minimum_calls``, a failure rate
  ``>= failure_rate`` or a slow-call rate ``>= slow_call_rate`` opens the breaker.
- OPEN: calls are rejected with :class:`CircuitOpenError` for ``open_duration`` (a number,
  or a :class:`Backoff` so the time grows with each consecutive opening).
- HALF_OPEN: ``half_open_calls`` probes are let through, at most
  ``half_open_max_concurrent`` at a time; their failure rate decides CLOSED or OPEN again.
- FORCED_OPEN and DISABLED: set by hand (:meth:`force_open`, :meth:`disable`); :meth:`close`
  returns to CLOSED.

>>> from faultwise.resilience import CircuitBreaker, Policy
>>> breaker = CircuitBreaker(failure_rate=0.5, minimum_calls=20, open_duration=30.0)
>>> policy = Policy(breaker)
"""

from __future__ import annotations

import enum
import random
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, NewType

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._backoff import Backoff, ConstantBackoff
from faultwise.resilience._base import Event, Next, RejectedError, Strategy
from faultwise.resilience._stores import (
    FAILURE,
    SLOW,
    SUCCESS,
    BreakerWindow,
    CountWindow,
    WindowCounts,
)

__all__ = [
    "BreakerRejected",
    "BreakerSnapshot",
    "BreakerStateChanged",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "CircuitState",
    "Permit",
]

Permit = NewType("Permit", int)
"""What :meth:`CircuitBreaker.try_acquire` grants: hand it back with the call's outcome."""

ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


class CircuitState(enum.Enum):
    """A breaker's state (values are stable strings for metrics and logs)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


_CLOSED = CircuitState.CLOSED
_OPEN = CircuitState.OPEN
_HALF_OPEN = CircuitState.HALF_OPEN


@dataclass(frozen=True, slots=True)
class CircuitBreakerConfig:
    """A breaker's rules; see :class:`CircuitBreaker` for meanings and defaults."""

    failure_rate: float
    slow_call_rate: float
    slow_call_duration: float
    minimum_calls: int
    open_duration: Backoff
    half_open_calls: int
    half_open_max_concurrent: int
    record_on: tuple[type[BaseException], ...]
    ignore_on: tuple[type[BaseException], ...]

    def __post_init__(self) -> None:
        for name in ("failure_rate", "slow_call_rate"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be within (0, 1], got {value!r}")
        if not self.slow_call_duration > 0:
            raise ValueError(f"slow_call_duration must be > 0, got {self.slow_call_duration!r}")
        for name in ("minimum_calls", "half_open_calls", "half_open_max_concurrent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")


class CircuitBreaker(Strategy):
    """A failure-rate and slow-call-rate circuit breaker with a sliding window.

    Defaults are resilience4j's: ``failure_rate`` 50 %, ``slow_call_rate`` 100 % of calls
    slower than ``slow_call_duration`` 60 s, ``minimum_calls`` 100 (capped at a count
    window's size) in a window of the last 100 calls, ``open_duration`` 60 s,
    ``half_open_calls`` 10. ``record_on`` errors count as failures (default ``Exception``),
    other errors count as successes, ``ignore_on`` errors count as neither (default:
    :class:`RejectedError`, a local decision of an inner strategy, not the dependency's
    fault).
    """

    __slots__ = (
        "_epoch",
        "_half_open_done",
        "_half_open_failures",
        "_half_open_in_flight",
        "_half_open_issued",
        "_lock",
        "_minimum",
        "_now",
        "_open_until",
        "_opens",
        "_record_fast",
        "_rng",
        "_slow",
        "_state",
        "_window",
        "config",
    )
    kind: ClassVar[str] = "circuit_breaker"

    def __init__(
        self,
        *,
        failure_rate: float = 0.5,
        slow_call_rate: float = 1.0,
        slow_call_duration: float = 60.0,
        minimum_calls: int = 100,
        window: BreakerWindow | None = None,
        open_duration: float | Backoff = 60.0,
        half_open_calls: int = 10,
        half_open_max_concurrent: int | None = None,
        record_on: ErrorTypes = Exception,
        ignore_on: ErrorTypes = RejectedError,
        name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name)
        self._window: BreakerWindow = window if window is not None else CountWindow(100)
        self.config = CircuitBreakerConfig(
            failure_rate=failure_rate,
            slow_call_rate=slow_call_rate,
            slow_call_duration=slow_call_duration,
            minimum_calls=minimum_calls,
            open_duration=(
                open_duration
                if isinstance(open_duration, Backoff)
                else ConstantBackoff(open_duration)
            ),
            half_open_calls=half_open_calls,
            half_open_max_concurrent=half_open_max_concurrent or half_open_calls,
            record_on=record_on if isinstance(record_on, tuple) else (record_on,),
            ignore_on=ignore_on if isinstance(ignore_on, tuple) else (ignore_on,),
        )
        size = getattr(self._window, "size", None)
        self._minimum = min(minimum_calls, size) if isinstance(size, int) else minimum_calls
        self._slow = slow_call_duration
        self._now = clock.now
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._record_fast = self._window.record_success
        self._state = _CLOSED
        self._epoch = Permit(0)
        self._open_until = 0.0
        self._opens = 0
        self._reset_half_open()

    # -- the state machine ------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The current state (an OPEN breaker whose time is up still reads OPEN until the
        next call asks for a permit)."""
        return self._state

    def try_acquire(self) -> Permit | None:
        """A permit to make one call, or ``None`` when the breaker rejects it."""
        if self._state is _CLOSED:
            return self._epoch
        return self._acquire_slow()

    def acquire(self) -> Permit:
        """A permit to make one call; raises :class:`CircuitOpenError` when rejected."""
        if self._state is _CLOSED:
            return self._epoch
        permit = self._acquire_slow()
        if permit is None:
            raise self._rejected()
        return permit

    def on_success(self, permit: Permit, duration: float) -> None:
        """Report that the call granted ``permit`` succeeded after ``duration`` seconds."""
        if duration < self._slow and permit == self._epoch and self._state is _CLOSED:
            self._record_fast()  # the hot path (a CountWindow: one atomic C call, no lock)
        else:
            self._record(permit, SLOW if duration >= self._slow else SUCCESS)

    def on_failure(self, permit: Permit, duration: float, error: BaseException) -> None:
        """Report that the call granted ``permit`` raised ``error`` after ``duration`` s."""
        config = self.config
        if isinstance(error, config.ignore_on):
            self.release(permit)
        elif isinstance(error, config.record_on):
            self._record(permit, FAILURE | (SLOW if duration >= self._slow else SUCCESS))
        else:
            self.on_success(permit, duration)

    def release(self, permit: Permit) -> None:
        """Give back a permit whose call was not made, was cancelled, or is ignored."""
        with self._lock:
            if permit == self._epoch and self._state is _HALF_OPEN:
                self._half_open_in_flight -= 1
                self._half_open_issued -= 1

    # -- manual control ---------------------------------------------------------------------

    def force_open(self) -> None:
        """Reject every call until :meth:`close` (e.g. while a dependency is in maintenance)."""
        self._transition_now(CircuitState.FORCED_OPEN)

    def disable(self) -> None:
        """Let every call through and record nothing until :meth:`close`."""
        self._transition_now(CircuitState.DISABLED)

    def close(self) -> None:
        """Back to CLOSED with an empty window and the open time reset."""
        self._transition_now(_CLOSED)

    @property
    def open_remaining(self) -> float:
        """Seconds until an OPEN breaker lets a probe through (0.0 in any other state)."""
        return max(self._open_until - self._now(), 0.0) if self._state is _OPEN else 0.0

    def adopt(self, state: CircuitState, open_for: float = 0.0) -> None:
        """Take a state decided elsewhere, e.g. by another replica sharing this breaker's state
        through Redis; ``open_for`` is the rest of the open time when ``state`` is OPEN. A
        change emits the usual :class:`BreakerStateChanged`."""
        event = None
        with self._lock:
            if state is not self._state:
                event = self._transition(state)
            if state is _OPEN:
                self._open_until = self._now() + open_for
        if event is not None:
            self._emit(event)

    def snapshot(self) -> BreakerSnapshot:
        """The state and the window's counts, e.g. for a health page."""
        with self._lock:
            return BreakerSnapshot(self._state, self._window.counts(), self._opens)

    # -- internals --------------------------------------------------------------------------

    def _reset_half_open(self) -> None:
        self._half_open_issued = self._half_open_in_flight = 0
        self._half_open_done = self._half_open_failures = 0

    def _acquire_slow(self) -> Permit | None:
        event = None
        with self._lock:
            state = self._state
            if state is _OPEN and self._now() >= self._open_until:
                event = self._transition(_HALF_OPEN)
                state = _HALF_OPEN
            if state is _HALF_OPEN:
                config = self.config
                permit: Permit | None = None
                if (
                    self._half_open_issued < config.half_open_calls
                    and self._half_open_in_flight < config.half_open_max_concurrent
                ):
                    self._half_open_issued += 1
                    self._half_open_in_flight += 1
                    permit = self._epoch
            elif state is _OPEN or state is CircuitState.FORCED_OPEN:
                permit = None
            else:
                permit = self._epoch
        if event is not None:
            self._emit(event)
        return permit

    def _rejected(self) -> CircuitOpenError:
        state = self._state
        retry_after = max(self._open_until - self._now(), 0.0) if state is _OPEN else None
        self._emit(BreakerRejected(self.name, state, retry_after))
        return CircuitOpenError(
            f"{self.name}: circuit {state.value}, call not permitted",
            strategy=self.name,
            retry_after=retry_after,
            state=state,
        )

    def _record(self, permit: Permit, outcome: int) -> None:
        event = None
        with self._lock:
            if permit != self._epoch:
                return  # an outcome from an earlier state: it belongs to no current window
            state = self._state
            if state is _CLOSED:
                self._window.record(outcome)
                event = self._check_window()
            elif state is _HALF_OPEN:
                event = self._record_probe(outcome & FAILURE)
        if event is not None:
            self._emit(event)

    def _check_window(self) -> BreakerStateChanged | None:
        counts = self._window.counts()
        config = self.config
        if counts.calls >= self._minimum and (
            counts.failure_rate >= config.failure_rate
            or counts.slow_call_rate >= config.slow_call_rate
        ):
            return self._transition(_OPEN, counts)
        return None

    def _record_probe(self, failed: int) -> BreakerStateChanged | None:
        self._half_open_in_flight -= 1
        self._half_open_done += 1
        self._half_open_failures += failed
        n = self.config.half_open_calls
        threshold = self.config.failure_rate
        failures, done = self._half_open_failures, self._half_open_done
        counts = WindowCounts(done, failures, 0)
        # Decide as soon as the remaining probes cannot change the verdict.
        if failures / n >= threshold:
            return self._transition(_OPEN, counts)
        if (failures + n - done) / n < threshold:
            return self._transition(_CLOSED, counts)
        return None

    def _transition(
        self, to: CircuitState, counts: WindowCounts | None = None
    ) -> BreakerStateChanged:
        """Move to ``to`` (the lock is held); returns the event to emit after unlocking."""
        before = self._state
        self._state = to
        self._epoch = Permit(self._epoch + 1)
        self._reset_half_open()
        if to is _OPEN:
            self._opens += 1
            duration = self.config.open_duration.delay(self._opens, 0.0, self._rng)
            self._open_until = self._now() + duration
        elif to is _CLOSED:
            self._opens = 0
            self._window.reset()
        counts = counts or WindowCounts(0, 0, 0)
        return BreakerStateChanged(
            self.name, before, to, counts.failure_rate, counts.slow_call_rate, counts.calls
        )

    def _transition_now(self, to: CircuitState) -> None:
        with self._lock:
            event = self._transition(to)
        self._emit(event)

    # -- drivers ----------------------------------------------------------------------------

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        permit = self._epoch if self._state is _CLOSED else self.acquire()
        now = self._now
        start = now()
        try:
            result = next(args, kwargs)
        except Exception as exc:
            self.on_failure(permit, now() - start, exc)
            raise
        except BaseException:
            self.release(permit)
            raise
        duration = now() - start
        if duration < self._slow and permit == self._epoch and self._state is _CLOSED:
            self._record_fast()  # on_success's hot path, inlined: this is the common case
        else:
            self.on_success(permit, duration)
        return result

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        permit = self._epoch if self._state is _CLOSED else self.acquire()
        now = self._now
        start = now()
        try:
            result = await next(args, kwargs)
        except Exception as exc:
            self.on_failure(permit, now() - start, exc)
            raise
        except BaseException:  # cancelled: the probe slot goes back
            self.release(permit)
            raise
        duration = now() - start
        if duration < self._slow and permit == self._epoch and self._state is _CLOSED:
            self._record_fast()
        else:
            self.on_success(permit, duration)
        return result

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._state.value})"


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A breaker's state, its window's counts and how many times in a row it opened."""

    state: CircuitState
    window: WindowCounts
    consecutive_opens: int


class CircuitOpenError(RejectedError):
    """The breaker rejected the call (open, forced open, or half-open with no probe free)."""

    def __init__(
        self, message: str, *, strategy: str, retry_after: float | None, state: CircuitState
    ) -> None:
        super().__init__(message, strategy=strategy, retry_after=retry_after)
        self.state = state


@dataclass(frozen=True, slots=True)
class BreakerStateChanged(Event):
    """The breaker moved ``from_state`` -> ``to_state``; the rates are those that decided it
    (over the window when opening from CLOSED, over the probes when leaving HALF_OPEN)."""

    kind: ClassVar[str] = "circuit_breaker"
    event: ClassVar[str] = "state_changed"
    from_state: CircuitState
    to_state: CircuitState
    failure_rate: float
    slow_call_rate: float
    calls: int


@dataclass(frozen=True, slots=True)
class BreakerRejected(Event):
    """A call was rejected in ``state``; ``retry_after``: seconds until a probe may pass."""

    kind: ClassVar[str] = "circuit_breaker"
    event: ClassVar[str] = "rejected"
    state: CircuitState
    retry_after: float | None

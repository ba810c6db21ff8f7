"""faultwise's own defenses in the lab: its client policy, and server-side load shedding.

The client policy is built from :mod:`faultwise.resilience`'s public objects and driven
exactly as their own drivers drive them, one step per event: a :class:`RetryBudget`
deposit per call, a :class:`CircuitBreaker` permit per attempt (``try_acquire``, then
``on_success``/``on_failure`` with the attempt's duration), and :meth:`Retry.decide` after a
failed attempt for the wait before the next one. All of them read the injected clock, so in
the simulation they run in virtual time unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from faultwise._clock import Clock
from faultwise._errors import require
from faultwise.lab._policies import AttemptFailed
from faultwise.lab._sim import ClientPolicy, Outcome, QueueOrder, ServiceSpec

if TYPE_CHECKING:
    from faultwise.lab._storm import StormSpec

__all__ = ["FaultwiseClientPolicy", "faultwise_client_factory", "shedding_server_spec"]


class _Call:
    __slots__ = ("attempt", "attempt_start", "permit", "previous_delay", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.attempt = 0
        self.attempt_start = start
        self.permit: Any = None
        self.previous_delay = 0.0


class FaultwiseClientPolicy:
    """``Retry`` (with a shared ``RetryBudget``) around a ``CircuitBreaker``, stepwise."""

    name = "faultwise_client"

    def __init__(self, retry: Any, breaker: Any, budget: Any) -> None:
        self.retry = retry
        self.breaker = breaker
        self.budget = budget

    def begin(self, now: float) -> _Call:
        if self.budget is not None:
            self.budget.deposit()  # what Retry's drivers do once per call
        return _Call(now)

    def admit(self, state: _Call, now: float) -> Outcome | None:
        if self.breaker is not None:
            permit = self.breaker.try_acquire()
            if permit is None:
                return Outcome.LOCAL_REJECT
            state.permit = permit
        state.attempt += 1
        state.attempt_start = now
        return None

    def outcome(self, state: _Call, now: float, outcome: Outcome) -> float | None:
        if outcome is Outcome.LOCAL_REJECT:
            return None  # Retry never retries a local rejection (an open breaker)
        duration = now - state.attempt_start
        failure = None if outcome is Outcome.OK else AttemptFailed(outcome)
        if self.breaker is not None and state.permit is not None:
            if failure is None:
                self.breaker.on_success(state.permit, duration)
            else:
                self.breaker.on_failure(state.permit, duration, failure)
            state.permit = None
        if failure is None:
            return None
        decision = self.retry.decide(
            state.attempt,
            failure,
            elapsed=now - state.start,
            duration=duration,
            previous_delay=state.previous_delay,
        )
        if not isinstance(decision, float | int):
            return None  # a StopReason: attempts, budget, deadline ...
        state.previous_delay = float(decision)
        return float(decision)

    def breaker_state(self) -> str:
        return "-" if self.breaker is None else str(self.breaker.state.value)


def faultwise_client_factory(spec: StormSpec, clock: Clock) -> Callable[[], ClientPolicy]:
    """A factory of faultwise's client policy for the storm's client, on ``clock``.

    Up to ``spec.retries`` retries with exponential backoff and full jitter (100 ms base,
    2 s cap), spent from a retry budget (Finagle's defaults: 20 % of requests plus 10/s), and
    a breaker on the failure rate of the last 10 s that opens for 1 s, then probes.
    """
    resilience = require("faultwise.resilience", "lab")
    seed = [0]

    def make() -> ClientPolicy:
        seed[0] += 1
        rng = random.Random(seed[0])
        budget = resilience.RetryBudget(clock=clock)
        retry = resilience.Retry(
            attempts=spec.retries + 1,
            backoff=resilience.full_jitter(0.1, cap=2.0),
            budget=budget,
            clock=clock,
            rng=rng,
        )
        breaker = resilience.CircuitBreaker(
            failure_rate=0.9,
            minimum_calls=20,
            window=resilience.TimeWindow(10, clock=clock),
            open_duration=1.0,
            half_open_calls=5,
            clock=clock,
            rng=rng,
        )
        return FaultwiseClientPolicy(retry, breaker, budget)

    return make


def breaker_only_policy(clock: Clock | None = None) -> ClientPolicy:
    """One attempt per call behind faultwise's circuit breaker (a dependency's guard)."""
    resilience = require("faultwise.resilience", "lab")
    kwargs = {"clock": clock} if clock is not None else {}
    breaker = resilience.CircuitBreaker(
        failure_rate=0.5, minimum_calls=10, window=resilience.CountWindow(20),
        open_duration=2.0, half_open_calls=3, **kwargs,
    )  # fmt: skip
    retry = resilience.Retry(attempts=1, **kwargs)
    return FaultwiseClientPolicy(retry, breaker, None)


def shedding_server_spec(base: ServiceSpec, spec: StormSpec) -> ServiceSpec:
    """Load shedding sized in time, as in Facebook's "Fail at scale" (Maurer, 2015): a fast
    503 for work that would not finish before its caller's deadline at the recent service
    rate, queued work whose deadline has passed dropped (the deadline travels with the
    request, as ``x-request-timeout-ms``), and the queue served newest first (LIFO) so that
    under overload the requests served are those whose callers still wait."""
    return replace(base, admit_by_deadline=True, shed_expired=True, queue=QueueOrder.LIFO)

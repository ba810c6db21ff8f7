"""faultwise's own defenses in the lab: its client policy and server-side load shedding.

Everything here is :mod:`faultwise.resilience`'s public API, configured as its docs
recommend for a client of one dependency:

* the client: a :class:`Retry` with exponential backoff and full jitter (AWS, "Exponential
  Backoff And Jitter") that spends a shared :class:`RetryBudget` (Finagle's defaults: 20 % of
  requests plus 10 retries/s), around a :class:`CircuitBreaker` on the failure rate of the
  last 10 s, around a per-attempt :class:`Timeout`, all inside an overall deadline that
  travels to the server as ``x-request-timeout-ms``;
* the server: an adaptive :class:`ConcurrencyLimit` (Netflix's ``Gradient2Limit``, its
  floor the worker pool's size) in front of the worker pool, and waits in the pool's queue
  bounded by the caller's propagated deadline (what a :class:`Bulkhead` does under
  ``deadline()``), so queued work nobody waits for any more is dropped, not served late.

Live, the client is a real :class:`Policy` run with ``run_async``. In the simulation nothing
may sleep, so :class:`FaultwiseClientPolicy` drives the very same objects one step per event,
as their drivers do: a budget deposit per call, a breaker permit per attempt
(``try_acquire``, then ``on_success``/``on_failure`` with the attempt's duration), and
:meth:`Retry.decide` after a failed attempt. They read the injected clock, so they run in
virtual time unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from faultwise._clock import Clock
from faultwise.lab._policies import AttemptFailed, attempt_error
from faultwise.lab._sim import ClientPolicy, Outcome
from faultwise.resilience import (
    CircuitBreaker,
    ConcurrencyLimit,
    CountWindow,
    Gradient2Limit,
    Permit,
    Policy,
    RejectedError,
    Retry,
    RetryBudget,
    StopReason,
    Timeout,
    TimeWindow,
    full_jitter,
)

__all__ = [
    "ClientStrategies",
    "FaultwiseClientPolicy",
    "ServerShed",
    "breaker_only_policy",
    "client_strategies",
    "faultwise_client_factory",
    "live_client_policy",
    "server_limiter",
]


_OK = Outcome.OK  # globals: an Enum member read through its class costs ~40 ns per call
_LOCAL_REJECT = Outcome.LOCAL_REJECT


class ServerShed(AttemptFailed):
    """The server answered 503 at once: it is alive and shedding load. A retry may spend the
    budget on it, but the breaker does not count it: the server already protects itself."""


@dataclass(frozen=True, slots=True)
class ClientStrategies:
    """The strategies of one client's policy, shared by all its calls."""

    retry: Retry
    breaker: CircuitBreaker
    budget: RetryBudget
    attempt_timeout: float
    total_timeout: float


def client_strategies(
    clock: Clock, rng: random.Random, *, retries: int = 3, attempt_timeout: float = 1.0
) -> ClientStrategies:
    """faultwise's client policy for one dependency (see the module's docstring)."""
    budget = RetryBudget(clock=clock)
    retry = Retry(
        attempts=retries + 1,
        backoff=full_jitter(0.1, cap=2.0),
        budget=budget,
        clock=clock,
        rng=rng,
    )
    breaker = CircuitBreaker(
        failure_rate=0.5,
        minimum_calls=20,
        window=TimeWindow(10, clock=clock),
        open_duration=1.0,
        half_open_calls=5,
        ignore_on=(RejectedError, ServerShed),
        clock=clock,
        rng=rng,
    )
    return ClientStrategies(
        retry, breaker, budget, attempt_timeout, attempt_timeout * (retries + 1)
    )


def live_client_policy(strategies: ClientStrategies, clock: Clock) -> Policy:
    """The strategies as a :class:`Policy`: overall deadline, retry, breaker, attempt timeout."""
    return Policy(
        Timeout(strategies.total_timeout, clock=clock),
        strategies.retry,
        strategies.breaker,
        Timeout(strategies.attempt_timeout, clock=clock),
        name="client",
    )


class _Call:
    __slots__ = ("attempt", "attempt_start", "permit", "previous_delay", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.attempt = 0
        self.attempt_start = start
        self.permit: Permit | None = None
        self.previous_delay = 0.0


class FaultwiseClientPolicy:
    """A :class:`Retry` (spending its budget) around a :class:`CircuitBreaker`, stepwise."""

    name = "faultwise_client"

    def __init__(self, strategies: ClientStrategies) -> None:
        self.strategies = strategies
        self.retry = strategies.retry
        self.breaker = strategies.breaker
        self.budget = strategies.budget

    def begin(self, now: float) -> _Call:
        self.budget.deposit()  # what Retry's drivers do once per call
        return _Call(now)

    def admit(self, state: _Call, now: float) -> Outcome | None:
        permit = self.breaker.try_acquire()
        if permit is None:
            return Outcome.LOCAL_REJECT
        state.permit = permit
        state.attempt += 1
        state.attempt_start = now
        return None

    def outcome(self, state: _Call, now: float, outcome: Outcome) -> float | None:
        if outcome is _LOCAL_REJECT:
            return None  # Retry never retries a local rejection (an open breaker)
        duration = now - state.attempt_start
        failure = None if outcome is _OK else attempt_error(outcome)
        if state.permit is not None:
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
            remaining=state.start + self.strategies.total_timeout - now,
        )
        if isinstance(decision, StopReason):
            return None  # attempts, budget, deadline ...
        state.previous_delay = decision
        return decision

    def breaker_state(self) -> str:
        return str(self.breaker.state.value)


def faultwise_client_factory(
    clock: Clock, *, retries: int = 3, attempt_timeout: float = 1.0
) -> Callable[[], FaultwiseClientPolicy]:
    """A factory of faultwise's client policy on ``clock``, one per client, seeded in turn."""
    seed = [0]

    def make() -> FaultwiseClientPolicy:
        seed[0] += 1
        rng = random.Random(seed[0])
        return FaultwiseClientPolicy(
            client_strategies(clock, rng, retries=retries, attempt_timeout=attempt_timeout)
        )

    return make


def server_limiter(clock: Clock, workers: int) -> ConcurrencyLimit:
    """Server-side admission: an adaptive concurrency limit (Netflix's ``Gradient2Limit``).

    Calls in flight (working and queued) are limited; when queueing makes calls slower than
    their long-term average the limit shrinks, and work beyond it gets a fast 503. Its floor
    is the worker pool (Netflix's default floor of 20 assumes at least 20 workers: with 2 it
    would let 18 requests queue, 0.5 s at the storm's degraded speed), and it starts at twice
    that.
    """
    return ConcurrencyLimit(Gradient2Limit(initial=2 * workers, minimum=workers), clock=clock)


def breaker_only_policy(clock: Clock) -> ClientPolicy:
    """One attempt per call behind faultwise's circuit breaker (a dependency's guard)."""
    breaker = CircuitBreaker(
        failure_rate=0.5, minimum_calls=10, window=CountWindow(20),
        open_duration=2.0, half_open_calls=3, clock=clock,
    )  # fmt: skip
    retry = Retry(attempts=1, clock=clock)
    return FaultwiseClientPolicy(
        ClientStrategies(retry, breaker, RetryBudget(clock=clock), 2.0, 2.0)
    )

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from faultwise.resilience import (
    BudgetExhaustedError,
    CircuitOpenError,
    ConstantBackoff,
    Event,
    ExponentialBackoff,
    Jitter,
    Policy,
    Retry,
    RetryBudget,
    RetryGaveUp,
    RetryScheduled,
    StopReason,
    deadline,
    full_jitter,
)
from faultwise.testing import FakeClock


class Flaky:
    """Fails ``failures`` times with ``error``, then returns ``"ok"``; each call takes
    ``duration`` seconds on ``clock``."""

    def __init__(
        self,
        failures: int,
        clock: FakeClock,
        *,
        error: Callable[[], BaseException] = lambda: ConnectionError("down"),
        duration: float = 0.0,
    ) -> None:
        self.failures = failures
        self.clock = clock
        self.error = error
        self.duration = duration
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.clock.advance(self.duration)
        if self.calls <= self.failures:
            raise self.error()
        return "ok"

    async def run_async(self) -> str:
        return self()


def exact(base: float = 0.1) -> ExponentialBackoff:
    return ExponentialBackoff(base, jitter=Jitter.NONE)


def test_success_on_first_attempt_never_sleeps() -> None:
    clock = FakeClock()
    flaky = Flaky(0, clock)
    assert ("ok", 1, []) == (Policy(Retry(clock=clock)).run(flaky), flaky.calls, clock.sleeps)


def test_retries_follow_the_backoff_schedule_exactly() -> None:
    clock = FakeClock()
    flaky = Flaky(3, clock)
    retry = Retry(attempts=4, backoff=exact(0.1), clock=clock)
    assert "ok" == Policy(retry).run(flaky)
    assert ([0.1, 0.2, 0.4], 4) == (clock.sleeps, flaky.calls)


def test_full_jitter_waits_are_drawn_from_the_injected_rng() -> None:
    clock = FakeClock()
    backoff = full_jitter(0.5, cap=2.0)
    retry = Retry(attempts=4, backoff=backoff, clock=clock, rng=random.Random(42))
    Policy(retry).run(Flaky(3, clock))
    assert backoff.schedule(3, random.Random(42)) == clock.sleeps


def test_the_last_error_is_raised_after_the_last_attempt() -> None:
    clock = FakeClock()
    flaky = Flaky(10, clock, error=lambda: ConnectionError("still down"))
    with pytest.raises(ConnectionError, match="still down"):
        Policy(Retry(attempts=3, backoff=exact(), clock=clock)).run(flaky)
    assert (3, [0.1, 0.2]) == (flaky.calls, clock.sleeps)


def test_errors_outside_retry_on_are_raised_at_once() -> None:
    clock = FakeClock()
    flaky = Flaky(1, clock, error=lambda: KeyError("k"))
    with pytest.raises(KeyError):
        Policy(Retry(retry_on=ConnectionError, clock=clock)).run(flaky)
    assert 1 == flaky.calls


def test_retry_if_predicate_narrows_the_errors() -> None:
    clock = FakeClock()
    retry = Retry(retry_if=lambda e: "transient" in str(e), backoff=exact(), clock=clock)
    assert "ok" == Policy(retry).run(Flaky(1, clock, error=lambda: OSError("transient")))
    with pytest.raises(OSError, match="fatal"):
        Policy(retry).run(Flaky(1, clock, error=lambda: OSError("fatal")))


def test_rejections_are_not_retried_unless_listed() -> None:
    clock = FakeClock()

    def rejected() -> BaseException:
        return CircuitOpenError("open", strategy="b", retry_after=1.0, state=None)  # type: ignore[arg-type]

    flaky = Flaky(1, clock, error=rejected)
    with pytest.raises(CircuitOpenError):
        Policy(Retry(clock=clock)).run(flaky)
    listed = Retry(retry_on=(ConnectionError, CircuitOpenError), backoff=exact(), clock=clock)
    assert "ok" == Policy(listed).run(Flaky(1, clock, error=rejected))
    assert [1.0] == clock.sleeps  # the rejection's retry-after hint, longer than the backoff


def test_results_can_be_retried_and_the_last_result_is_returned() -> None:
    clock = FakeClock()
    results = iter([None, None, "done"])
    retry = Retry(retry_on_result=lambda r: r is None, backoff=exact(), clock=clock)
    assert "done" == Policy(retry).run(lambda: next(results))
    assert None is Policy(retry).run(lambda: None)


def test_a_retry_after_hint_lengthens_the_wait() -> None:
    clock = FakeClock()

    def throttled() -> BaseException:
        error = ConnectionError("429")
        error.retry_after = 3  # type: ignore[attr-defined]
        return error

    Policy(Retry(backoff=exact(0.1), clock=clock)).run(Flaky(1, clock, error=throttled))
    assert [3.0] == clock.sleeps


def test_a_retry_after_hint_beyond_the_maximum_stops_retrying() -> None:
    clock = FakeClock()
    events: list[Event] = []

    def throttled() -> BaseException:
        error = ConnectionError("503")
        error.retry_after = 600.0  # type: ignore[attr-defined]
        return error

    retry = Retry(clock=clock)
    retry.on_event(events.append)
    with pytest.raises(ConnectionError):
        Policy(retry).run(Flaky(1, clock, error=throttled))
    assert [RetryGaveUp("retry", 1, StopReason.RETRY_AFTER, "ConnectionError")] == events


@pytest.mark.parametrize("hint", [True, "3", -1.0])
def test_malformed_retry_after_hints_are_ignored(hint: object) -> None:
    clock = FakeClock()

    def hinted() -> BaseException:
        error = ConnectionError()
        error.retry_after = hint  # type: ignore[attr-defined]
        return error

    Policy(Retry(backoff=exact(0.1), clock=clock)).run(Flaky(1, clock, error=hinted))
    assert [0.1] == clock.sleeps


def test_no_attempt_starts_after_max_elapsed() -> None:
    clock = FakeClock()
    flaky = Flaky(10, clock, duration=1.0)
    retry = Retry(attempts=10, backoff=ConstantBackoff(1.0), max_elapsed=5.0, clock=clock)
    with pytest.raises(ConnectionError):
        Policy(retry).run(flaky)
    # attempts start at t=0, 2 and 4 s; the next would start at 6 s > 5 s
    assert (3, 5.0) == (flaky.calls, clock.now())


def test_no_attempt_starts_that_cannot_finish_before_the_deadline() -> None:
    clock = FakeClock()
    flaky = Flaky(10, clock, duration=0.3)
    retry = Retry(attempts=10, backoff=ConstantBackoff(0.2), clock=clock)
    events: list[Event] = []
    retry.on_event(events.append)
    with deadline(1.0, clock=clock), pytest.raises(ConnectionError):
        Policy(retry).run(flaky)
    # t=0-0.3 first, wait 0.2, 0.5-0.8 second; a third would end at 1.3 s > 1.0 s
    assert (2, 0.8) == (flaky.calls, pytest.approx(clock.now()))
    assert StopReason.DEADLINE == events[-1].reason  # type: ignore[attr-defined]


def test_events_name_attempt_delay_and_error_type() -> None:
    clock = FakeClock()
    events: list[Event] = []
    retry = Retry(attempts=2, backoff=exact(0.1), clock=clock, name="inventory")
    retry.on_event(events.append)
    with pytest.raises(ConnectionError):
        Policy(retry).run(Flaky(5, clock))
    assert [
        RetryScheduled("inventory", 2, 0.1, "ConnectionError"),
        RetryGaveUp("inventory", 2, StopReason.ATTEMPTS, "ConnectionError"),
    ] == events
    assert ("retry", "retry", "gave_up") == (events[0].kind, events[0].event, events[1].event)


def test_error_type_names_the_module_of_non_builtin_errors() -> None:
    class Boom(Exception):
        pass

    retry = Retry(clock=FakeClock())
    events: list[Event] = []
    retry.on_event(events.append)
    retry.decide(1, Boom())
    assert f"{__name__}.test_error_type_names_the_module_of_non_builtin_errors.<locals>.Boom" == (
        events[0].error_type  # type: ignore[attr-defined]
    )


def test_decide_is_a_pure_answer_for_simulations() -> None:
    retry = Retry(attempts=3, backoff=exact(1.0), clock=FakeClock())
    assert 1.0 == retry.decide(1, ConnectionError())
    assert 2.0 == retry.decide(2, ConnectionError(), previous_delay=1.0)
    assert StopReason.ATTEMPTS == retry.decide(3, ConnectionError())
    assert StopReason.NOT_RETRYABLE == retry.decide(1, KeyboardInterrupt())
    assert StopReason.DEADLINE == retry.decide(1, ConnectionError(), remaining=0.5)


def test_an_exhausted_budget_stops_retries_with_a_distinct_error() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.0, min_per_second=0.1, ttl=10.0, clock=clock)  # exactly 1 retry
    retry = Retry(attempts=5, backoff=exact(), budget=budget, clock=clock)
    events: list[Event] = []
    retry.on_event(events.append)
    flaky = Flaky(10, clock)
    with pytest.raises(BudgetExhaustedError) as info:
        Policy(retry).run(flaky)
    assert isinstance(info.value.__cause__, ConnectionError)
    assert (2, StopReason.BUDGET) == (flaky.calls, events[-1].reason)  # type: ignore[attr-defined]


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        Retry(attempts=0)
    with pytest.raises(ValueError, match="max_elapsed"):
        Retry(max_elapsed=0.0)


async def test_async_retries_follow_the_same_schedule() -> None:
    clock = FakeClock()
    flaky = Flaky(2, clock)
    retry = Retry(attempts=3, backoff=exact(0.1), clock=clock)
    assert "ok" == await Policy(retry).run_async(flaky.run_async)
    assert ([0.1, 0.2], 3) == (clock.sleeps, flaky.calls)


async def test_async_retry_gives_up_like_the_sync_one() -> None:
    clock = FakeClock()
    retry = Retry(attempts=2, backoff=exact(), clock=clock)
    with pytest.raises(ConnectionError):
        await Policy(retry).run_async(Flaky(5, clock).run_async)

    async def none() -> None:
        return None

    assert None is await Policy(Retry(retry_on_result=lambda r: r is None, clock=clock)).run_async(
        none
    )


async def test_a_shared_async_retry_serves_concurrent_tasks_independently() -> None:
    import asyncio

    clock = FakeClock()
    retry = Retry(attempts=3, backoff=exact(0.1), clock=clock)
    flakies = [Flaky(i % 3, clock) for i in range(50)]
    results = await asyncio.gather(*(Policy(retry).run_async(f.run_async) for f in flakies))
    assert (["ok"] * 50, [i % 3 + 1 for i in range(50)]) == (
        results,
        [f.calls for f in flakies],
    )


async def test_async_calls_deposit_into_the_budget_too() -> None:
    clock = FakeClock()
    budget = RetryBudget(1.0, min_per_second=0.0, clock=clock)
    flaky = Flaky(1, clock)
    retry = Retry(budget=budget, backoff=exact(), clock=clock)
    assert "ok" == await Policy(retry).run_async(flaky.run_async)
    assert 0.0 == budget.balance()

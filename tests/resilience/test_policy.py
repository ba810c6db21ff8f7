from __future__ import annotations

import asyncio
import functools
import inspect
from pathlib import Path

import pytest

from faultwise.resilience import (
    CircuitBreaker,
    ConstantBackoff,
    Event,
    Policy,
    Retry,
    RetryScheduled,
    Strategy,
    Timeout,
    TimeoutExceeded,
    remaining,
)
from faultwise.testing import FakeClock


class Recorder(Strategy):
    """A strategy that notes when it is entered and left, to check the order."""

    kind = "recorder"

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name)
        self.log = log

    def _run(self, next, args, kwargs):  # type: ignore[no-untyped-def]
        self.log.append(f"enter {self.name}")
        try:
            return next(args, kwargs)
        finally:
            self.log.append(f"leave {self.name}")

    async def _run_async(self, next, args, kwargs):  # type: ignore[no-untyped-def]
        self.log.append(f"enter {self.name}")
        try:
            return await next(args, kwargs)
        finally:
            self.log.append(f"leave {self.name}")


def test_the_first_strategy_is_the_outermost() -> None:
    log: list[str] = []
    policy = Policy(Recorder("a", log), Recorder("b", log))
    policy.run(log.append, "call")
    assert ["enter a", "enter b", "call", "leave b", "leave a"] == log


async def test_the_first_strategy_is_the_outermost_in_async_too() -> None:
    log: list[str] = []

    async def call() -> None:
        log.append("call")

    await Policy(Recorder("a", log), Recorder("b", log)).run_async(call)
    assert ["enter a", "enter b", "call", "leave b", "leave a"] == log


def test_a_decorated_function_keeps_its_name_signature_and_arguments() -> None:
    @Policy(Retry(), CircuitBreaker())
    def add(a: int, b: int = 2, *, scale: int = 1) -> int:
        """Add."""
        return (a + b) * scale

    assert (7, 30) == (add(3, 4), add(1, b=2, scale=10))
    assert ("add", "Add.") == (add.__name__, add.__doc__)
    assert "(a: 'int', b: 'int' = 2, *, scale: 'int' = 1) -> 'int'" == str(inspect.signature(add))


async def test_decorating_an_async_function_gives_an_async_wrapper() -> None:
    @Policy(Timeout(1.0), Retry())
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    assert inspect.iscoroutinefunction(double)
    assert 8 == await double(4)


async def test_async_partials_and_callable_objects_are_recognised() -> None:
    class Caller:
        async def __call__(self, x: int) -> int:
            return x + 1

    async def plus(x: int, y: int) -> int:
        return x + y

    policy = Policy(Retry())
    assert 3 == await policy(Caller())(2)
    assert 5 == await policy(functools.partial(plus, 2))(3)


def test_a_policy_without_strategies_just_calls() -> None:
    assert 3 == Policy().run(len, "abc")
    assert 3 == Policy()(len)("abc")


def test_listeners_on_a_policy_hear_every_strategy_and_can_unsubscribe() -> None:
    clock = FakeClock()
    events: list[Event] = []
    policy = Policy(Retry(attempts=2, clock=clock), CircuitBreaker(clock=clock))
    unsubscribe = policy.on_event(events.append)
    failures = iter([ConnectionError(), None])

    def flaky() -> str:
        error = next(failures)
        if error:
            raise error
        return "ok"

    policy.run(flaky)
    assert [RetryScheduled] == [type(e) for e in events]
    unsubscribe()
    failures = iter([ConnectionError(), None])
    policy.run(flaky)
    assert 1 == len(events)


def test_a_failing_listener_warns_and_never_breaks_the_call() -> None:
    clock = FakeClock()
    retry = Retry(attempts=2, clock=clock)

    def broken(event: Event) -> None:
        raise RuntimeError("metrics down")

    retry.on_event(broken)
    failures = iter([True, False])

    def flaky() -> str:
        if next(failures):
            raise ConnectionError
        return "ok"

    with pytest.warns(RuntimeWarning, match="metrics down"):
        assert "ok" == Policy(retry).run(flaky)


def test_only_strategies_make_a_policy() -> None:
    with pytest.raises(TypeError, match="strategies"):
        Policy(object())  # type: ignore[arg-type]


def test_nested_policies_share_one_deadline() -> None:
    clock = FakeClock()
    inner = Policy(Timeout(5.0, clock=clock))
    outer = Policy(Timeout(1.0, clock=clock))
    assert 1.0 == outer.run(inner.run, remaining)


def test_a_retry_inside_a_timeout_stops_at_the_deadline() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def slow_failure() -> None:
        calls.append(clock.now())
        clock.advance(0.4)
        raise ConnectionError

    retry = Retry(attempts=10, backoff=ConstantBackoff(0.1), clock=clock)
    with pytest.raises(ConnectionError):
        Policy(Timeout(1.0, clock=clock), retry).run(slow_failure)
    # 0-0.4 s, wait 0.1, 0.5-0.9 s; a third attempt would end at 1.4 s
    assert ([0.0, 0.5], 0.9) == (calls, pytest.approx(clock.now()))


def test_strategies_run_alone_with_call() -> None:
    assert 2 == Retry().call(len, "ab")


async def test_strategies_run_alone_with_call_async() -> None:
    async def two() -> int:
        return 2

    assert 2 == await CircuitBreaker().call_async(two)


async def test_a_timeout_around_a_retry_cancels_the_whole_async_chain() -> None:
    async def hang() -> None:
        await asyncio.sleep(10)

    with pytest.raises(TimeoutExceeded):
        await Policy(Timeout(0.02), Retry()).run_async(hang)


def test_the_base_strategy_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError):
        Strategy("base").call(len, "")
    with pytest.raises(NotImplementedError):
        asyncio.run(Strategy("base").call_async(asyncio.sleep, 0))


def test_reprs_name_the_strategies() -> None:
    assert "Policy(Retry(name='retry'))" == repr(Policy(Retry()))


@pytest.mark.slow
def test_decorated_functions_keep_their_types_for_mypy(tmp_path: Path) -> None:
    from mypy import api

    source = Path(__file__).with_name("typing_check.py")
    out, err, status = api.run(
        [str(source), "--strict", "--no-incremental", "--cache-dir", str(tmp_path)]
    )
    lines = source.read_text().splitlines()
    expected = [n for n, line in enumerate(lines, 1) if "  # E: " in line]
    reported = sorted({int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line})
    assert expected == reported, out
    assert "" == err
    assert 1 == status


def test_capture_events_collects_only_inside_the_block() -> None:
    from faultwise.testing import capture_events

    clock = FakeClock()
    retry = Retry(attempts=2, backoff=ConstantBackoff(0.5), clock=clock)
    failures = iter([True, False, True, False])

    def flaky() -> str:
        if next(failures):
            raise ConnectionError
        return "ok"

    with capture_events(retry, Policy(CircuitBreaker())) as events:
        Policy(retry).run(flaky)
    Policy(retry).run(flaky)
    assert [RetryScheduled("retry", 2, 0.5, "ConnectionError")] == events

from __future__ import annotations

import asyncio

import pytest

from faultwise.resilience import (
    Event,
    Fallback,
    FallbackUsed,
    Hedge,
    HedgeStarted,
    Policy,
)


async def test_a_slow_first_attempt_is_hedged_and_the_loser_cancelled() -> None:
    delays = iter([10.0, 0.0])
    cancelled: list[int] = []
    hedge = Hedge(delay=0.01, name="search")
    events: list[Event] = []
    hedge.on_event(events.append)

    async def fetch() -> str:
        delay = next(delays)
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            cancelled.append(1)
            raise
        return f"after {delay}"

    assert "after 0.0" == await Policy(hedge).run_async(fetch)
    await asyncio.sleep(0)
    assert ([1], [HedgeStarted("search", 2)]) == (cancelled, events)


async def test_a_fast_answer_starts_no_hedge() -> None:
    hedge = Hedge(delay=1.0)
    events: list[Event] = []
    hedge.on_event(events.append)

    async def fetch() -> str:
        return "fast"

    assert ("fast", []) == (await Policy(hedge).run_async(fetch), events)


async def test_a_failed_attempt_starts_the_hedge_at_once() -> None:
    outcomes = iter([ConnectionError("first"), None])

    async def fetch() -> str:
        error = next(outcomes)
        if error:
            raise error
        return "second"

    assert "second" == await Policy(Hedge(delay=30.0)).run_async(fetch)


async def test_when_every_attempt_fails_the_last_error_is_raised() -> None:
    async def fetch() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError, match="down"):
        await Policy(Hedge(delay=0.0, max_hedges=2)).run_async(fetch)


def test_hedging_refuses_sync_calls() -> None:
    with pytest.raises(TypeError, match="async"):
        Policy(Hedge()).run(len, "x")
    with pytest.raises(TypeError, match="async"):
        Policy(Hedge())(len)


@pytest.mark.parametrize("options", [{"delay": -1.0}, {"max_hedges": 0}])
def test_invalid_hedges_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Hedge(**options)  # type: ignore[arg-type]


def test_fallback_replaces_a_failure_and_emits_an_event() -> None:
    fallback = Fallback(lambda error: f"cached ({type(error).__name__})", name="prices")
    events: list[Event] = []
    fallback.on_event(events.append)
    assert "cached (ZeroDivisionError)" == Policy(fallback).run(lambda: 1 / 0)
    assert [FallbackUsed("prices", "ZeroDivisionError")] == events


def test_fallback_leaves_other_errors_and_successes_alone() -> None:
    policy = Policy(Fallback(lambda error: "cached", on=ConnectionError))
    assert 3 == policy.run(len, "abc")
    with pytest.raises(ZeroDivisionError):
        policy.run(lambda: 1 / 0)


def test_fallback_can_replace_a_bad_result() -> None:
    policy = Policy(Fallback(lambda error: "default", on_result=lambda r: r is None))
    assert ("default", "x") == (policy.run(lambda: None), policy.run(str, "x"))


async def test_an_async_fallback_handler_is_awaited() -> None:
    async def handler(error: BaseException | None) -> str:
        return "async default"

    async def down() -> None:
        raise ConnectionError

    async def none() -> None:
        return None

    async def fine() -> str:
        return "fine"

    fallback = Fallback(handler, on_result=lambda r: r is None)
    policy = Policy(fallback)
    assert ["async default", "async default", "fine"] == [
        await policy.run_async(f) for f in (down, none, fine)
    ]
    with pytest.raises(TypeError, match="async"):
        policy.run(len, "x")


async def test_a_sync_handler_serves_async_calls_too() -> None:
    async def down() -> None:
        raise ConnectionError

    assert "d" == await Policy(Fallback(lambda error: "d")).run_async(down)

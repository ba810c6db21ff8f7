from __future__ import annotations

import random

import pytest

from faultwise.resilience import (
    AdaptiveThrottle,
    Event,
    Policy,
    Throttled,
    ThrottledError,
)
from faultwise.testing import FakeClock


def fail() -> None:
    raise ConnectionError("overloaded")


def test_a_healthy_backend_is_never_throttled() -> None:
    throttle = AdaptiveThrottle(clock=FakeClock(), rng=random.Random(1))
    assert ["ok"] * 100 == [Policy(throttle).run(str, "ok") for _ in range(100)]
    assert 0.0 == throttle.reject_probability()


def test_the_rejection_probability_follows_the_sre_formula() -> None:
    throttle = AdaptiveThrottle(2.0, clock=FakeClock(), rng=random.Random(1))
    for _ in range(10):
        Policy(throttle).run(str)
    for _ in range(20):
        throttle.try_acquire()
        throttle.on_error(ConnectionError())
    # requests 30, accepts 10: (30 - 2 * 10) / (30 + 1)
    assert pytest.approx(10 / 31) == throttle.reject_probability()


def test_a_failing_backend_gets_rejected_locally_with_events() -> None:
    throttle = AdaptiveThrottle(clock=FakeClock(), rng=random.Random(7), name="search")
    events: list[Event] = []
    throttle.on_event(events.append)
    rejected = 0
    for _ in range(200):
        try:
            Policy(throttle).run(fail)
        except ThrottledError:
            rejected += 1
        except ConnectionError:
            pass
    assert rejected == len(events)
    assert rejected > 150
    assert isinstance(events[0], Throttled)
    assert "search" == events[0].strategy


def test_errors_that_are_not_overload_count_as_accepted() -> None:
    throttle = AdaptiveThrottle(
        clock=FakeClock(),
        rng=random.Random(1),
        rejected_if=lambda e: isinstance(e, ConnectionError),
    )
    for _ in range(50):
        with pytest.raises(KeyError):
            Policy(throttle).run({}.__getitem__, "missing")
    assert 0.0 == throttle.reject_probability()


def test_counts_expire_after_the_window() -> None:
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock, rng=random.Random(1))
    for _ in range(20):
        throttle.try_acquire()
    assert throttle.reject_probability() > 0.9
    clock.advance(121.0)
    assert 0.0 == throttle.reject_probability()


def test_max_reject_caps_the_probability() -> None:
    throttle = AdaptiveThrottle(max_reject=0.8, clock=FakeClock(), rng=random.Random(1))
    for _ in range(100):
        throttle.try_acquire()
    assert 0.8 == throttle.reject_probability()


@pytest.mark.parametrize("options", [{"k": 0.5}, {"window": 0.0}, {"max_reject": 1.5}])
def test_invalid_throttles_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        AdaptiveThrottle(**options)


class NeverRejects(random.Random):
    def random(self) -> float:
        return 0.999999


async def test_async_calls_are_counted_like_sync_ones() -> None:
    throttle = AdaptiveThrottle(clock=FakeClock(), rng=NeverRejects())

    async def down() -> None:
        raise ConnectionError

    async def up() -> str:
        return "ok"

    for _ in range(5):
        with pytest.raises(ConnectionError):
            await Policy(throttle).run_async(down)
    assert "ok" == await Policy(AdaptiveThrottle(clock=FakeClock())).run_async(up)
    assert pytest.approx(5 / 6) == throttle.reject_probability()

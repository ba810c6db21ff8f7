from __future__ import annotations

import asyncio
import threading

import pytest

from faultwise import SYSTEM_CLOCK, Clock
from faultwise.testing import FakeClock


def test_system_and_fake_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SYSTEM_CLOCK, Clock)
    assert isinstance(FakeClock(), Clock)


def test_system_clock_is_monotonic_and_wall_is_ns() -> None:
    a = SYSTEM_CLOCK.now()
    SYSTEM_CLOCK.sleep(0.001)
    assert SYSTEM_CLOCK.now() > a
    assert SYSTEM_CLOCK.wall_ns() > 1_700_000_000 * 10**9


def test_fake_clock_sleep_advances_and_records() -> None:
    clock = FakeClock(start=10.0)
    clock.sleep(0.5)
    clock.sleep(-1.0)  # a negative sleep is no sleep
    assert (10.5, [0.5, 0.0]) == (clock.now(), clock.sleeps)


def test_fake_clock_wall_moves_with_monotonic() -> None:
    clock = FakeClock(wall_ns=1_000_000_000)
    clock.advance(2.5)
    assert 3_500_000_000 == clock.wall_ns()


def test_fake_clock_refuses_to_go_backward() -> None:
    with pytest.raises(ValueError, match="backward"):
        FakeClock().advance(-1)


async def test_fake_clock_async_sleep_yields_and_advances() -> None:
    clock = FakeClock()
    order: list[str] = []

    async def other() -> None:
        order.append("other")

    task = asyncio.create_task(other())
    await clock.sleep_async(3.0)
    await task
    assert (3.0, ["other"]) == (clock.now(), order)


def test_fake_clock_is_thread_safe() -> None:
    clock = FakeClock()

    def work() -> None:
        for _ in range(1000):
            clock.sleep(0.001)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 8000 == len(clock.sleeps)
    assert 8.0 == pytest.approx(clock.now())

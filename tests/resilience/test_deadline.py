from __future__ import annotations

import asyncio

import pytest

from faultwise.resilience import (
    DEADLINE_HEADER,
    current_deadline,
    deadline,
    deadline_from_headers,
    deadline_to_headers,
    remaining,
)
from faultwise.testing import FakeClock


def test_no_deadline_means_no_remaining_time_and_no_header() -> None:
    assert (None, None, {}) == (current_deadline(), remaining(), deadline_to_headers())


def test_remaining_counts_down_on_the_injected_clock() -> None:
    clock = FakeClock()
    with deadline(2.0, clock=clock):
        clock.advance(0.5)
        assert 1.5 == remaining()
    assert None is remaining()


def test_an_inner_deadline_can_only_shorten_the_outer_one() -> None:
    clock = FakeClock()
    with deadline(1.0, clock=clock) as outer:
        with deadline(5.0, clock=clock) as inner:
            assert outer == inner
        with deadline(0.25, clock=clock):
            assert 0.25 == remaining()
        assert 1.0 == remaining()


def test_deadline_none_keeps_the_current_one() -> None:
    clock = FakeClock()
    with deadline(1.0, clock=clock) as outer, deadline(None) as same:
        assert outer == same


def test_nan_deadline_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"), deadline(float("nan")):
        pass


def test_headers_carry_whole_remaining_milliseconds_rounded_down() -> None:
    clock = FakeClock()
    with deadline(2.0, clock=clock):
        clock.advance(0.0015)
        assert {DEADLINE_HEADER: "1998", "a": "b"} == deadline_to_headers({"a": "b"})
        clock.advance(5.0)
        assert {DEADLINE_HEADER: "0"} == deadline_to_headers()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-timeout-ms": "1500"}, 1.5),
        ({"X-Request-Timeout-Ms": " 250 "}, 0.25),
        ({"x-request-timeout-ms": "0"}, 0.0),
        ({"x-request-timeout-ms": "-5"}, None),
        ({"x-request-timeout-ms": "1.5"}, None),
        ({"x-request-timeout-ms": "²"}, None),
        ({"x-request-timeout-ms": ""}, None),
        ({"other": "1"}, None),
    ],
)
def test_incoming_header_parses_whole_ms_or_is_ignored(
    headers: dict[str, str], expected: float | None
) -> None:
    assert expected == deadline_from_headers(headers)


def test_a_deadline_round_trips_through_headers() -> None:
    clock = FakeClock()
    with deadline(0.75, clock=clock):
        seconds = deadline_from_headers(deadline_to_headers())
    with deadline(seconds, clock=clock):
        assert 0.75 == remaining()


async def test_each_task_sees_the_deadline_of_its_own_context() -> None:
    clock = FakeClock()

    async def budget(seconds: float) -> float | None:
        with deadline(seconds, clock=clock):
            await asyncio.sleep(0)
            return remaining()

    assert [1.0, 2.0] == list(await asyncio.gather(budget(1.0), budget(2.0)))


def test_a_deadline_object_knows_its_remaining_time_and_expiry() -> None:
    clock = FakeClock()
    with deadline(1.0, clock=clock) as current:
        assert current is not None
        assert (1.0, False) == (current.remaining(), current.expired())
        clock.advance(1.0)
        assert (0.0, True) == (current.remaining(), current.expired())

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultwise.resilience import (
    ConstantBackoff,
    DecorrelatedBackoff,
    ExponentialBackoff,
    Jitter,
    LinearBackoff,
    equal_jitter,
    full_jitter,
)


def test_exponential_without_jitter_doubles_up_to_the_cap() -> None:
    backoff = ExponentialBackoff(0.1, cap=1.0, jitter=Jitter.NONE)
    assert [0.1, 0.2, 0.4, 0.8, 1.0, 1.0] == backoff.schedule(6)


def test_exponential_with_a_huge_attempt_number_stays_at_the_cap() -> None:
    backoff = ExponentialBackoff(0.1, cap=5.0, jitter=Jitter.NONE)
    assert 5.0 == backoff.delay(10**6, 0.0, random.Random(0))


def test_exponential_overflow_without_cap_is_infinite() -> None:
    backoff = ExponentialBackoff(1.0, factor=10.0, jitter=Jitter.NONE)
    assert math.inf == backoff.delay(1001, 0.0, random.Random(0))


def test_full_jitter_draws_uniformly_below_the_capped_value() -> None:
    rng, twin = random.Random(7), random.Random(7)
    delays = full_jitter(0.1, cap=1.0).schedule(5, rng)
    expected = [twin.uniform(0, v) for v in (0.1, 0.2, 0.4, 0.8, 1.0)]
    assert expected == delays


def test_equal_jitter_never_waits_less_than_half() -> None:
    rng, twin = random.Random(3), random.Random(3)
    delays = equal_jitter(0.2, cap=1.0).schedule(4, rng)
    expected = [v / 2 + twin.uniform(0, v / 2) for v in (0.2, 0.4, 0.8, 1.0)]
    assert expected == delays


def test_decorrelated_grows_from_the_previous_wait() -> None:
    rng, twin = random.Random(5), random.Random(5)
    delays = DecorrelatedBackoff(0.1, cap=2.0).schedule(4, rng)
    expected, previous = [], 0.1
    for _ in range(4):
        previous = min(2.0, twin.uniform(0.1, 3 * previous))
        expected.append(previous)
    assert expected == delays


def test_constant_and_linear_backoffs() -> None:
    assert [2.0, 2.0, 2.0] == ConstantBackoff(2.0).schedule(3)
    assert [1.0, 1.5, 2.0, 2.0] == LinearBackoff(1.0, 0.5, cap=2.0).schedule(4)


def test_backoffs_compose_by_adding_their_waits() -> None:
    combined = ConstantBackoff(1.0) + LinearBackoff(0.0, 1.0) + ConstantBackoff(0.5)
    assert [1.5, 2.5, 3.5] == combined.schedule(3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConstantBackoff(-1.0),
        lambda: LinearBackoff(0.0, math.nan),
        lambda: ExponentialBackoff(0.1, factor=0.5),
        lambda: DecorrelatedBackoff(-0.1),
    ],
)
def test_invalid_backoffs_are_refused(make: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        make()  # type: ignore[operator]


@given(
    base=st.floats(0.001, 10),
    cap=st.floats(0.001, 100),
    attempt=st.integers(1, 5000),
    jitter=st.sampled_from(Jitter),
    seed=st.integers(0, 2**32),
)
def test_exponential_delay_is_never_negative_nor_above_the_cap(
    base: float, cap: float, attempt: int, jitter: Jitter, seed: int
) -> None:
    delay = ExponentialBackoff(base, cap=cap, jitter=jitter).delay(
        attempt, 0.0, random.Random(seed)
    )
    assert 0.0 <= delay <= cap

"""The retry storm in virtual time reproduces the loopback pilot's shape."""

from __future__ import annotations

import pytest

from faultwise.lab import PolicyKey, StormSpec, run_storm_sim


@pytest.fixture(scope="module")
def spec() -> StormSpec:
    return StormSpec()


def test_without_retries_the_service_recovers_after_the_trigger(spec: StormSpec) -> None:
    summary = run_storm_sim(spec, PolicyKey.NONE, seed=1).summary
    assert summary.recovery_s is not None
    assert summary.recovery_s <= 15.0
    assert 1.0 == summary.attempts_per_request


def test_immediate_retries_keep_goodput_near_zero_after_the_trigger_ends(
    spec: StormSpec,
) -> None:
    result = run_storm_sim(spec, PolicyKey.IMMEDIATE_RETRIES, seed=1)
    assert result.summary.recovery_s is None
    assert result.summary.goodput_after < 0.05
    assert result.summary.attempts_per_request > 3.0
    assert result.max_queue > 5_000  # the backlog keeps growing


def test_backoff_with_full_jitter_alone_is_still_stuck(spec: StormSpec) -> None:
    summary = run_storm_sim(spec, PolicyKey.TENACITY_JITTER, seed=1).summary
    assert summary.recovery_s is None
    assert summary.goodput_after < 0.05


def test_a_shorter_trigger_does_not_tip_the_system(spec: StormSpec) -> None:
    short = spec.__class__(trigger_for=1.0)
    summary = run_storm_sim(short, PolicyKey.IMMEDIATE_RETRIES, seed=1).summary
    assert summary.recovery_s is not None


def test_the_storm_is_deterministic_for_a_seed(spec: StormSpec) -> None:
    short = spec.scaled(0.4)  # tenacity's jitter from the seeded global random, in 24 s
    a = run_storm_sim(short, PolicyKey.TENACITY_JITTER, seed=5).summary
    b = run_storm_sim(short, PolicyKey.TENACITY_JITTER, seed=5).summary
    assert a == b


def test_faultwise_full_meets_the_targets_in_the_pilot_scenario(spec: StormSpec) -> None:
    summary = run_storm_sim(spec, PolicyKey.FAULTWISE_FULL, seed=1).summary
    assert summary.goodput_during >= 0.9
    assert summary.recovery_s is not None
    assert summary.recovery_s <= 1.0
    assert summary.attempts_per_request <= 1.1

from __future__ import annotations

import threading

import pytest

from faultwise.resilience import RetryBudget
from faultwise.testing import FakeClock


def test_a_quiet_client_may_still_retry_at_the_floor_rate() -> None:
    budget = RetryBudget(0.2, min_per_second=1.0, ttl=10.0, clock=FakeClock())
    granted = sum(budget.try_withdraw() for _ in range(20))
    assert 10 == granted


def test_retries_stay_under_the_ratio_of_recent_requests() -> None:
    budget = RetryBudget(0.2, min_per_second=0.0, ttl=10.0, clock=FakeClock())
    for _ in range(100):
        budget.deposit()
    assert (20, 0.0) == (sum(budget.try_withdraw() for _ in range(50)), budget.balance())


def test_deposits_expire_after_the_ttl() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.5, min_per_second=0.0, ttl=10.0, clock=clock)
    for _ in range(10):
        budget.deposit()
    assert 5.0 == budget.balance()
    clock.advance(5.0)
    assert 5.0 == budget.balance()
    clock.advance(6.0)
    assert 0.0 == budget.balance()
    assert not budget.try_withdraw()


def test_a_long_silence_clears_the_whole_window() -> None:
    clock = FakeClock()
    budget = RetryBudget(1.0, min_per_second=0.0, ttl=10.0, clock=clock)
    budget.deposit()
    clock.advance(1000.0)
    assert 0.0 == budget.balance()


def test_withdrawals_expire_too_so_the_floor_comes_back() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.0, min_per_second=0.1, ttl=10.0, clock=clock)
    assert (True, False) == (budget.try_withdraw(), budget.try_withdraw())
    clock.advance(11.0)
    assert budget.try_withdraw()


@pytest.mark.parametrize("options", [{"ratio": -0.1}, {"min_per_second": -1.0}, {"ttl": 0.0}])
def test_invalid_budgets_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryBudget(**options)


def test_concurrent_withdrawals_never_exceed_the_balance() -> None:
    budget = RetryBudget(0.1, min_per_second=0.0, ttl=10.0, clock=FakeClock())
    for _ in range(10_000):
        budget.deposit()
    granted: list[int] = []

    def work() -> None:
        granted.append(sum(budget.try_withdraw() for _ in range(200)))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (1000, 0.0) == (sum(granted), budget.balance())


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_deposits_are_all_counted() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.5, min_per_second=0.0, ttl=1000.0, clock=clock)
    granted: list[int] = []

    def work() -> None:
        withdrawn = 0
        for i in range(1, 20_001):
            if i % 1000 == 0:
                clock.advance(5.0)  # 8 x 20 x 5 s stays inside the 1000 s ttl
            budget.deposit()
            if i % 10 == 0:  # each thread deposited 5 tokens per withdrawal: always granted
                withdrawn += budget.try_withdraw()
        granted.append(withdrawn)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ([2000] * 8, 8 * 20_000 * 0.5 - 8 * 2000) == (granted, budget.balance())


def test_repr_shows_the_balance() -> None:
    assert "RetryBudget(name='retry_budget', balance=100.0)" == repr(RetryBudget(clock=FakeClock()))

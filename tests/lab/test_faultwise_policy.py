"""faultwise's defenses in the lab, driven stepwise on a fake clock."""

from __future__ import annotations

from faultwise.lab import Constant, NoRetries, Outcome, Service, ServiceSpec, Sim
from faultwise.lab._faultwise_policy import FaultwiseClientPolicy, client_strategies
from faultwise.lab._sim import Caller
from faultwise.resilience import AIMDLimit, ConcurrencyLimit
from faultwise.testing import FakeClock


def _policy(clock: FakeClock) -> FaultwiseClientPolicy:
    import random

    return FaultwiseClientPolicy(client_strategies(clock, random.Random(1)))


def _fail_calls(policy: FaultwiseClientPolicy, clock: FakeClock, outcome: Outcome, n: int) -> None:
    for _ in range(n):
        state = policy.begin(clock.now())
        if policy.admit(state, clock.now()) is None:
            clock.advance(0.01)
            policy.outcome(state, clock.now(), outcome)


def test_the_breaker_ignores_fast_rejections_from_a_shedding_server() -> None:
    clock = FakeClock()
    policy = _policy(clock)
    _fail_calls(policy, clock, Outcome.REJECTED, 50)
    assert "closed" == policy.breaker_state()


def test_the_breaker_opens_on_timeouts() -> None:
    clock = FakeClock()
    policy = _policy(clock)
    _fail_calls(policy, clock, Outcome.TIMEOUT, 50)
    assert "open" == policy.breaker_state()


def test_retries_stop_when_the_budget_is_spent() -> None:
    clock = FakeClock()
    policy = _policy(clock)
    retries = 0
    for _ in range(400):  # one failing attempt per call, all within one second
        state = policy.begin(clock.now())
        policy.admit(state, clock.now())
        if policy.outcome(state, clock.now(), Outcome.REJECTED) is not None:
            retries += 1
    # Finagle's budget: 20 % of the 400 requests plus the 10/s reserve over its 10 s window
    assert 180 == retries


def test_a_server_limiter_rejects_work_beyond_its_limit() -> None:
    sim = Sim()
    limit = ConcurrencyLimit(AIMDLimit(initial=2, minimum=1, maximum=2), clock=sim.clock)
    service = Service(sim, ServiceSpec("s", 1, Constant(1.0)), limiter=limit)
    caller = Caller(sim, service, NoRetries(), timeout=10.0)
    outcomes: list[bool] = []
    for _ in range(3):
        caller.call(lambda ok, start: outcomes.append(ok))
    sim.run(until=5.0)
    assert ([False, True, True], 1) == (outcomes, service.rejected)

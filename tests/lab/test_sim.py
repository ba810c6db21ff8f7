"""The discrete-event engine: ordering, queues, timeouts, open-loop arrivals, determinism."""

from __future__ import annotations

import gc
import itertools
import random

import pytest

from faultwise.lab import (
    Caller,
    Constant,
    Exponential,
    ImmediateRetries,
    NoRetries,
    OpenLoop,
    Outcome,
    QueueOrder,
    Recorder,
    Service,
    ServiceSpec,
    Sim,
)


def _call_log(sim: Sim, caller: Caller, n: int, log: list[tuple[int, bool, float]]) -> None:
    for i in range(n):
        caller.call(lambda ok, start, i=i: log.append((i, ok, sim.now)))


def test_events_run_in_time_order_and_ties_in_insertion_order() -> None:
    sim = Sim()
    seen: list[str] = []
    sim.at(2.0, seen.append, "c")
    sim.at(1.0, seen.append, "a")
    sim.at(1.0, seen.append, "b")
    sim.run(until=5.0)
    assert ["a", "b", "c"] == seen
    assert 5.0 == sim.now


def test_sim_clock_reads_virtual_time_and_refuses_to_sleep() -> None:
    sim = Sim()
    sim.run(until=3.5)
    assert 3.5 == sim.clock.now()
    assert sim.wall_start_ns + 3_500_000_000 == sim.clock.wall_ns()
    with pytest.raises(RuntimeError, match="virtual time"):
        sim.clock.sleep(1.0)


def test_fifo_service_answers_in_arrival_order_one_worker() -> None:
    sim = Sim()
    svc = Service(sim, ServiceSpec("s", 1, Constant(0.1)))
    caller = Caller(sim, svc, NoRetries(), timeout=10.0)
    log: list[tuple[int, bool, float]] = []
    _call_log(sim, caller, 3, log)
    sim.run(until=1.0)
    assert [(0, True), (1, True), (2, True)] == [(i, ok) for i, ok, _ in log]
    assert [0.1, 0.2, 0.3] == [round(t, 6) for _, _, t in log]


def test_lifo_service_serves_the_newest_waiting_request_first() -> None:
    sim = Sim()
    svc = Service(sim, ServiceSpec("s", 1, Constant(0.1), queue=QueueOrder.LIFO))
    caller = Caller(sim, svc, NoRetries(), timeout=10.0)
    log: list[tuple[int, bool, float]] = []
    _call_log(sim, caller, 3, log)
    sim.run(until=1.0)
    assert [0, 2, 1] == [i for i, _, _ in log]


def test_bounded_queue_rejects_fast_beyond_its_limit() -> None:
    sim = Sim()
    svc = Service(sim, ServiceSpec("s", 1, Constant(0.1), queue_limit=1))
    caller = Caller(sim, svc, NoRetries(), timeout=10.0)
    log: list[tuple[int, bool, float]] = []
    _call_log(sim, caller, 3, log)
    sim.run(until=1.0)
    assert [(2, False, 0.0), (0, True, 0.1), (1, True, 0.2)] == [
        (i, ok, round(t, 6)) for i, ok, t in log
    ]
    assert 1 == svc.rejected


def test_handler_keeps_working_after_the_client_gave_up() -> None:
    sim = Sim()
    recorder = Recorder(5)
    svc = Service(sim, ServiceSpec("s", 1, Constant(0.5)))
    caller = Caller(sim, svc, NoRetries(), timeout=0.2, recorder=recorder)
    log: list[tuple[int, bool, float]] = []
    _call_log(sim, caller, 2, log)
    sim.run(until=2.0)
    assert [(0, False, 0.2), (1, False, 0.2)] == [(i, ok, round(t, 6)) for i, ok, t in log]
    assert 2 == svc.handled  # both were served, for nobody
    assert 2 == sum(recorder.wasted)
    assert 2 == sum(recorder.timeouts)


def test_shed_expired_drops_work_whose_deadline_passed_in_the_queue() -> None:
    sim = Sim()
    svc = Service(sim, ServiceSpec("s", 1, Constant(0.5), shed_expired=True))
    caller = Caller(sim, svc, NoRetries(), timeout=0.7)
    log: list[tuple[int, bool, float]] = []
    _call_log(sim, caller, 3, log)
    sim.run(until=3.0)
    # the second starts at 0.5, before its deadline (served, too late); the third at 1.0: shed
    assert (2, 1) == (svc.handled, svc.shed)
    assert [(0, True, 0.5), (1, False, 0.7), (2, False, 0.7)] == [
        (i, ok, round(t, 6)) for i, ok, t in sorted(log)
    ]


def test_immediate_retries_resend_at_once_up_to_the_limit() -> None:
    sim = Sim()
    recorder = Recorder(5)
    svc = Service(sim, ServiceSpec("s", 1, Constant(5.0)))
    caller = Caller(sim, svc, ImmediateRetries(3), timeout=0.25, recorder=recorder)
    log: list[tuple[int, bool, float]] = []
    _call_log(sim, caller, 1, log)
    sim.run(until=4.0)
    assert [(0, False, 1.0)] == [(i, ok, round(t, 6)) for i, ok, t in log]
    assert 4 == sum(recorder.attempts)


def test_open_loop_arrivals_keep_their_rate_whatever_the_server_does() -> None:
    sim = Sim(seed=3)
    recorder = Recorder(101)
    svc = Service(sim, ServiceSpec("s", 1, Constant(10.0)))  # hopelessly slow
    caller = Caller(sim, svc, NoRetries(), timeout=1.0, recorder=recorder)
    source = OpenLoop(sim, [caller], rate=50.0, start=0.0, stop=100.0, recorder=recorder)
    sim.run(until=101.0)
    assert abs(source.started - 5000) < 250  # 3.5 sigma of a Poisson count
    assert source.started == sum(recorder.offered)


def test_same_seed_same_run_other_seed_other_run() -> None:
    def run(seed: int) -> list[int]:
        sim = Sim(seed=seed)
        recorder = Recorder(11)
        svc = Service(sim, ServiceSpec("s", 2, Constant(0.01)))
        caller = Caller(sim, svc, NoRetries(), timeout=1.0, recorder=recorder)
        OpenLoop(sim, [caller], rate=100.0, start=0.0, stop=10.0, recorder=recorder)
        sim.run(until=11.0)
        return recorder.offered

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_outcome_values_are_stable_strings() -> None:
    assert ["ok", "timeout", "rejected", "error", "local_reject"] == [o.value for o in Outcome]


def test_exponential_service_times_are_the_standard_librarys_expovariate_draws() -> None:
    ours, stdlib = random.Random(5), random.Random(5)
    dist = Exponential(0.02)
    assert [stdlib.expovariate(1.0 / 0.02) for _ in range(1000)] == [
        dist.sample(ours) for _ in range(1000)
    ]


class _StartTimes(NoRetries):
    def __init__(self) -> None:
        self.starts: list[float] = []

    def begin(self, now: float) -> None:
        self.starts.append(now)


def test_open_loop_gaps_are_the_standard_librarys_expovariate_draws() -> None:
    sim = Sim(seed=11)
    policy = _StartTimes()
    svc = Service(sim, ServiceSpec("s", 1, Constant(0.001)))  # draws nothing from the rng
    caller = Caller(sim, svc, policy, timeout=1.0)
    OpenLoop(sim, [caller], rate=100.0, start=0.0, stop=5.0, recorder=Recorder(6))
    sim.run(until=6.0)
    stdlib = random.Random(11)
    expected = list(itertools.accumulate(stdlib.expovariate(100.0) for _ in policy.starts))
    assert expected == policy.starts


def _freeze_counts_during_a_run() -> tuple[int, int]:
    sim = Sim()
    seen: list[int] = []
    sim.at(1.0, lambda _: seen.append(gc.get_freeze_count()))
    sim.run(until=2.0)
    return seen[0], gc.get_freeze_count()


def test_a_run_keeps_older_objects_from_full_collections_and_gives_them_back() -> None:
    if gc.get_freeze_count():
        pytest.skip("objects were already frozen in this process")
    during, after = _freeze_counts_during_a_run()
    assert during > 0
    assert 0 == after


def test_a_run_leaves_objects_someone_else_froze_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert (frozen, frozen) == _freeze_counts_during_a_run()
    finally:
        gc.unfreeze()

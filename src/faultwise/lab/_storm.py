"""The retry storm: a 10 s slowdown that a retrying client turns into an outage that stays.

The loopback pilot and the metastable-failure papers (Bronson et al., HotOS 2021; Huang et
al., OSDI 2022): 140 requests/s offered open-loop to a service of 4 workers at 20 ms (capacity
200/s); for 10 s the service time triples (capacity 67/s); each attempt waits 1 s; up to 3
retries. The backlog built during the trigger takes longer than the timeout to drain, so every
attempt times out, is retried, and the retries keep the queue full after the trigger ends.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from faultwise._clock import Clock
from faultwise.lab._faultwise_policy import faultwise_client_factory, server_limiter
from faultwise.lab._metrics import Series, Summary, summarize
from faultwise.lab._policies import (
    ImmediateRetries,
    NoRetries,
    TenacityPolicy,
    seeded_global_random,
    tenacity_retrying,
    virtual_time_breaker,
)
from faultwise.lab._sim import (
    Caller,
    ClientPolicy,
    Exponential,
    OpenLoop,
    Recorder,
    Service,
    ServiceSpec,
    Sim,
)
from faultwise.lab._telemetry import steady_state, write_truth

__all__ = ["POLICIES", "PolicyKey", "StormResult", "StormSpec", "run_storm_sim"]


class PolicyKey(enum.Enum):
    """The client (and server) set-ups compared side by side."""

    NONE = "none"
    IMMEDIATE_RETRIES = "immediate_retries"
    TENACITY_JITTER = "tenacity_jitter"
    TENACITY_PYBREAKER = "tenacity_pybreaker"
    FAULTWISE_CLIENT = "faultwise_client"
    FAULTWISE_FULL = "faultwise_full"


POLICIES: tuple[PolicyKey, ...] = tuple(PolicyKey)

POLICY_LABELS = {
    PolicyKey.NONE: "no retries",
    PolicyKey.IMMEDIATE_RETRIES: "3 immediate retries",
    PolicyKey.TENACITY_JITTER: "tenacity, exp. backoff + full jitter",
    PolicyKey.TENACITY_PYBREAKER: "tenacity + pybreaker",
    PolicyKey.FAULTWISE_CLIENT: "faultwise client policy",
    PolicyKey.FAULTWISE_FULL: "faultwise client + server shedding",
}


@dataclass(frozen=True, slots=True)
class StormSpec:
    """One definition of the scenario, for both modes (times in seconds from load start)."""

    rate: float = 140.0
    workers: int = 4
    service_time: float = 0.020
    slowdown: float = 3.0
    trigger_at: float = 10.0
    trigger_for: float = 10.0
    duration: float = 60.0
    timeout: float = 1.0
    retries: int = 3
    clients: int = 1

    @property
    def capacity(self) -> float:
        return self.workers / self.service_time

    @property
    def degraded_capacity(self) -> float:
        return self.capacity / self.slowdown

    @property
    def trigger_end(self) -> float:
        return self.trigger_at + self.trigger_for

    def scaled(self, factor: float) -> StormSpec:
        """The same scenario with every duration multiplied by ``factor`` (rates kept)."""
        return replace(
            self,
            trigger_at=self.trigger_at * factor,
            trigger_for=self.trigger_for * factor,
            duration=self.duration * factor,
        )


@dataclass(frozen=True, slots=True)
class StormResult:
    policy: PolicyKey
    spec: StormSpec
    series: Series
    summary: Summary
    events: int
    max_queue: int
    wasted: int


PolicyFactory = Callable[[], ClientPolicy]


def client_policy_factory(key: PolicyKey, spec: StormSpec, clock: Clock) -> PolicyFactory:
    """A factory of one client's policy for ``key`` (each client gets its own objects)."""
    if key is PolicyKey.NONE:
        return NoRetries
    if key is PolicyKey.IMMEDIATE_RETRIES:
        return lambda: ImmediateRetries(spec.retries)
    if key is PolicyKey.TENACITY_JITTER:
        return lambda: TenacityPolicy(tenacity_retrying(spec.retries), name=key.value)
    if key is PolicyKey.TENACITY_PYBREAKER:
        return lambda: TenacityPolicy(
            tenacity_retrying(spec.retries), breaker=virtual_time_breaker(clock), name=key.value
        )
    return faultwise_client_factory(clock, retries=spec.retries, attempt_timeout=spec.timeout)


def sheds_load(key: PolicyKey) -> bool:
    """Whether the server sheds load (an adaptive concurrency limit, deadline-bounded waits)."""
    return key is PolicyKey.FAULTWISE_FULL


def server_spec(key: PolicyKey, spec: StormSpec) -> ServiceSpec:
    """The backend: a worker pool behind an unbounded FIFO queue, as a thread pool is."""
    return ServiceSpec(
        "backend", spec.workers, Exponential(spec.service_time), shed_expired=sheds_load(key)
    )


def run_storm_sim(
    spec: StormSpec, key: PolicyKey, *, seed: int = 1, out: Path | None = None
) -> StormResult:
    """Run the retry storm in virtual time under one policy; deterministic for a seed.

    With ``out``, telemetry (logs, spans, metrics) and ``truth.json`` are written there.
    """
    from faultwise.lab._simtrace import SimTelemetry

    sim = Sim(seed=seed)
    tel = SimTelemetry(sim, out, seed=seed) if out is not None else None
    # after the load stops, let every call end (its last attempt times out at the latest)
    drain = spec.timeout * (spec.retries + 1) + 2.0 * spec.retries + 1.0
    seconds = int(spec.duration + drain) + 1
    recorder = Recorder(seconds)
    limiter = server_limiter(sim.clock, spec.workers) if sheds_load(key) else None
    backend = Service(sim, server_spec(key, spec), tracer=tel, limiter=limiter)
    factory = client_policy_factory(key, spec, sim.clock)
    callers = [
        Caller(
            sim,
            backend,
            factory(),
            timeout=spec.timeout,
            name="client",
            recorder=recorder,
            tracer=tel,
        )
        for _ in range(spec.clients)
    ]
    OpenLoop(sim, callers, rate=spec.rate, start=0.0, stop=spec.duration, recorder=recorder)
    queue = [0] * (seconds + 1)

    def sample(i: int) -> None:
        queue[i] = len(backend.queue)
        if tel is not None and i > 0:
            tel.metrics(
                {
                    "backend_queue_depth": queue[i],
                    "backend_busy": backend.busy,
                    "client_requests_per_s": recorder.offered[i - 1],
                    "client_attempts_per_s": recorder.attempts[i - 1],
                    "client_goodput_per_s": recorder.ok[i - 1],
                }
            )
        if i < seconds:
            sim.at(i + 1.0, sample, i + 1)

    def slow(factor: float) -> None:
        backend.slowdown = factor
        if tel is not None:
            tel.log("backend", "WARN" if factor > 1 else "INFO", f"service time x{factor:g}")

    sim.at(0.0, sample, 0)
    sim.at(spec.trigger_at, slow, spec.slowdown)
    sim.at(spec.trigger_end, slow, 1.0)
    with seeded_global_random(seed):
        sim.run(until=spec.duration + drain)
    if tel is not None and out is not None:
        tel.close()
        write_truth(
            out, "retry_storm", "backend", scenario="retry-storm", policy=key.value,
            defended=key is PolicyKey.FAULTWISE_FULL,
            steady_state=steady_state(sim.wall_start_ns, spec.trigger_at),
        )  # fmt: skip
    series = Series(
        offered=recorder.offered,
        ok=recorder.ok,
        failed=recorder.failed,
        attempts=recorder.attempts,
        ok_latency=recorder.ok_latency,
        queue=queue,
        ok_by_arrival=recorder.ok_by_arrival,
    )
    summary = summarize(
        series,
        trigger_start=spec.trigger_at,
        trigger_end=spec.trigger_end,
        degraded_capacity=spec.degraded_capacity,
        load_end=spec.duration,
    )
    return StormResult(
        policy=key,
        spec=spec,
        series=series,
        summary=summary,
        events=sim.events,
        max_queue=max(queue),
        wasted=sum(recorder.wasted),
    )

"""The retry storm live: a backend process on 127.0.0.1, open-loop load through a policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultwise._clock import SYSTEM_CLOCK
from faultwise.lab._live import Edge, LiveOptions, LiveRun, get_json, post_json
from faultwise.lab._metrics import Series, summarize
from faultwise.lab._sim import Recorder
from faultwise.lab._storm import (
    POLICIES,
    PolicyKey,
    StormResult,
    StormSpec,
    client_policy_factory,
    sheds_load,
)
from faultwise.lab._telemetry import LogWriter, SpanWriter, steady_state, write_truth

__all__ = ["Tick", "run_storm_live", "run_storm_live_all"]


@dataclass(frozen=True, slots=True)
class Tick:
    """What the dashboard shows, once a second."""

    policy: PolicyKey
    elapsed: float
    phase: str
    offered_rps: float
    goodput_rps: float
    p99_s: float | None
    attempts_per_request: float
    queue: int
    breaker: str


def breaker_state(policy: Any) -> str:
    """The policy's breaker state for display (``-`` when it has none)."""
    describe = getattr(policy, "breaker_state", None)
    return str(describe()) if callable(describe) else "-"


def _tick(  # noqa: PLR0917
    key: PolicyKey,
    spec: StormSpec,
    rec: Recorder,
    queue: list[int],
    policy: Any,
    elapsed: float,
) -> Tick:
    now = int(elapsed)
    window = range(max(now - 3, 0), max(now, 1))
    span = max(len(window), 1)
    offered = sum(rec.offered[i] for i in window)
    attempts = sum(rec.attempts[i] for i in window)
    latencies = sorted(x for i in window for x in rec.ok_latency[i])
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None
    if elapsed < spec.trigger_at:
        phase = "before"
    elif elapsed < spec.trigger_end:
        phase = "TRIGGER"
    elif elapsed < spec.duration:
        phase = "after"
    else:
        phase = "draining"
    return Tick(
        policy=key,
        elapsed=elapsed,
        phase=phase,
        offered_rps=offered / span,
        goodput_rps=sum(rec.ok[i] for i in window) / span,
        p99_s=p99,
        attempts_per_request=attempts / offered if offered else 0.0,
        queue=queue[max(now - 1, 0)] if now else 0,
        breaker=breaker_state(policy),
    )


def run_storm_live(
    spec: StormSpec,
    key: PolicyKey,
    *,
    seed: int = 1,
    out: Path | None = None,
    on_tick: Callable[[Tick], None] | None = None,
) -> StormResult:
    """Run the retry storm on 127.0.0.1 under one policy; telemetry to ``out`` if given."""
    drain = spec.timeout * (spec.retries + 1) + 2.0 * spec.retries
    policy = client_policy_factory(key, spec, SYSTEM_CLOCK)()
    logs = LogWriter(out / "logs" / "client.jsonl", "client") if out else None
    spans = SpanWriter(out / "spans" / "client.csv") if out else None
    queue = [0] * (int(spec.duration + drain) + 4)
    with LiveRun(out, seed=seed, options=LiveOptions(rabbitmq=None)) as run:
        url = run.start(
            "backend", "backend", workers=spec.workers, service_time=spec.service_time,
            shed=sheds_load(key),
        )  # fmt: skip
        edge = Edge(
            "client", [url], "/work", spec.rate, spec.timeout, policy=policy,
            logs=logs, spans=spans, peer="backend",
        )  # fmt: skip

        async def sample(i: int) -> dict[str, Any]:
            stats = await get_json(url, "/_lab/stats")
            queue[min(i, len(queue) - 1)] = int(stats["queue"])
            return {"backend_queue_depth": stats["queue"], "backend_busy": stats["busy"]}

        def tick(elapsed: float) -> None:
            if on_tick is not None and edge.recorder is not None:
                on_tick(_tick(key, spec, edge.recorder, queue, policy, elapsed))

        try:
            run.drive(
                [edge],
                duration=spec.duration,
                drain=drain,
                faults=[
                    (
                        spec.trigger_at,
                        lambda: post_json(url, "/_lab/fault", {"slowdown": spec.slowdown}),
                    ),
                    (spec.trigger_end, lambda: post_json(url, "/_lab/fault", {"slowdown": 1.0})),
                ],
                sample=sample,
                on_second=tick,
            )
        finally:
            for writer in (logs, spans):
                if writer is not None:
                    writer.close()
    if out is not None:
        write_truth(
            out, "retry_storm", "backend", scenario="retry-storm", policy=key.value,
            defended=key is PolicyKey.FAULTWISE_FULL, mode="live",
            steady_state=steady_state(run.wall_t0_ns, spec.trigger_at),
        )  # fmt: skip
    recorder = edge.recorder
    assert recorder is not None
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
    return StormResult(key, spec, series, summary, 0, max(queue), sum(recorder.wasted))


def run_storm_live_all(spec: StormSpec, *, seed: int = 1) -> dict[str, Any]:
    """Every policy, one after the other, as bench/lab.py prints them."""
    results: dict[str, Any] = {}
    for key in POLICIES:
        started = time.perf_counter()
        try:
            result = run_storm_live(spec, key, seed=seed)
        except Exception as exc:  # a set-up that cannot run here is reported, not hidden
            results[key.value] = {"error": str(exc)}
            continue
        row: dict[str, Any] = result.summary.as_json()
        row["goodput_after"] = round(result.summary.goodput_after, 3)
        row["max_queue"] = result.max_queue
        row["wall_s"] = round(time.perf_counter() - started, 1)
        results[key.value] = row
    return results

"""The retry storm live: a backend process on 127.0.0.1, open-loop load through a policy."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultwise._clock import SYSTEM_CLOCK
from faultwise.lab._http import HttpClient
from faultwise.lab._load import LiveCaller, LoadStats, open_loop
from faultwise.lab._metrics import Series, summarize
from faultwise.lab._procs import Cluster
from faultwise.lab._sim import Recorder
from faultwise.lab._storm import (
    POLICIES,
    PolicyKey,
    StormResult,
    StormSpec,
    client_policy_factory,
    server_spec,
)
from faultwise.lab._telemetry import LogWriter, SpanWriter, write_metrics_csv, write_truth

__all__ = ["Tick", "run_storm_live", "run_storm_live_all"]


@dataclass(frozen=True, slots=True)
class Tick:
    """What the dashboard shows, once per refresh."""

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


def _backend_config(key: PolicyKey, spec: StormSpec, out: Path | None, seed: int) -> dict[str, Any]:
    service = server_spec(key, spec)
    return {
        "kind": "backend",
        "workers": service.workers,
        "service_time": spec.service_time,
        "queue_limit": service.queue_limit,
        "shed_expired": service.shed_expired,
        "admit_by_deadline": service.admit_by_deadline,
        "queue": service.queue.value,
        "out": str(out) if out else None,
        "seed": seed,
    }


async def _drive(
    spec: StormSpec,
    key: PolicyKey,
    backend_url: str,
    *,
    out: Path | None,
    seed: int,
    on_tick: Callable[[Tick], None] | None,
) -> tuple[Recorder, list[int], LoadStats, list[dict[str, Any]]]:
    import httpx

    drain = spec.timeout * (spec.retries + 1) + 2.0 * spec.retries
    seconds = int(spec.duration + drain) + 2
    recorder = Recorder(seconds)
    queue = [0] * (seconds + 1)
    rows: list[dict[str, Any]] = []
    policy = client_policy_factory(key, spec, SYSTEM_CLOCK)()
    logs = LogWriter(out / "logs" / "client.jsonl", "client") if out else None
    spans = SpanWriter(out / "spans" / "client.csv") if out else None
    stats = LoadStats()
    client = HttpClient(backend_url)
    async with httpx.AsyncClient(timeout=1.0) as admin:
        t0 = time.monotonic()
        caller = LiveCaller(
            client, "/work", policy, timeout=spec.timeout,
            recorder=recorder, t0=t0, logs=logs, spans=spans,
        )  # fmt: skip

        async def fault(at: float, slowdown: float) -> None:
            await asyncio.sleep(max(at - (time.monotonic() - t0), 0))
            await admin.post(f"{backend_url}/_lab/fault", json={"slowdown": slowdown})

        async def sample() -> None:
            while True:
                await asyncio.sleep(1.0 - ((time.monotonic() - t0) % 1.0))
                elapsed = time.monotonic() - t0
                i = recorder.slot(elapsed)
                with contextlib.suppress(httpx.HTTPError):
                    queue[i] = (await admin.get(f"{backend_url}/_lab/stats")).json()["queue"]
                prev = max(i - 1, 0)
                rows.append(
                    {
                        "timestamp": time.time_ns() // 1_000_000 / 1000,
                        "client_requests_per_s": recorder.offered[prev],
                        "client_attempts_per_s": recorder.attempts[prev],
                        "client_goodput_per_s": recorder.ok[prev],
                        "client_failures_per_s": recorder.failed[prev],
                        "client_timeouts_per_s": recorder.timeouts[prev],
                        "backend_queue_depth": queue[i],
                    }
                )

        async def tick() -> None:
            while on_tick is not None:
                await asyncio.sleep(0.5)
                on_tick(_tick(key, spec, recorder, queue, policy, time.monotonic() - t0))

        helpers = [
            asyncio.create_task(fault(spec.trigger_at, spec.slowdown)),
            asyncio.create_task(fault(spec.trigger_end, 1.0)),
            asyncio.create_task(sample()),
            asyncio.create_task(tick()),
        ]
        try:
            _, running = await open_loop(
                caller.call, rate=spec.rate, duration=spec.duration,
                rng=random.Random(seed), stats=stats,
            )  # fmt: skip
            if running:
                await asyncio.wait(running, timeout=drain)
            for task in running:
                task.cancel()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await client.aclose()
            for writer in (logs, spans):
                if writer is not None:
                    writer.close()
    return recorder, queue, stats, rows


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
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with Cluster(log_dir=out) as cluster:
        backend = cluster.start("backend", _backend_config(key, spec, out, seed))
        recorder, queue, _stats, rows = asyncio.run(
            _drive(spec, key, backend.url, out=out, seed=seed, on_tick=on_tick)
        )
    if out is not None:
        write_metrics_csv(out / "metrics.csv", rows)
        write_truth(out, "retry_storm", "backend", scenario="retry-storm", policy=key.value)
    series = Series(
        offered=recorder.offered,
        ok=recorder.ok,
        failed=recorder.failed,
        attempts=recorder.attempts,
        ok_latency=recorder.ok_latency,
        queue=queue,
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

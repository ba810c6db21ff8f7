"""Live mode smoke tests: real processes on 127.0.0.1, bounded to a few seconds each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.lab import PolicyKey, StormSpec
from faultwise.lab._live_storm import Tick, run_storm_live
from faultwise.lab._procs import Cluster

SMOKE = StormSpec(rate=40.0, workers=2, trigger_at=2.0, trigger_for=2.0, duration=6.0)


@pytest.mark.slow
def test_live_retry_storm_runs_and_writes_telemetry(tmp_path: Path) -> None:
    ticks: list[Tick] = []
    result = run_storm_live(SMOKE, PolicyKey.IMMEDIATE_RETRIES, out=tmp_path, on_tick=ticks.append)
    summary = result.summary
    assert 160 <= summary.requests <= 320  # 40/s open loop for 6 s, Poisson
    assert summary.ok > 0
    assert summary.attempts_per_request >= 1.0
    assert {"pattern": "retry_storm", "component": "backend"} == {
        k: v for k, v in json.loads((tmp_path / "truth.json").read_text()).items()
        if k in ("pattern", "component")
    }  # fmt: skip
    backend_log = (tmp_path / "logs" / "backend.jsonl").read_text().splitlines()
    assert {"timestamp", "severity", "message", "service", "trace_id", "span_id"} <= set(
        json.loads(backend_log[0])
    )
    assert (tmp_path / "spans" / "client.csv").exists()
    assert (tmp_path / "metrics.csv").exists()
    assert {"before", "TRIGGER"} <= {t.phase for t in ticks}


@pytest.mark.slow
def test_live_shedding_server_answers_fast_when_overloaded(tmp_path: Path) -> None:
    result = run_storm_live(SMOKE, PolicyKey.FAULTWISE_FULL, out=tmp_path)
    assert result.summary.ok > 0
    assert result.summary.attempts_per_request <= 1.5


def _start_then_fail(cluster: Cluster, started: list[object]) -> None:
    with cluster:
        service = cluster.start("backend", {"workers": 1})
        started.append(service.process)
        raise RuntimeError(f"boom after starting on port {service.port}")


def test_cluster_stops_its_processes_even_on_error() -> None:
    started: list[object] = []
    with pytest.raises(RuntimeError, match="boom after starting on port"):
        _start_then_fail(Cluster(log_dir=None), started)
    assert [True] == [p.poll() is not None for p in started]  # type: ignore[attr-defined]

"""Live mode: real processes on 127.0.0.1, a few seconds each (``--duration`` short)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from faultwise.lab import PolicyKey, StormSpec
from faultwise.lab._diagnose import diagnose_run
from faultwise.lab._live import LiveOptions, relabel
from faultwise.lab._live_scenarios import run_scenario_live
from faultwise.lab._live_storm import Tick, run_storm_live
from faultwise.lab._procs import Cluster
from faultwise.lab._scenarios import Scenario

SMOKE = StormSpec(rate=40.0, workers=2, trigger_at=2.0, trigger_for=2.0, duration=6.0)
BUILTIN = LiveOptions(rabbitmq=None)


def _json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_live_retry_storm_runs_and_writes_telemetry(tmp_path: Path) -> None:
    ticks: list[Tick] = []
    result = run_storm_live(SMOKE, PolicyKey.IMMEDIATE_RETRIES, out=tmp_path, on_tick=ticks.append)
    summary = result.summary
    assert 160 <= summary.requests <= 320  # 40/s open loop for 6 s, Poisson
    assert summary.ok > 0
    assert summary.attempts_per_request >= 1.0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert ("retry_storm", "backend") == (truth["pattern"], truth["component"])
    access = [r for r in _json_lines(tmp_path / "logs" / "backend.jsonl") if r.get("http.route")]
    assert {"/work"} == {r["http.route"] for r in access}
    assert all(len(str(r["trace_id"])) == 32 for r in access)
    assert (tmp_path / "spans" / "client.csv").exists()
    assert (
        "http_server_request_duration_seconds_bucket{"
        in (tmp_path / "metrics" / "backend.prom").read_text()
    )
    assert {"before", "TRIGGER"} <= {t.phase for t in ticks}


@pytest.mark.slow
def test_live_shedding_server_answers_fast_when_overloaded(tmp_path: Path) -> None:
    result = run_storm_live(SMOKE, PolicyKey.FAULTWISE_FULL, out=tmp_path)
    assert result.summary.ok > 0
    # A storm multiplies attempts by up to 4 (3 retries); the retry budget keeps them well
    # under 2 even when a loaded machine makes more calls time out (1.06 in the simulation).
    assert result.summary.attempts_per_request < 2.0


def test_pool_exhaustion_live_drains_the_pool_and_writes_pool_metrics(tmp_path: Path) -> None:
    result = run_scenario_live(
        Scenario.POOL_EXHAUSTION, defended=False, out=tmp_path,
        options=LiveOptions(rabbitmq=None, duration=5.0),
    )  # fmt: skip
    assert (True, result.headline) == (result.outage, result.headline)
    scraped = (tmp_path / "metrics" / "orders.prom").read_text()
    assert 'db_client_connection_max{job="orders",instance="orders",' in scraped
    errors = [
        r for r in _json_lines(tmp_path / "logs" / "orders.jsonl") if r["severity"] == "ERROR"
    ]
    assert any("could not get a database connection" in str(r["message"]) for r in errors)


def test_race_live_loses_updates(tmp_path: Path) -> None:
    result = run_scenario_live(
        Scenario.RACE, defended=False, out=tmp_path, options=LiveOptions(duration=3.0)
    )
    assert (True, result.headline) == (result.outage, result.headline)
    assert {"inventory-1.jsonl", "inventory-2.jsonl", "db.jsonl"} <= {
        p.name for p in (tmp_path / "logs").iterdir()
    }
    writes = [
        str(r["message"])
        for r in _json_lines(tmp_path / "logs" / "inventory-1.jsonl")
        if r["logger"] == "faultwise.lab.app"
    ]
    assert writes[0].startswith("updated stock sku=sku-7 qty=")  # as the simulation logs it
    verdict = diagnose_run(tmp_path)
    assert ("race_condition", "inventory") == (verdict.pattern, verdict.component)


@pytest.mark.slow
def test_deadlock_live_holds_the_row_until_the_call_times_out(tmp_path: Path) -> None:
    result = run_scenario_live(
        Scenario.DEADLOCK, defended=False, out=tmp_path, options=LiveOptions(duration=4.0)
    )
    assert (True, result.headline) == (result.outage, result.headline)
    waits = [
        r for r in _json_lines(tmp_path / "logs" / "db.jsonl")
        if "still waiting for ShareLock" in str(r["message"])
    ]  # fmt: skip
    assert waits


@pytest.mark.slow
def test_cascading_failure_live_starves_the_catalog_without_timeouts(tmp_path: Path) -> None:
    result = run_scenario_live(
        Scenario.CASCADING_FAILURE, defended=False, out=tmp_path, options=LiveOptions(duration=20.0)
    )
    assert (True, result.headline) == (result.outage, result.headline)


@pytest.mark.slow
def test_config_drift_live_fails_on_the_instance_with_the_small_pool(tmp_path: Path) -> None:
    result = run_scenario_live(
        Scenario.CONFIG_DRIFT, defended=False, out=tmp_path, options=LiveOptions(duration=6.0)
    )
    assert (True, result.headline) == (result.outage, result.headline)
    sizes = {
        p.stem: yaml.safe_load(p.read_text())["db"]["pool_size"]
        for p in sorted((tmp_path / "configs").glob("*.yaml"))
    }
    assert {"payments-1": 20, "payments-2": 20, "payments-3": 2} == sizes


@pytest.mark.slow
def test_silent_failure_live_with_the_builtin_queue_loses_acked_messages(tmp_path: Path) -> None:
    result = run_scenario_live(
        Scenario.SILENT_FAILURE, defended=False, out=tmp_path,
        options=LiveOptions(rabbitmq=None, duration=8.0),
    )  # fmt: skip
    assert (True, result.headline) == (result.outage, result.headline)
    assert any("built-in queue" in note for note in result.notes)


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario", [s for s in Scenario if s is not Scenario.RETRY_STORM], ids=lambda s: s.value
)
def test_with_defenses_the_live_outage_does_not_happen(scenario: Scenario) -> None:
    duration = {Scenario.CASCADING_FAILURE: 12.0, Scenario.SILENT_FAILURE: 8.0}.get(scenario, 5.0)
    result = run_scenario_live(
        scenario, defended=True, options=LiveOptions(rabbitmq=None, duration=duration)
    )
    assert (False, result.headline) == (result.outage, result.headline)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("defended", [False, True])
def test_race_on_postgresql_loses_real_updates_unless_atomic(
    postgres_url: str, defended: bool
) -> None:
    result = run_scenario_live(
        Scenario.RACE, defended=defended, options=LiveOptions(postgres=postgres_url, duration=3.0)
    )
    assert (not defended, result.headline) == (result.outage, result.headline)
    assert any("PostgreSQL" in note for note in result.notes)


@pytest.mark.integration
@pytest.mark.slow
def test_deadlock_on_postgresql_holds_a_real_row_lock(postgres_url: str) -> None:
    result = run_scenario_live(
        Scenario.DEADLOCK, defended=False, options=LiveOptions(postgres=postgres_url, duration=4.0)
    )
    assert (True, result.headline) == (result.outage, result.headline)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("defended", [False, True])
def test_silent_failure_on_rabbitmq_redelivers_only_unacked_messages(
    rabbitmq_url: str, defended: bool
) -> None:
    result = run_scenario_live(
        Scenario.SILENT_FAILURE, defended=defended,
        options=LiveOptions(rabbitmq=rabbitmq_url, duration=8.0),
    )  # fmt: skip
    assert (not defended, result.headline) == (result.outage, result.headline)
    assert any("RabbitMQ at" in note for note in result.notes)


def test_relabel_adds_the_scrape_labels_and_time_to_every_sample() -> None:
    page = (
        "# HELP up Whether it is up.\n# TYPE up gauge\nup 1.0\n"
        'http_server_request_duration_seconds_count{http_route="/work"} 3.0\n'
    )
    assert (
        "# HELP up Whether it is up.\n# TYPE up gauge\n"
        'up{job="orders",instance="orders-1"} 1.0 1700000000000\n'
        'http_server_request_duration_seconds_count{job="orders",instance="orders-1",'
        'http_route="/work"} 3.0 1700000000000\n'
    ) == relabel(page, 'job="orders",instance="orders-1"', 1_700_000_000_000, keep_comments=True)


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

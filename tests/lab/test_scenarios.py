"""Every scenario in simulation: the outage happens without defenses and not with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from faultwise.lab._scenarios import Scenario, run_scenario_sim

DESIGN_PATTERNS = {
    "config_drift", "pool_exhaustion", "memory_leak", "disk_exhaustion", "cpu_saturation",
    "race_condition", "deadlock", "retry_storm", "cascading_failure", "missing_timeout",
    "missing_circuit_breaker", "slow_dependency", "error_burst", "silent_failure",
    "network_delay",
}  # fmt: skip


@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_without_defenses_the_outage_happens(scenario: Scenario) -> None:
    result = run_scenario_sim(scenario, defended=False, seed=1)
    assert (True, result.headline) == (result.outage, result.headline)


@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_with_defenses_the_outage_does_not_happen(scenario: Scenario) -> None:
    result = run_scenario_sim(scenario, defended=True, seed=1)
    assert (False, result.headline) == (result.outage, result.headline)


@pytest.mark.parametrize("scenario", [Scenario.DEADLOCK, Scenario.RACE], ids=lambda s: s.value)
def test_scenarios_are_deterministic_for_a_seed(scenario: Scenario) -> None:
    a = run_scenario_sim(scenario, defended=False, seed=3)
    b = run_scenario_sim(scenario, defended=False, seed=3)
    assert a.metrics == b.metrics


@pytest.mark.parametrize(
    "scenario", [Scenario.DEADLOCK, Scenario.SILENT_FAILURE, Scenario.POOL_EXHAUSTION],
    ids=lambda s: s.value,
)  # fmt: skip
def test_telemetry_and_truth_are_written_in_readable_formats(
    scenario: Scenario, tmp_path: Path
) -> None:
    from faultwise.telemetry import load

    result = run_scenario_sim(scenario, defended=False, seed=1, out=tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert (result.pattern, result.component) == (truth["pattern"], truth["component"])
    assert truth["pattern"] in DESIGN_PATTERNS
    assert (tmp_path / "metrics.csv").stat().st_size > 0
    inputs = sorted((tmp_path / "logs").glob("*.jsonl"))
    if (tmp_path / "spans.csv").read_text().count("\n") > 1:
        inputs.append(tmp_path / "spans.csv")
    store = load(inputs)
    assert 0 == store.summary.rejected
    services = {row[0] for row in store.query("SELECT DISTINCT service FROM logs")}
    assert truth["component"] in services


def test_config_drift_writes_one_config_per_instance(tmp_path: Path) -> None:
    run_scenario_sim(Scenario.CONFIG_DRIFT, defended=False, seed=1, out=tmp_path)
    sizes = {
        p.stem: yaml.safe_load(p.read_text())["db"]["pool_size"]
        for p in sorted((tmp_path / "configs").glob("*.yaml"))
    }
    assert {"payments-1": 20, "payments-2": 20, "payments-3": 2} == sizes

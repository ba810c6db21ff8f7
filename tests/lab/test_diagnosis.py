"""The lab diagnoses its own telemetry: every scenario's outage, named by the analyser."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultwise.lab._diagnose import Verdict, diagnose_run, telemetry_paths
from faultwise.lab._scenarios import Scenario, run_scenario_sim

# Scenarios whose outage the analyser does not name yet, and why (the lab's telemetry is what
# the live services write; these are the analyser's cases to take up).
MISSED: dict[Scenario, str] = {}


def _expectation(scenario: Scenario) -> object:
    reason = MISSED.get(scenario)
    if reason is None:
        return scenario
    return pytest.param(scenario, marks=pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[Scenario, Verdict]:
    found = {}
    for scenario in Scenario:
        out = tmp_path_factory.mktemp(scenario.value)
        run_scenario_sim(scenario, defended=False, seed=1, out=out)
        found[scenario] = diagnose_run(out)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [_expectation(s) for s in Scenario], ids=lambda s: s.value)
def test_the_diagnosis_of_the_outage_names_the_truth(
    scenario: Scenario, verdicts: dict[Scenario, Verdict]
) -> None:
    verdict = verdicts[scenario]
    assert (True, verdict.truth_pattern, verdict.truth_component) == (
        verdict.available,
        verdict.pattern,
        verdict.component,
    )


def test_the_diagnosis_reads_no_truth_and_no_stderr(tmp_path: Path) -> None:
    (tmp_path / "truth.json").write_text("{}")
    (tmp_path / "spans.csv").write_text("")
    (tmp_path / "stderr").mkdir()
    (tmp_path / "logs").mkdir()
    assert [str(tmp_path / "logs"), str(tmp_path / "spans.csv")] == telemetry_paths(tmp_path)


def test_a_defended_run_has_no_truth_to_find() -> None:
    verdict = Verdict(True, "race_condition", "inventory", defended=True)
    assert (None, "diagnosis: no root cause (defenses on: no outage to find)") == (
        verdict.found_truth,
        verdict.describe(),
    )

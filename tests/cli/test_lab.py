"""``faultwise lab``: list, run a scenario, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import main


def test_lab_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert 0 == main(["lab", "list"])
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert [
        "retry-storm", "cascading-failure", "pool-exhaustion", "config-drift", "deadlock",
        "race", "silent-failure",
    ] == names  # fmt: skip


def test_lab_run_prints_both_sides_as_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert 0 == main(["lab", "run", "race", "--json", "--out", str(tmp_path)])
    doc = json.loads(capsys.readouterr().out)
    assert [(False, True), (True, False)] == [(r["defended"], r["outage"]) for r in doc["runs"]]
    assert {"pattern": "race_condition", "component": "inventory"} == doc["runs"][0]["truth"]
    assert (tmp_path / "without" / "truth.json").exists()
    assert (tmp_path / "with" / "truth.json").exists()


def test_lab_run_one_side_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert 0 == main(["lab", "run", "silent-failure", "--only", "without", "--json"])
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(False, True)] == [(r["defended"], r["outage"]) for r in runs]


def test_live_options_in_sim_mode_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert 2 == main(["lab", "run", "deadlock", "--postgres", "postgresql://x@127.0.0.1/db"])
    assert "--mode live" in capsys.readouterr().err


def test_a_live_duration_out_of_bounds_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert 2 == main(["lab", "run", "race", "--mode", "live", "--duration", "9999"])
    assert "--duration must be within 2..600 s" in capsys.readouterr().err


def test_unknown_scenario_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lab", "run", "meltdown"])
    assert 2 == exc.value.code

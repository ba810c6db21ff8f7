"""``faultwise demo``: no servers, no flags; the storm happens without defenses only, and the
run ends with the diagnosis, its HTML report and the headline numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import main


@pytest.mark.slow
def test_demo_shows_the_storm_the_defenses_stopping_it_and_the_diagnosis(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert 0 == main(["demo", "--json", "--out", str(tmp_path)])
    doc = json.loads(capsys.readouterr().out)
    without, with_defenses = doc["runs"]
    assert ("immediate_retries", None) == (without["policy"], without["recovery_s"])
    # stuck: never back to 90 % (recovery_s None), far below the defended run's goodput
    assert without["goodput_after"] < 0.5
    assert "faultwise_full" == with_defenses["policy"]
    assert with_defenses["goodput_after"] > 0.8
    assert with_defenses["attempts_per_request"] < 1.5
    assert {"pattern": "retry_storm", "component": "backend"} == doc["diagnosis"]["truth"]
    assert doc["diagnosis"]["available"]
    assert Path(doc["report"]).read_text().lower().startswith("<!doctype html>")
    assert Path(doc["comparison"]).read_text().startswith("<!doctype html>")
    assert "without defenses: " in doc["headline"]
    assert "scaled" in doc["note"]


@pytest.mark.slow
def test_demo_in_the_terminal_prints_the_numbers_and_the_reports_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert 0 == main(["demo", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'report.html'}" in out.replace("\n", "")
    assert "attempts per request" in out
    assert "diagnosis: " in out
    # the command it prints for diagnosing by hand finds the same storm
    lines = [x for x in out.splitlines() if x.startswith("diagnose it yourself: ")]
    args = lines[0].removeprefix("diagnose it yourself: ").split()
    assert ["faultwise", "diagnose"] == args[:2]
    assert 1 == main([*args[1:], "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert ("retry_storm", 0) == (doc["root_cause"]["pattern"], doc["inputs"]["rejected"])

"""``faultwise demo``: no servers, no flags; the storm happens without defenses only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import main


@pytest.mark.slow
def test_demo_shows_the_storm_and_the_defenses_stopping_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert 0 == main(["demo", "--json", "--out", str(tmp_path)])
    doc = json.loads(capsys.readouterr().out)
    without, with_defenses = doc["runs"]
    assert ("immediate_retries", None) == (without["policy"], without["recovery_s"])
    assert without["goodput_after"] < 0.2
    assert "faultwise_full" == with_defenses["policy"]
    assert with_defenses["goodput_after"] > 0.8
    assert with_defenses["attempts_per_request"] < 1.5
    assert Path(doc["report"]).read_text().startswith("<!doctype html>")
    assert "scaled" in doc["note"]

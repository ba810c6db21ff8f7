"""Every golden incident: the right component ranked first, with the right pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultwise.diagnose import diagnose, load_incident, to_json

from .conftest import golden_incident
from .incidents import GOLDEN


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_incident_ranks_the_injected_component_first_with_its_pattern(
    golden_root: Path, name: str
) -> None:
    folder, expected = golden_incident(golden_root, name)
    with load_incident([str(folder)]) as store:
        result = diagnose(store)
    assert result.root_cause is not None
    assert (expected.component, expected.pattern) == (
        result.root_cause.component,
        result.root_cause.pattern.value,
    )
    assert expected.component == result.ranking[0].component
    doc = to_json(result)
    assert ["root_cause", "ranking", "findings", "timeline", "inputs"] == list(doc)
    top = doc["findings"][0]
    assert ["pattern", "component", "start", "end", "score", "summary", "evidence", "action"] == (
        list(top)
    )
    assert top["evidence"], "a finding always carries evidence"


def test_the_deadlock_evidence_rebuilds_the_wait_for_cycles(golden_root: Path) -> None:
    """PostgreSQL's DETAIL lines are attributes of their ERROR record: the cycles are read
    from there."""
    folder, _ = golden_incident(golden_root, "deadlock")
    with load_incident([str(folder)]) as store:
        top = to_json(diagnose(store))["findings"][0]
    texts = [e["text"] for e in top["evidence"]]
    assert any("193 wait-for cycles" in t for t in texts), texts
    assert "wait-for cycle in postgres: process 4100 -> 4101 -> 4100" in texts


def test_a_real_postgresql_deadlock_log_shows_its_cycle() -> None:
    log = Path(__file__).resolve().parents[1] / "telemetry" / "data" / "postgresql-15.log"
    with load_incident([str(log)]) as store:
        findings = to_json(diagnose(store))["findings"]
    (deadlock,) = [f for f in findings if f["pattern"] == "deadlock"]
    texts = [e["text"] for e in deadlock["evidence"]]
    assert any(t.startswith("wait-for cycle in ") for t in texts), texts

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

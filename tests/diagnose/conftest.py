"""Golden incident folders, written once per test session by the generators in incidents.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .incidents import GOLDEN, Expected


@pytest.fixture(scope="session")
def golden_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("golden")


def golden_incident(root: Path, name: str) -> tuple[Path, Expected]:
    """The folder of the golden incident ``name`` (written on first use) and its answer."""
    folder = root / name
    answer = root / f"{name}.expected.json"
    if not answer.exists():
        expected = GOLDEN[name](folder)
        answer.write_text(
            json.dumps({"component": expected.component, "pattern": expected.pattern})
        )
    data = json.loads(answer.read_text())
    return folder, Expected(data["component"], data["pattern"])

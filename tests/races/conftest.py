"""Fixtures for the race detector's tests: pytester, and the example modules."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).parent / "examples"


@pytest.fixture
def examples_on_path() -> Iterator[Path]:
    """The examples directory on ``sys.path``; example modules are forgotten afterwards."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield EXAMPLES
    finally:
        sys.path.remove(str(EXAMPLES))
        for name in [n for n in sys.modules if n.startswith("race_")]:
            del sys.modules[name]

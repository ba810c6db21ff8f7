"""Fixtures for the race detector's tests: pytester, and the example modules."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Imported here, once: pytester's in-process runs drop the modules a run imported, and a second
# copy of the detector's modules would not share its state with the first.
import faultwise.races._session  # noqa: F401

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

"""Fixtures for the race detector's tests: pytester, and the example modules."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Imported here, once: pytester's in-process runs drop the modules a run imported, and a second
# copy of the detector's modules would not share its state with the first.
import faultwise.races._session  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    # pytester, enabled here: ``pytest_plugins`` is only allowed in the top-level conftest
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


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


@pytest.fixture
def load_module(tmp_path: Path) -> Iterator[Callable[[str, str], ModuleType]]:
    """Write a module into ``tmp_path`` and import it (under a running detector, instrumented)."""
    names: list[str] = []
    sys.path.insert(0, str(tmp_path))

    def load(name: str, source: str) -> ModuleType:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return importlib.import_module(name)

    try:
        yield load
    finally:
        sys.path.remove(str(tmp_path))
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture
def pytester_ini(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory whose ini settles pytest-asyncio (warnings are errors here)."""
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    return pytester

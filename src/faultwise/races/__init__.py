"""Race and deadlock detection for Python test suites: ``pytest --races``.

Instrumented at import (like pytest's assertion rewriting), the code under test reports
unsynchronised accesses to shared state by happens-before (vector clocks, FastTrack) or by
lockset (Eraser), asyncio read-modify-writes that span an await, lock-order inversions
(lockdep) and hangs. Outside pytest::

    from faultwise.races import detect_races, render_text

    with detect_races(roots=["src"]) as detector:
        import myapp.jobs
        myapp.jobs.run_all()
    print(render_text(detector.report()))

The names below load on first use, so that the pytest plugin (imported into every pytest run)
costs nothing until ``--races`` is given.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultwise.races._config import Mode, RacesConfig, load_config
    from faultwise.races._detector import RaceDetector, detect_races
    from faultwise.races._model import (
        Access,
        Finding,
        Frame,
        Hang,
        Kind,
        Location,
        LockEdge,
        LockOrderCycle,
        Race,
        Report,
        ThreadDump,
    )
    from faultwise.races._render import render_text

__all__ = [
    "Access",
    "Finding",
    "Frame",
    "Hang",
    "Kind",
    "Location",
    "LockEdge",
    "LockOrderCycle",
    "Mode",
    "Race",
    "RaceDetector",
    "RacesConfig",
    "Report",
    "ThreadDump",
    "detect_races",
    "load_config",
    "render_text",
]

_HOMES = {
    "Mode": "_config",
    "RacesConfig": "_config",
    "load_config": "_config",
    "RaceDetector": "_detector",
    "detect_races": "_detector",
    "render_text": "_render",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"faultwise.races.{_HOMES.get(name, '_model')}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

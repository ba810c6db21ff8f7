"""The pytest plugin: ``pytest --races``.

Loaded into every pytest run through the ``pytest11`` entry point, so without ``--races`` it
only declares its options: no import hook, no patching, no other import. With ``--races`` it
registers :class:`faultwise.races._session.RacesSession` before the first conftest is
imported, so conftests, test modules and the code they import are all instrumented.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("faultwise-races", "race and deadlock detection (faultwise)")
    group.addoption(
        "--races",
        action="store_true",
        default=False,
        help="detect data races, async read-modify-write races, lock-order inversions and "
        "hangs in the code under test; fail the run when one is found",
    )
    group.addoption(
        "--races-mode",
        choices=("hb", "lockset"),
        default=None,
        help="hb: happens-before with vector clocks (default); lockset: Eraser's lockset",
    )
    group.addoption("--races-json", metavar="FILE", default=None, help="write findings as JSON")
    group.addoption(
        "--races-report-only",
        action="store_true",
        default=None,
        help="report findings without failing the run",
    )
    group.addoption(
        "--races-include",
        action="append",
        default=[],
        metavar="GLOB",
        help="also instrument modules whose name matches (repeatable)",
    )
    group.addoption(
        "--races-exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="do not instrument modules whose name matches (repeatable)",
    )
    group.addoption(
        "--races-hang-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="report threads that all wait for longer than this (0: off; default 10)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    if not getattr(early_config.known_args_namespace, "races", False):
        return
    from faultwise.races._session import RacesSession

    session = RacesSession(early_config)
    early_config.pluginmanager.register(session, "faultwise-races-session")
    session.start()

"""Without ``--races`` the plugin does nothing: no import hook, no patching, no heavy import."""

from __future__ import annotations

import importlib.metadata
import json
import queue
import subprocess
import sys
import threading

import pytest


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert "faultwise.races.plugin" == {p.name: p.value for p in points}["faultwise_races"]


def test_importing_the_plugin_loads_no_detector_module() -> None:
    code = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        "import faultwise.races.plugin\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('faultwise.races')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "['faultwise.races', 'faultwise.races.plugin']" == out.stdout.strip()


def patch_state() -> list[int]:
    """Identities of what the detector patches, and how many of its finders are installed."""
    return [
        id(threading.Lock),
        id(threading.Thread.start),
        id(queue.Queue.put),
        sum("faultwise" in type(f).__module__ for f in sys.meta_path),
    ]


INSIDE = f"""
import json, os
from {__name__} import patch_state

def test_record_state():
    with open(os.environ["FAULTWISE_STATE"], "w") as f:
        json.dump(patch_state(), f)
"""


def test_a_run_without_races_patches_and_hooks_nothing(
    pytester_ini: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # compared with the state outside (itself patched when this suite runs under --races)
    state = pytester_ini.path / "state.json"
    monkeypatch.setenv("FAULTWISE_STATE", str(state))
    pytester_ini.makepyfile(test_inside=INSIDE)
    result = pytester_ini.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
    assert patch_state() == json.loads(state.read_text())
    assert "faultwise races" not in result.stdout.str()


def test_a_run_with_races_restores_everything_afterwards(pytester_ini: pytest.Pytester) -> None:
    before = patch_state()
    pytester_ini.makepyfile(test_inside="def test_ok():\n    assert True\n")
    result = pytester_ini.runpytest("--races", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert before == patch_state()
    result.stdout.fnmatch_lines(["*faultwise races: 0 findings*"])

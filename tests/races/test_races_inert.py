"""Without ``--races`` the plugin does nothing: no import hook, no patching, no heavy import."""

from __future__ import annotations

import importlib.metadata
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


INSIDE = """
import _thread, queue, sys, threading

def test_nothing_is_patched_or_hooked():
    assert threading.Lock is _thread.allocate_lock
    assert threading.Thread.start.__module__ == "threading"
    assert queue.Queue.put.__module__ == "queue"
    assert not [f for f in sys.meta_path if "faultwise" in type(f).__module__]
"""


def test_a_run_without_races_is_untouched(pytester_ini: pytest.Pytester) -> None:
    pytester = pytester_ini
    pytester.makepyfile(test_inside=INSIDE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
    assert "faultwise races" not in result.stdout.str()


def test_a_run_with_races_restores_everything_afterwards(pytester_ini: pytest.Pytester) -> None:
    start, lock, put = threading.Thread.start, threading.Lock, __import__("queue").Queue.put
    pytester = pytester_ini
    pytester.makepyfile(test_inside="def test_ok():\n    assert True\n")
    result = pytester.runpytest("--races", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert (start, lock, put) == (
        threading.Thread.start,
        threading.Lock,
        __import__("queue").Queue.put,
    )
    assert not [f for f in sys.meta_path if "faultwise" in type(f).__module__]
    result.stdout.fnmatch_lines(["*faultwise races: 0 findings*"])

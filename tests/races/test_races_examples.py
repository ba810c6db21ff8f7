"""Each example runs through ``pytest --races`` (pytester): found, and its fixed twin not."""

from __future__ import annotations

import _thread
import json
import threading
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parent / "examples"


def run_races(
    pytester: pytest.Pytester, module: str, tests: str, *args: str
) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    """Copy an example next to a test file, run ``pytest --races`` on it, return the findings."""
    pytester.path.joinpath(f"{module}.py").write_text((EXAMPLES / f"{module}.py").read_text())
    pytester.makepyfile(test_example=tests)
    out = Path(pytester.path / "races.json")
    result = pytester.runpytest("--races", f"--races-json={out}", "-p", "no:cacheprovider", *args)
    return result, json.loads(out.read_text())["findings"]


def summary(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(f["kind"], f.get("location", {}).get("text", "")) for f in findings})


SEED = """
import race_counter

def test_racy():
    assert race_counter.racy() == 1600
"""


def test_seed_count_race_is_reported_and_fails_a_passing_run(pytester_ini: pytest.Pytester) -> None:
    result, findings = run_races(pytester_ini, "race_counter", SEED)
    result.assert_outcomes(passed=1)
    assert pytest.ExitCode.TESTS_FAILED == result.ret
    assert [("data-race", "race_counter.count")] == summary(findings)
    race = findings[0]
    assert "test_example.py::test_racy" == race["test"]
    assert {"_add"} == {
        race["current"]["stack"][0]["function"],
        race["previous"]["stack"][0]["function"],
    }
    assert race["current"]["thread"] != race["previous"]["thread"]
    result.stdout.fnmatch_lines(["*faultwise races*", "DATA RACE on global race_counter.count"])


def test_seed_twins_with_a_lock_a_queue_or_per_thread_state_are_not_reported(
    pytester_ini: pytest.Pytester,
) -> None:
    tests = """
import race_counter

def test_lock():
    assert race_counter.with_lock() == 1600

def test_queue():
    assert race_counter.with_queue() == 1600

def test_per_thread():
    assert race_counter.per_thread() == 1600
"""
    result, findings = run_races(pytester_ini, "race_counter", tests)
    result.assert_outcomes(passed=3)
    assert [] == findings
    assert pytest.ExitCode.OK == result.ret


def test_report_only_keeps_the_exit_code(pytester_ini: pytest.Pytester) -> None:
    result, findings = run_races(pytester_ini, "race_counter", SEED, "--races-report-only")
    assert pytest.ExitCode.OK == result.ret
    assert [("data-race", "race_counter.count")] == summary(findings)


def test_check_then_act_cache_filled_from_a_thread_pool_is_reported(
    pytester_ini: pytest.Pytester,
) -> None:
    tests = """
import race_cache

def test_fill():
    assert race_cache.fill() == [0, 1, 4, 9] * 25
"""
    _, findings = run_races(pytester_ini, "race_cache", tests)
    assert {"data-race"} == {f["kind"] for f in findings}
    assert {"race_cache.cache"} == {f["location"]["owner"] for f in findings}
    lines = {f["current"]["stack"][0]["line"] for f in findings} | {
        f["previous"]["stack"][0]["line"] for f in findings
    }
    assert 19 in lines  # the store after the check


def test_cache_filled_under_a_lock_is_not_reported(pytester_ini: pytest.Pytester) -> None:
    tests = """
import race_cache

def test_fill():
    assert race_cache.fill("lookup_locked") == [0, 1, 4, 9] * 25
    assert sorted(race_cache.computed) == [0, 1, 2, 3]
"""
    result, findings = run_races(pytester_ini, "race_cache", tests)
    result.assert_outcomes(passed=1)
    assert [] == findings


def test_lost_update_on_an_attribute_is_reported_and_the_locked_twin_is_not(
    pytester_ini: pytest.Pytester,
) -> None:
    tests = """
import race_account

def test_racy():
    race_account.run()

def test_locked():
    assert race_account.run(locked=True) == 400
"""
    _, findings = run_races(pytester_ini, "race_account", tests)
    assert [("data-race", "race_account.Account.balance")] == summary(findings)
    assert {"test_example.py::test_racy"} == {f["test"] for f in findings}


def test_async_read_modify_write_across_an_await_is_reported(pytester_ini: pytest.Pytester) -> None:
    tests = """
import race_async

async def test_racy():
    await race_async.run("incr")
"""
    _, findings = run_races(pytester_ini, "race_async", tests)
    assert [("async-race", "race_async.Counter.value")] == summary(findings)
    race = findings[0]
    assert "read" == race["previous"]["op"]
    assert "current = self.value" == race["previous"]["stack"][0]["source"]
    assert "self.value = current + 1" == race["current"]["stack"][0]["source"]
    assert race["other"]["thread"] != race["current"]["thread"]


def test_async_twins_with_a_lock_or_without_an_await_are_not_reported(
    pytester_ini: pytest.Pytester,
) -> None:
    tests = """
import race_async

async def test_locked():
    assert await race_async.run("incr_locked") == 10

async def test_atomic():
    assert await race_async.run("incr_atomic") == 10
"""
    result, findings = run_races(pytester_ini, "race_async", tests)
    result.assert_outcomes(passed=2)
    assert [] == findings


def test_abba_lock_order_inversion_is_reported_without_deadlocking(
    pytester_ini: pytest.Pytester,
) -> None:
    tests = """
import race_locks

def test_abba():
    race_locks.run()
"""
    result, findings = run_races(pytester_ini, "race_locks", tests)
    result.assert_outcomes(passed=1)
    assert ["lock-order-inversion"] == [f["kind"] for f in findings]
    edges = findings[0]["edges"]
    assert 2 == len(edges)
    assert {"with a, b:", "with b, a:"} == {e["acquire_stack"][0]["source"] for e in edges}
    result.stdout.fnmatch_lines(["LOCK-ORDER INVERSION (potential deadlock)"])


def test_locks_taken_in_one_order_are_not_reported(pytester_ini: pytest.Pytester) -> None:
    tests = """
import race_locks

def test_same_order():
    race_locks.run(fixed=True)
"""
    _, findings = run_races(pytester_ini, "race_locks", tests)
    assert [] == findings


def test_watchdog_reports_a_real_deadlock_with_every_stack(pytester_ini: pytest.Pytester) -> None:
    tests = """
import race_locks

def test_deadlock():
    assert race_locks.deadlock(timeout=1.5) == [False, False]
"""
    _, findings = run_races(pytester_ini, "race_locks", tests, "--races-hang-timeout", "0.3")
    hangs = [f for f in findings if f["kind"] == "hang"]
    assert 1 == len(hangs)
    waiting = {t["name"]: t["waiting_for"] for t in hangs[0]["threads"]}
    assert {"holds-a", "holds-b"} <= waiting.keys()
    assert waiting["holds-a"].startswith("Lock#")
    assert {"lock-order-inversion", "hang"} == {f["kind"] for f in findings}


def test_comment_suppresses_a_race_on_its_line(pytester_ini: pytest.Pytester) -> None:
    pytester_ini.makepyfile(
        shared="""
import threading
hits = 0

def bump():
    global hits
    for _ in range(50):
        hits += 1  # faultwise: ignore-race

def run():
    ts = [threading.Thread(target=bump) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
"""
    )
    tests = "import shared\n\ndef test_it():\n    shared.run()\n"
    result, findings = run_races(pytester_ini, "race_counter", tests)
    assert [] == findings
    assert pytest.ExitCode.OK == result.ret


def test_config_ignore_suppresses_a_location(pytester_ini: pytest.Pytester) -> None:
    pytester_ini.makepyprojecttoml('[tool.faultwise.races]\nignore = ["race_counter.count"]\n')
    result, findings = run_races(pytester_ini, "race_counter", SEED)
    assert [] == findings
    assert pytest.ExitCode.OK == result.ret
    data = json.loads((pytester_ini.path / "races.json").read_text())
    assert data["suppressed"] >= 1


LOCKSET_TESTS = """
import race_account

def test_racy():
    race_account.run()

def test_locked():
    race_account.run(locked=True)
"""


def test_lockset_mode_reports_an_attribute_written_without_a_common_lock(
    pytester_ini: pytest.Pytester,
) -> None:
    _, findings = run_races(pytester_ini, "race_account", LOCKSET_TESTS, "--races-mode", "lockset")
    assert [("lockset-violation", "race_account.Account.balance")] == summary(findings)
    assert {"test_example.py::test_racy"} == {f["test"] for f in findings}


def test_lockset_findings_are_the_same_while_an_earlier_tests_thread_still_runs(
    pytester_ini: pytest.Pytester,
) -> None:
    # a thread some earlier test left running keeps the recorders on for the whole run
    gate = _thread.allocate_lock()
    gate.acquire()
    stray = threading.Thread(target=gate.acquire, name="left-running", daemon=True)
    stray.start()
    try:
        _, findings = run_races(
            pytester_ini, "race_account", LOCKSET_TESTS, "--races-mode", "lockset"
        )
    finally:
        gate.release()
        stray.join(5)
    assert [("lockset-violation", "race_account.Account.balance")] == summary(findings)
    assert {"test_example.py::test_racy"} == {f["test"] for f in findings}

"""Bad or partial input still gives the best diagnosis the evidence allows, and says what
was missing."""

from __future__ import annotations

import shutil
from pathlib import Path

from faultwise.diagnose import Diagnosis, diagnose, load_incident

from .conftest import golden_incident


def _diagnose(*paths: Path) -> Diagnosis:
    with load_incident([str(p) for p in paths]) as store:
        return diagnose(store)


def _cause(result: Diagnosis) -> tuple[str, str] | None:
    cause = result.root_cause
    return (cause.component, cause.pattern.value) if cause else None


def test_logs_only_still_find_the_slow_service_from_logged_durations(
    golden_root: Path, tmp_path: Path
) -> None:
    folder, expected = golden_incident(golden_root, "slow_dependency")
    shutil.copytree(folder / "logs", tmp_path / "logs")
    result = _diagnose(tmp_path)
    assert (expected.component, "slow_dependency") == _cause(result)
    assert "no spans: the dependency graph comes from logs and latency is not measured" in (
        result.inputs.missing
    )


def test_metrics_and_events_only_still_find_the_memory_leak(
    golden_root: Path, tmp_path: Path
) -> None:
    folder, expected = golden_incident(golden_root, "memory_leak")
    shutil.copytree(folder / "metrics", tmp_path / "metrics")
    shutil.copy(folder / "events.json", tmp_path)
    result = _diagnose(tmp_path)
    assert (expected.component, expected.pattern) == _cause(result)
    assert any(m.startswith("no spans") for m in result.inputs.missing)


def test_one_service_alone_is_diagnosed_and_the_missing_graph_is_named(
    golden_root: Path, tmp_path: Path
) -> None:
    folder, _ = golden_incident(golden_root, "error_burst")
    for log in (folder / "logs").glob("payments*"):
        shutil.copy(log, tmp_path)
    result = _diagnose(tmp_path)
    assert ("payments", "error_burst") == _cause(result)
    assert ("payments",) == result.inputs.services
    assert (
        "only one service: no dependency graph, so a cause cannot be told from its callers"
        in result.inputs.missing
    )


def test_a_file_without_timestamps_is_used_and_named(golden_root: Path, tmp_path: Path) -> None:
    folder, expected = golden_incident(golden_root, "pool_exhaustion")
    shutil.copytree(folder, tmp_path / "incident")
    crash = tmp_path / "incident" / "logs" / "checkout-stderr.txt"
    crash.write_text(
        'Exception in thread "main" java.lang.IllegalStateException: HikariPool-1 - '
        "Connection is not available, request timed out after 30000ms.\n"
        "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)\n"
    )
    result = _diagnose(tmp_path / "incident")
    assert (expected.component, expected.pattern) == _cause(result)
    untimed = [m for m in result.inputs.missing if m.startswith("checkout-stderr.txt")]
    assert ["checkout-stderr.txt: 2 lines without timestamps (used as evidence, not timed)"] == (
        untimed
    )


def test_nothing_readable_gives_no_root_cause_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_text("")
    result = _diagnose(tmp_path)
    assert result.root_cause is None
    assert () == result.ranking
    assert "no service found in the inputs: nothing to rank" in result.inputs.missing
    assert "no logs: no error templates, no log evidence" in result.inputs.missing


def test_unreadable_lines_are_counted_and_reported(golden_root: Path, tmp_path: Path) -> None:
    folder, expected = golden_incident(golden_root, "error_burst")
    shutil.copytree(folder, tmp_path / "incident")
    bad = tmp_path / "incident" / "logs" / "broken.jsonl"
    bad.write_text('{"ts": "2026-03-04T09:00:00Z", "msg": "ok"}\n{"ts": oops\n{"msg": 1\n')
    result = _diagnose(tmp_path / "incident")
    assert (expected.component, expected.pattern) == _cause(result)
    assert 2 == result.inputs.rejected
    assert "2 input lines could not be read (--show-rejects)" in result.inputs.warnings

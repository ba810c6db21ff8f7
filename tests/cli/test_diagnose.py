"""``faultwise diagnose`` end to end: JSON, Markdown, terminal, exit codes, bad input."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from faultwise.cli import ExitCode, main

_GENERATORS = Path(__file__).parents[1] / "diagnose" / "incidents.py"


def _incidents() -> ModuleType:
    spec = importlib.util.spec_from_file_location("golden_incidents", _GENERATORS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pool_incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("incident") / "pool"
    _incidents().pool_exhaustion(folder)
    return folder


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diagnose", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_names_the_root_cause_in_the_design_shape(
    capsys: pytest.CaptureFixture[str], pool_incident: Path
) -> None:
    code, out, _ = run(capsys, "--json", str(pool_incident))
    doc = json.loads(out)
    assert ExitCode.FOUND == code
    assert ["root_cause", "ranking", "findings", "timeline", "inputs"] == list(doc)
    assert {"component": "checkout", "pattern": "pool_exhaustion"} == {
        k: doc["root_cause"][k] for k in ("component", "pattern")
    }
    assert "checkout" == doc["ranking"][0]["component"]
    assert ["component", "score"] == list(doc["ranking"][0])
    scores = [r["score"] for r in doc["ranking"]]
    assert sorted(scores, reverse=True) == scores
    evidence = doc["findings"][0]["evidence"]
    assert all(set(e) == {"kind", "text", "source", "value"} for e in evidence)


def test_markdown_and_terminal_lead_with_the_root_cause_and_the_action(
    capsys: pytest.CaptureFixture[str], pool_incident: Path
) -> None:
    code, md, _ = run(capsys, "--markdown", str(pool_incident))
    assert ExitCode.FOUND == code
    assert md.startswith("# Incident diagnosis\n\n**Root cause: checkout (pool_exhaustion")
    assert "**Action:** Return every connection" in md
    code, text, _ = run(capsys, str(pool_incident))
    assert ExitCode.FOUND == code
    assert text.startswith("Root cause: checkout (pool_exhaustion")


def test_a_missing_path_is_a_one_line_error_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, str(tmp_path / "nope"))
    assert ExitCode.USAGE == code
    assert "" == out
    assert 1 == len(err.strip().splitlines())
    assert "no such file or directory" in err


def test_a_bad_baseline_window_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], pool_incident: Path
) -> None:
    code, _, err = run(capsys, "--baseline-window", "yesterday", str(pool_incident))
    assert ExitCode.USAGE == code
    assert "faultwise: error: --baseline-window takes START..END, got 'yesterday'\n" == err


def test_html_report_is_written_next_to_the_json(
    capsys: pytest.CaptureFixture[str], pool_incident: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    code, out, _ = run(capsys, "--json", "--html", str(page), str(pool_incident))
    assert ExitCode.FOUND == code
    assert "checkout" == json.loads(out)["root_cause"]["component"]
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_a_baseline_window_of_the_same_data_is_used_and_reported(
    capsys: pytest.CaptureFixture[str], pool_incident: Path
) -> None:
    code, out, _ = run(capsys, "--json", "--baseline-window", "09:00..09:02", str(pool_incident))
    doc = json.loads(out)
    assert ExitCode.FOUND == code
    assert "checkout" == doc["root_cause"]["component"]
    assert {
        "kind": "window",
        "window": {
            "start": "2026-03-04T09:00:00.000000000Z",
            "end": "2026-03-04T09:02:00.000000000Z",
        },
        "detail": "the given window of the same data",
    } == doc["inputs"]["baseline"]


def test_baseline_files_are_compared_with_the_incident(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    incidents = _incidents()
    incident, normal = tmp_path / "incident", tmp_path / "normal"
    incidents.slow_dependency(incident)
    incidents.healthy(normal)
    code, out, _ = run(capsys, "--json", str(incident), "--baseline", str(normal))
    doc = json.loads(out)
    assert ExitCode.FOUND == code
    assert ("inventory", "slow_dependency") == (
        doc["root_cause"]["component"],
        doc["root_cause"]["pattern"],
    )
    assert "files" == doc["inputs"]["baseline"]["kind"]


def test_rejected_lines_are_listed_with_file_and_line_on_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "api.jsonl"
    log.write_text(
        '{"ts": "2026-03-04T09:00:00Z", "level": "error", "msg": "boom", "service": "api"}\n'
        "{not json\n"
    )
    code, out, _ = run(capsys, "--show-rejects", str(tmp_path))
    assert code in (ExitCode.OK, ExitCode.FOUND)
    assert f"rejected {log}:2: not a JSON object" in out


def test_a_report_saved_into_the_incident_is_not_taken_for_its_telemetry(
    capsys: pytest.CaptureFixture[str], pool_incident: Path, tmp_path: Path
) -> None:
    incident = tmp_path / "incident"
    shutil.copytree(pool_incident, incident)
    code, _, _ = run(capsys, "--html", str(incident / "report.html"), str(incident))
    assert ExitCode.FOUND == code
    code, out, _ = run(capsys, "--json", str(incident))  # diagnosed again, report included
    doc = json.loads(out)
    assert "checkout" == doc["root_cause"]["component"]
    assert "web pages, not telemetry, not read: report.html" in doc["inputs"]["warnings"]

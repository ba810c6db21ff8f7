"""``faultwise lint``: exit codes, formats, rule listing and configuration from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import ExitCode, main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("import requests\nrequests.get('u')\n", encoding="utf-8")
    (tmp_path / "clean.py").write_text(
        "import requests\nrequests.get('u', timeout=3)\n", encoding="utf-8"
    )
    return tmp_path


def test_findings_exit_one_with_file_line_col(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ExitCode.FOUND == main(["lint", "app.py"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("app.py:2:1: FW101 requests.get() without timeout: ")
    assert out[1].startswith("    fix: pass timeout=")


def test_clean_code_exits_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ExitCode.OK == main(["lint", "clean.py"])
    assert "0 findings in 1 file (2 lines)\n" == capsys.readouterr().out


def test_json_output_lists_findings_and_summary(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ExitCode.FOUND == main(["lint", "--json", "."])
    doc = json.loads(capsys.readouterr().out)
    assert (["FW101"], {"FW101": 1}, 2) == (
        [f["rule"] for f in doc["findings"]],
        doc["summary"]["by_rule"],
        doc["summary"]["files"],
    )


def test_sarif_output_to_a_file(project: Path) -> None:
    assert ExitCode.FOUND == main(["lint", "--format", "sarif", "-o", "out.sarif", "."])
    log = json.loads((project / "out.sarif").read_text(encoding="utf-8"))
    assert ("2.1.0", ["FW101"]) == (
        log["version"],
        [r["ruleId"] for r in log["runs"][0]["results"]],
    )


def test_select_ignore_and_exit_zero(project: Path) -> None:
    assert ExitCode.OK == main(["lint", "--select", "FW17", "app.py"])
    assert ExitCode.OK == main(["lint", "--ignore", "FW101", "app.py"])
    assert ExitCode.OK == main(["lint", "--exit-zero", "app.py"])


def test_unparsable_file_is_reported_and_exits_two(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "broken.py").write_text("def f(:\n", encoding="utf-8")
    assert ExitCode.USAGE == main(["lint", "--format", "concise", "."])
    out = capsys.readouterr().out
    assert "broken.py:1:7: error: syntax error: " in out
    assert "1 file(s) could not be linted" in out


def test_unknown_rule_and_missing_path_are_one_line_usage_errors(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ExitCode.USAGE == main(["lint", "--select", "FW999", "."])
    assert ExitCode.USAGE == main(["lint", "missing_dir"])
    err = capsys.readouterr().err.splitlines()
    assert 2 == len(err)
    assert ("unknown rule code 'FW999'" in err[0], "no such file" in err[1]) == (True, True)


def test_unwritable_output_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ExitCode.USAGE == main(["lint", "-o", str(project / "missing" / "out.txt"), "app.py"])
    assert "cannot write" in capsys.readouterr().err


def test_list_rules_prints_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    from faultwise.lint import RULES

    assert ExitCode.OK == main(["lint", "--list-rules", "--json"])
    assert list(RULES) == [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert ExitCode.OK == main(["lint", "--list-rules"])
    assert "FW170  sleep-in-async" in capsys.readouterr().out


def test_config_from_pyproject_applies(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.faultwise.lint]\nignore = ["FW1"]\n', encoding="utf-8"
    )
    assert ExitCode.OK == main(["lint", "app.py"])
    assert ExitCode.FOUND == main(["lint", "--isolated", "app.py"])

"""SARIF 2.1.0 output validates against the official OASIS schema (kept offline here)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from faultwise.lint import RULES, lint_paths
from faultwise.lint._render import render_sarif

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(
        "import requests, time\n"
        "async def handler():\n"
        "    time.sleep(1)  # ünïcode before the column\n"
        "    requests.get('u')\n"
        "try:\n    x()\nexcept Exception:\n    pass\n",
        encoding="utf-8",
    )
    (tmp_path / "broken.py").write_text("def f(:\n", encoding="utf-8")
    return tmp_path


def test_sarif_log_is_valid_against_the_2_1_0_schema(project: Path) -> None:
    log = render_sarif(lint_paths([str(project)]), root=project)
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=str)
    assert [] == [e.message for e in errors]


def test_sarif_results_point_at_relative_files_and_known_rules(project: Path) -> None:
    run = render_sarif(lint_paths([str(project)]), root=project)["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    located = [
        (
            r["ruleId"],
            rules[r["ruleIndex"]],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in run["results"]
    ]
    assert list(RULES) == rules
    assert [
        ("FW170", "FW170", "app.py", 3),
        ("FW101", "FW101", "app.py", 4),
        ("FW171", "FW171", "app.py", 4),
        ("FW121", "FW121", "app.py", 7),
    ] == located


def test_sarif_reports_unparsable_files_as_tool_notifications(project: Path) -> None:
    invocation = render_sarif(lint_paths([str(project)]), root=project)["runs"][0]["invocations"][0]
    notes = [
        (n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], n["level"])
        for n in invocation["toolExecutionNotifications"]
    ]
    assert (False, [("broken.py", "error")]) == (invocation["executionSuccessful"], notes)

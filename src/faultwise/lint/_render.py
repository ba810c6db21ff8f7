"""Renderers: text for people (``file:line:col: FW101 message``), JSON, and SARIF 2.1.0."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultwise import __version__
from faultwise.lint._model import FileError, Finding, LintResult
from faultwise.lint._rules import RULES, Level, Rule

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "SARIF_SCHEMA",
    "print_text",
    "render_json",
    "render_rules",
    "render_sarif",
    "render_text",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_DOCS = "https://github.com/faultwise/faultwise/blob/main/docs/lint.md"


def render_text(result: LintResult, *, show_fixes: bool = True, show_errors: bool = True) -> str:
    out: list[str] = []
    for f in result.findings:
        out.append(f"{f.path}:{f.line}:{f.column}: {f.rule_id} {f.message}")
        if show_fixes:
            out.append(f"    fix: {f.rule.fix}")
    if show_errors:
        out.extend(f"{e.path}:{e.line}:{e.column}: error: {e.message}" for e in result.errors)
    out.append(_summary(result))
    return "\n".join(out)


def print_text(result: LintResult, console: Console, *, show_fixes: bool = True) -> None:
    """The text report with colour for a terminal: the same lines as :func:`render_text`."""
    from rich.text import Text

    for f in result.findings:
        line = Text(f"{f.path}:{f.line}:{f.column}: ", style="bold")
        line.append(f.rule_id, style="red" if f.rule.level is Level.ERROR else "yellow")
        line.append(f" {f.message}")
        console.print(line, soft_wrap=True)
        if show_fixes:
            console.print(Text(f"    fix: {f.rule.fix}", style="dim"), soft_wrap=True)
    for e in result.errors:
        where = Text(f"{e.path}:{e.line}:{e.column}: ", style="bold")
        where.append("error:", style="bold red")
        where.append(f" {e.message}")
        console.print(where, soft_wrap=True)
    console.print(Text(_summary(result)), soft_wrap=True)


def _summary(result: LintResult) -> str:
    n = len(result.findings)
    parts = [
        f"{n} finding{'s' * (n != 1)} in {result.files} file{'s' * (result.files != 1)} "
        f"({result.lines:,} lines)"
    ]
    if result.suppressed:
        parts.append(f"{result.suppressed} suppressed by noqa")
    if result.errors:
        parts.append(f"{len(result.errors)} file(s) could not be linted")
    if result.findings:
        parts.append(", ".join(f"{k}: {v}" for k, v in result.by_rule().items()))
    return "; ".join(parts)


def _finding_json(f: Finding) -> dict[str, Any]:
    rule = f.rule
    return {
        "rule": f.rule_id,
        "name": rule.name,
        "family": rule.family.value,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "detail": f.detail,
        "message": f.message,
        "fix": rule.fix,
    }


def _error_json(e: FileError) -> dict[str, Any]:
    return {
        "path": e.path,
        "line": e.line,
        "column": e.column,
        "kind": e.kind.value,
        "message": e.message,
    }


def render_json(result: LintResult) -> dict[str, Any]:
    return {
        "findings": [_finding_json(f) for f in result.findings],
        "errors": [_error_json(e) for e in result.errors],
        "summary": {
            "files": result.files,
            "lines": result.lines,
            "findings": len(result.findings),
            "suppressed": result.suppressed,
            "errors": len(result.errors),
            "by_rule": result.by_rule(),
        },
    }


def render_rules(rules: list[Rule] | None = None) -> list[dict[str, str]]:
    return [
        {
            "id": r.id,
            "name": r.name,
            "family": r.family.value,
            "level": r.level.value,
            "title": r.title,
            "outage": r.outage,
            "fix": r.fix,
        }
        for r in (rules if rules is not None else list(RULES.values()))
    ]


def _uri(path: str, root: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_uri()


def _region(line: int, column: int, end_line: int = 0, end_column: int = 0) -> dict[str, int]:
    region = {"startLine": max(line, 1), "startColumn": max(column, 1)}
    if end_line >= line and end_column >= 1 and (end_line > line or end_column > column):
        region |= {"endLine": end_line, "endColumn": end_column}
    return region


def _sarif_rule(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": f"{r.title}: {r.outage}."},
        "help": {"text": f"Fix: {r.fix}.", "markdown": f"**Fix:** {r.fix}."},
        "helpUri": f"{_DOCS}#{r.id.lower()}",
        "defaultConfiguration": {"level": r.level.value},
        "properties": {"tags": ["reliability", r.family.value]},
    }


def render_sarif(result: LintResult, *, root: Path | None = None) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run; paths relative to ``root`` (%SRCROOT%)."""
    root = Path(os.path.abspath(root or Path.cwd()))
    index = {rule_id: i for i, rule_id in enumerate(RULES)}
    results = [
        {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": f.rule.level.value,
            "message": {"text": f"{f.message}. Fix: {f.rule.fix}."},
            "locations": [
                _location(f.path, _region(f.line, f.column, f.end_line, f.end_column), root)
            ],
        }
        for f in result.findings
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{e.kind.value}: {e.message}"},
            "locations": [_location(e.path, _region(e.line, e.column), root)],
        }
        for e in result.errors
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "faultwise",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": _DOCS,
                        "rules": [_sarif_rule(r) for r in RULES.values()],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _location(path: str, region: dict[str, int], root: Path) -> dict[str, Any]:
    uri = _uri(path, root)
    artifact: dict[str, str] = {"uri": uri}
    if not uri.startswith("file:"):
        artifact["uriBaseId"] = "%SRCROOT%"
    return {"physicalLocation": {"artifactLocation": artifact, "region": region}}

"""``faultwise lint PATH...``: find the failure patterns in Python source."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faultwise.lint import LintConfig, LintResult

HELP = "find failure patterns (missing timeouts, retry storms, swallowed errors...) in Python code"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument(
        "--format",
        choices=("text", "concise", "json", "sarif"),
        default="text",
        help="text (with fix hints), concise (one line each), json, or sarif (SARIF 2.1.0)",
    )
    fmt.add_argument(
        "--json", action="store_const", const="json", dest="format", help="same as --format json"
    )
    fmt.add_argument(
        "--sarif", action="store_const", const="sarif", dest="format", help="same as --format sarif"
    )
    parser.add_argument(
        "--select",
        metavar="CODES",
        help="comma-separated rule ids or prefixes to run (replaces the configured list)",
    )
    parser.add_argument(
        "--ignore", metavar="CODES", help="comma-separated rule ids or prefixes to skip"
    )
    parser.add_argument(
        "--config", metavar="PYPROJECT", help="pyproject.toml to read [tool.faultwise.lint] from"
    )
    parser.add_argument("--isolated", action="store_true", help="ignore every configuration file")
    parser.add_argument(
        "--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout"
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="N", help="lint in N processes (default 1)"
    )
    parser.add_argument(
        "--list-rules",
        action="store_true",
        help="print every rule with its failure pattern and fix, then exit",
    )
    parser.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when something was found"
    )


def _codes(text: str | None) -> list[str] | None:
    return None if text is None else [c for c in text.replace(" ", ",").split(",") if c]


def run(args: argparse.Namespace) -> int:
    from faultwise._errors import InputError
    from faultwise.cli._exit import ExitCode
    from faultwise.cli._output import console, emit_json, emit_text
    from faultwise.lint import LintConfig, find_pyproject, lint_paths, load_config
    from faultwise.lint._render import (
        print_text,
        render_json,
        render_rules,
        render_sarif,
        render_text,
    )

    if args.list_rules:
        if args.format == "json":
            emit_json(render_rules())
        else:
            emit_text(_rules_text(render_rules()))
        return ExitCode.OK
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    paths = args.paths or ["."]
    if args.isolated:
        config = LintConfig()
    elif args.config:
        if not os.path.isfile(args.config):
            raise InputError(f"no such configuration file: {args.config}")
        config = load_config(Path(args.config))
    else:
        config = load_config(find_pyproject(Path(paths[0])))
    config = config.with_overrides(select=_codes(args.select), ignore=_codes(args.ignore) or ())
    if sys.stderr.isatty():
        result = _with_progress(paths, config, args.jobs)
    else:
        result = lint_paths(paths, config, jobs=args.jobs)

    try:
        stream = open(args.output, "w", encoding="utf-8") if args.output else None  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    try:
        if args.format == "json":
            emit_json(render_json(result), stream=stream)
        elif args.format == "sarif":
            emit_json(render_sarif(result), stream=stream)
        elif stream is None and sys.stdout.isatty():
            print_text(result, console(), show_fixes=args.format == "text")
        else:
            emit_text(render_text(result, show_fixes=args.format == "text"), stream=stream)
    finally:
        if stream is not None:
            stream.close()
    if result.errors:
        return ExitCode.USAGE
    if result.findings and not args.exit_zero:
        return ExitCode.FOUND
    return ExitCode.OK


def _with_progress(paths: list[str], config: LintConfig, jobs: int) -> LintResult:
    """Lint with a progress bar on the terminal (stderr), gone once the run ends."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from faultwise.cli._output import console
    from faultwise.lint import lint_paths

    columns = (TextColumn("linting"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("lint", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return lint_paths(paths, config, jobs=jobs, progress=advance)


def _rules_text(rules: list[dict[str, str]]) -> str:
    lines = []
    for r in rules:
        lines.append(f"{r['id']}  {r['name']}  [{r['family']}, {r['level']}]")
        lines.append(f"    finds:  {r['title']}")
        lines.append(f"    outage: {r['outage']}")
        lines.append(f"    fix:    {r['fix']}")
    return "\n".join(lines)

"""``faultwise diagnose``: which failure pattern, where it started, the evidence, the action."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from faultwise.cli._exit import ExitCode

if TYPE_CHECKING:
    from faultwise.diagnose import Diagnosis
    from faultwise.diagnose._sql import Dialect
    from faultwise.telemetry import ProgressHook, Reject, Store

HELP = "find the failure pattern and root cause of an incident from its telemetry"

_EPILOG = """PATH is a file or directory of logs (JSON lines, logfmt, text, CSV), spans, metrics,
Kubernetes events and configuration files (YAML, TOML, INI, .env; or anything under a config/
directory), in any mix; gzip and zstd are read too. Compare with what normal looked like:
--baseline PATH... (telemetry from a healthy period) or --baseline-window START..END (a healthy
part of the same data; times as 2026-03-04T10:00:00Z, epoch seconds, or 10:00 on the data's
first day). Without either, the first quarter of the data is taken as normal. With --clickhouse
URL --since T1 --until T2 the telemetry is read where the OpenTelemetry Collector's ClickHouse
exporter wrote it (URL http://host:8123/database, or chdb:PATH), and PATHs are configuration
files only. Exit codes: 0 nothing found, 1 a root cause was found, 2 bad usage or unreadable
input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faultwise.telemetry import Format

    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("paths", nargs="*", metavar="PATH", help="incident files or directories")
    base = parser.add_mutually_exclusive_group()
    base.add_argument(
        "--baseline", nargs="+", metavar="PATH", help="telemetry from a healthy period"
    )
    base.add_argument(
        "--baseline-window", metavar="START..END", help="a healthy time range of the same data"
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="PATH",
        help="a configuration file or directory to compare (repeatable)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON (DESIGN §5's shape)")
    output.add_argument("--markdown", action="store_true", help="print Markdown")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument(
        "--format",
        choices=[f.value for f in Format if f is not Format.EMPTY],
        help="read every input as this format instead of detecting it",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=NAME",
        help="take a model field from this input field (ts=when, message=text, ...)",
    )
    parser.add_argument("--db", metavar="FILE", help="keep the ingested incident in this file")
    parser.add_argument(
        "--show-rejects", action="store_true", help="list input lines that could not be read"
    )
    clickhouse = parser.add_argument_group("ClickHouse (the OpenTelemetry Collector's exporter)")
    clickhouse.add_argument(
        "--clickhouse", metavar="URL", help="read the telemetry from ClickHouse instead of PATHs"
    )
    clickhouse.add_argument("--since", metavar="TIME", help="start of the incident window")
    clickhouse.add_argument("--until", metavar="TIME", help="end of the incident window")


def run(args: argparse.Namespace) -> int:
    from faultwise.diagnose import diagnose, parse_window

    window = parse_window(args.baseline_window) if args.baseline_window else None
    dialect, store = _open(args)
    with store:
        if args.baseline:
            with _load(args, args.baseline) as normal:
                result = diagnose(store, baseline=normal)
        else:
            baseline = window.resolve(_first_ns(store)) if window else None
            result = diagnose(store, baseline=baseline, dialect=dialect)
        rejects = store.summary.rejects if args.show_rejects else ()
    _render(args, result, rejects)
    return ExitCode.FOUND if result.root_cause else ExitCode.OK


def _open(args: argparse.Namespace) -> tuple[Dialect, Store]:
    """The incident's store: files read into DuckDB, or the exporter's tables in ClickHouse."""
    from faultwise._errors import InputError
    from faultwise.diagnose._sql import CLICKHOUSE, DUCKDB

    if not args.clickhouse:
        if not args.paths:
            raise InputError("give the incident's files (PATH...) or --clickhouse URL")
        return DUCKDB, _load(args, args.paths, configs=args.config, db=args.db)
    from faultwise.diagnose._clickhouse import open_clickhouse

    if not (args.since and args.until):
        raise InputError("--clickhouse needs the incident window: --since TIME --until TIME")
    if args.baseline or args.db:
        raise InputError("with --clickhouse, use --baseline-window (not --baseline or --db)")
    store = open_clickhouse(
        args.clickhouse, since=args.since, until=args.until, configs=[*args.paths, *args.config]
    )
    return CLICKHOUSE, store


def _load(
    args: argparse.Namespace,
    paths: Sequence[str],
    *,
    configs: Sequence[str] = (),
    db: str | None = None,
) -> Store:
    from faultwise.diagnose import load_incident
    from faultwise.telemetry import Format

    fmt = Format(args.format) if args.format else None
    with _progress(sys.stderr.isatty()) as hook:
        return load_incident(
            paths, configs=configs, db=db, fmt=fmt, mapping=args.map, progress=hook
        )


@contextmanager
def _progress(show: bool) -> Iterator[ProgressHook | None]:
    """A progress bar on stderr while files are read (only on a terminal)."""
    if not show:
        yield None
        return
    from rich.progress import Progress

    from faultwise.cli._output import console

    with Progress(console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def hook(name: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"reading {Path(name).name}")

        yield hook


def _first_ns(store: Store) -> int | None:
    value = store.scalar(
        "SELECT min(t) FROM (SELECT min(ts_ns) AS t FROM logs UNION ALL "
        "SELECT min(start_ns) FROM spans UNION ALL SELECT min(ts_ns) FROM samples) r"
    )
    return int(value) if value is not None else None


def _render(args: argparse.Namespace, result: Diagnosis, rejects: Sequence[Reject]) -> None:
    from faultwise.cli._output import console, emit_json, emit_text
    from faultwise.diagnose import render_html, render_markdown, to_json

    if args.html:
        Path(args.html).write_text(render_html(result), encoding="utf-8")
    if args.json:
        emit_json(to_json(result))
    elif args.markdown:
        emit_text(render_markdown(result))
    else:
        from faultwise.diagnose import render_terminal

        out = console()
        render_terminal(result, out, show_rejects=args.show_rejects)
        for r in rejects:
            out.print(f"  rejected {r.source}: {r.reason}: {r.text}", highlight=False)
        if args.html:
            out.print(f"report written to {args.html}")

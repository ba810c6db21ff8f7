"""Command-line arguments every command that reads telemetry shares (timeline, trace,
templates). Kept apart and light: every command's arguments are built at start-up."""

from __future__ import annotations

import argparse

__all__ = ["add_input_arguments"]


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """PATH..., --db, --format, --map, --show-rejects, --json."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="log, span and metric files or directories (gzip/zstd ok; - for stdin)",
    )
    parser.add_argument(
        "--db",
        metavar="FILE",
        help="keep the ingested telemetry in this DuckDB file; with no PATH, reuse it",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        metavar="FORMAT",
        help="read every input as this format instead of detecting it per file",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=NAME",
        help="read model field FIELD from input field NAME (ts, message, severity, service, "
        "trace_id, ...); repeatable",
    )
    parser.add_argument(
        "--show-rejects", action="store_true", help="list the lines that could not be read"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

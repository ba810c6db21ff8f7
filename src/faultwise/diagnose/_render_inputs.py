"""What the timeline, trace and templates commands share: reading the inputs (the arguments are
in :mod:`faultwise.telemetry._arguments`), and telling the user what was read (formats, rejects,
clock findings) on the terminal or in JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from faultwise._errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from faultwise.telemetry import IngestSummary, Store

__all__ = [
    "inputs_json",
    "open_store",
    "render_inputs",
    "rfc3339",
]


def open_store(args: argparse.Namespace, *, templates: bool = True) -> Store:
    """Ingest ``args.paths`` (into ``--db`` when given), or reopen ``--db`` alone; with
    ``templates`` false, template mining waits until a command needs it."""
    from pathlib import Path

    from faultwise.telemetry import Format, Store, ingest

    if not args.paths and not args.db:
        raise InputError("give at least one PATH to read, or --db FILE of an earlier ingest")
    fmt = None
    if args.fmt:
        readers = [f.value for f in Format if f not in (Format.EMPTY, Format.HTML)]
        if args.fmt not in readers:
            known = ", ".join(readers)
            raise InputError(f"unknown --format {args.fmt!r} (known: {known})")
        fmt = Format(args.fmt)
    if args.db and not args.paths and not Path(args.db).exists():
        raise InputError("no such database; give PATH arguments to create it", source=args.db)
    store = Store(args.db)
    if args.paths:
        try:
            with _progress(quiet=args.json) as hook:
                ingest(
                    store,
                    args.paths,
                    fmt=fmt,
                    mapping=args.map,
                    progress=hook,
                    templates=templates,
                )
        except BaseException:
            store.close()
            raise
    return store


class _progress:
    """A rich progress bar over input files on an interactive stderr, else nothing."""

    def __init__(self, *, quiet: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._quiet = quiet

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if self._quiet or not sys.stderr.isatty():
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("reading"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            transient=True,
            console=_stderr_console(),
        )
        self._bar.start()
        self._task = self._bar.add_task("", total=None)
        return self._update

    def _update(self, name: str, done: int, total: int) -> None:
        self._bar.update(self._task, completed=done, total=total, description=name[-60:])

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _stderr_console() -> Console:
    from faultwise.cli._output import console

    return console(stderr=True)


def rfc3339(ns: int | None) -> str | None:
    """UTC ns as RFC 3339 with nanoseconds: ``2023-01-29T08:42:22.383150913Z``."""
    if ns is None:
        return None
    import time

    seconds, frac = divmod(int(ns), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def inputs_json(summary: IngestSummary) -> dict[str, Any]:
    """The ``inputs`` object of every command's JSON: files, formats, counts, rejects, clocks."""
    return {
        "files": [
            {
                "source": s.source_file,
                "format": s.format.value,
                "layout": s.layout or None,
                "service": s.service,
                "rows": {t.value: n for t, n in s.rows.items()},
                "rejected": s.rejected,
            }
            for s in summary.sources
        ],
        "reused": list(summary.reused),
        "counts": {t.value: n for t, n in summary.counts.items()},
        "rejected": summary.rejected,
        "rejects": [
            {"source": r.source, "reason": r.reason, "text": r.text} for r in summary.rejects
        ],
        "clock": [
            {
                "source": c.source,
                "issue": c.issue.value,
                "offset_s": round(c.offset_ns / 1e9, 3),
                "detail": c.detail,
            }
            for c in summary.clock
        ],
    }


def render_inputs(summary: IngestSummary, out: Console, *, show_rejects: bool) -> None:
    """A line on what was read; clock findings; rejects (all kept ones with --show-rejects)."""
    counts = summary.counts
    parts = [f"{n:,} {t.value}" for t, n in counts.items() if n]
    formats = sorted({s.format.value for s in summary.sources})
    out.print(
        f"[dim]read {len(summary.sources)} file(s) ({', '.join(formats) or 'none'}): "
        f"{', '.join(parts) or 'nothing'}[/dim]"
    )
    if summary.reused:
        out.print(
            f"[dim]{len(summary.reused)} file(s) already in the store, not read again "
            f"(unchanged since): {_escape(', '.join(summary.reused[:3]))}"
            f"{', ...' if len(summary.reused) > 3 else ''}[/dim]"
        )
    if summary.pages:
        out.print(f"[dim]web pages, not telemetry, not read: {_escape(', '.join(summary.pages))}")
    for finding in summary.clock:
        out.print(f"[yellow]clock:[/yellow] {finding.source}: {finding.detail}")
    if summary.rejected:
        if show_rejects:
            out.print(f"[yellow]{summary.rejected:,} line(s) rejected[/yellow]")
            for s in summary.sources:
                if s.rejected:
                    out.print(f"  {s.source_file}: {s.rejected:,} rejected")
                    for r in s.rejects:
                        out.print(f"    {r.source}: {r.reason}: [dim]{_escape(r.text)}[/dim]")
        else:
            out.print(
                f"[yellow]{summary.rejected:,} line(s) rejected[/yellow] "
                "[dim](--show-rejects lists them)[/dim]"
            )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)

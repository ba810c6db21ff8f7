"""``load`` and ``ingest``: files, directories and stdin into a :class:`Store`.

    store = load(["incident/", "extra.log.gz"])           # in memory
    store = load(["incident/"], db="incident.duckdb")       # kept on disk
    summary = store.summary                                 # counts, rejects, clock findings

Each file's format is detected from its first bytes (``fmt`` overrides it), the file goes to
its reader, and a :class:`SourceReport` records what it gave and what it rejected.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from faultwise._errors import InputError
from faultwise.telemetry._csv import classify_csv, open_csv, read_csv_logs, read_csv_spans
from faultwise.telemetry._fields import Field, parse_mapping
from faultwise.telemetry._jsonl import read_json_lines
from faultwise.telemetry._model import Format, IngestSummary, SourceReport, Table
from faultwise.telemetry._services import service_from_file
from faultwise.telemetry._source import Source, iter_sources, stage_lines
from faultwise.telemetry._store import Store

__all__ = ["ProgressHook", "detect_format", "ingest", "load"]

ProgressHook = Callable[[str, int, int], None]  # (source name, files done, files total)

_CSV_HEADER = re.compile(r"^[\w .()%/@:\"-]+([,;\t][\w .()%/@:\"-]+){2,}$")


def detect_format(src: Source) -> Format:
    """The format of ``src`` from its first bytes and its name."""
    text = src.head_text.lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        return Format.EMPTY
    first = stripped.splitlines()[0] if stripped else ""
    if stripped.startswith("{"):
        return Format.JSONL
    lowered = src.name.lower()
    if _CSV_HEADER.match(first.strip()) or re.search(r"\.(csv|tsv)(\.gz|\.zst)?$", lowered):
        return _csv_kind(first)
    return Format.TEXT


def _csv_kind(header: str) -> Format:
    delimiter = max(",;\t", key=header.count)
    columns = tuple(c.strip().strip('"') for c in header.split(delimiter))
    return classify_csv(columns)


def ingest(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    *,
    fmt: Format | None = None,
    mapping: Mapping[str, str] | list[str] | None = None,
    progress: ProgressHook | None = None,
) -> IngestSummary:
    """Read every file under ``paths`` into ``store``; returns what was read and rejected."""
    fields = parse_mapping(mapping)
    names = [os.fspath(p) for p in paths]
    reports: list[SourceReport] = []
    with tempfile.TemporaryDirectory(prefix="faultwise-") as tmp:
        spool = Path(tmp)
        sources = list(iter_sources(names, spool_dir=spool))
        for done, src in enumerate(sources):
            if progress is not None:
                progress(src.name, done, len(sources))
            reports.append(_read_one(store, src, fmt or detect_format(src), fields, spool))
        if progress is not None and sources:
            progress("", len(sources), len(sources))
    summary = IngestSummary(tuple(reports))
    store.record_summary(summary)
    return summary


def load(
    paths: Iterable[str | os.PathLike[str]],
    *,
    db: str | os.PathLike[str] | None = None,
    fmt: Format | None = None,
    mapping: Mapping[str, str] | list[str] | None = None,
    progress: ProgressHook | None = None,
) -> Store:
    """A new store (in memory, or the file ``db``) holding everything under ``paths``.

    ``store.summary`` tells what was read: rows per table, rejects per file (the first ones
    with file:line and reason), the detected formats and clock findings.
    """
    store = Store(db)
    try:
        ingest(store, paths, fmt=fmt, mapping=mapping, progress=progress)
    except BaseException:
        store.close()
        raise
    return store


def _read_one(
    store: Store, src: Source, fmt: Format, fields: Mapping[Field, str], spool: Path
) -> SourceReport:
    service = service_from_file(Path(src.name).name)
    if fmt is Format.EMPTY:
        return SourceReport(src.name, fmt, service)
    if fmt is Format.JSONL:
        staged = stage_lines(store.connection, src, spool_dir=spool)
        try:
            result = read_json_lines(
                store,
                staged.table,
                src.head_lines(),
                source=src.name,
                year=src.year,
                default_service=service,
                mapping=fields,
            )
        finally:
            store.execute(f"DROP TABLE IF EXISTS {staged.table}")
        rejects = (staged.rejects + result.rejects)[:5]
        return SourceReport(
            src.name,
            fmt,
            service,
            {Table.LOGS: result.inserted},
            result.rejected + staged.rejected,
            rejects,
        )
    if fmt in (Format.CSV_SPANS, Format.CSV_LOGS):
        csv = open_csv(store, src)
        if fmt is Format.CSV_SPANS:
            inserted, rejected, span_rejects = read_csv_spans(store, src, csv)
            return SourceReport(
                src.name, fmt, service, {Table.SPANS: inserted}, rejected, tuple(span_rejects)
            )
        logs = read_csv_logs(store, src, csv, default_service=service, mapping=fields)
        return SourceReport(
            src.name, fmt, service, {Table.LOGS: logs.inserted}, logs.rejected, logs.rejects
        )
    raise InputError(f"the {fmt.value} format is not readable yet", source=src.name)

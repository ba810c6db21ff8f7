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
from faultwise.telemetry._clockcheck import check_clocks
from faultwise.telemetry._csv import (
    classify_csv,
    open_csv,
    read_csv_logs,
    read_csv_metrics,
    read_csv_spans,
)
from faultwise.telemetry._documents import DOCUMENT_FORMATS, read_document, sniff_document
from faultwise.telemetry._fields import Field, parse_mapping
from faultwise.telemetry._jsonl import parse_json_objects, read_json_lines
from faultwise.telemetry._logfmt import is_logfmt, logfmt_json_sql, parse_logfmt
from faultwise.telemetry._logsql import BLANK, LogsResult, finish_logs, staged_select
from faultwise.telemetry._model import ClockFinding, Format, IngestSummary, SourceReport, Table
from faultwise.telemetry._services import service_from_file
from faultwise.telemetry._source import KEEP_REJECTS, STDIN, Source, iter_sources, read_lines
from faultwise.telemetry._store import Store
from faultwise.telemetry._templates import assign_templates
from faultwise.telemetry._text import detect_header

__all__ = ["ProgressHook", "detect_format", "ingest", "load"]

ProgressHook = Callable[[str, int, int], None]  # (source name, files done, files total)

_ID = re.compile(r"^\s*[0-9a-fA-F-]{16,40}\s*$")
_HTML = re.compile(r"<!doctype html|<html[\s>]", re.IGNORECASE)
_CSV_HEADER = re.compile(r"^[\w .()%/@:\"-]+([,;\t][\w .()%/@:\"-]+){2,}$")


def detect_format(src: Source) -> Format:
    """The format of ``src`` from its first bytes and its name."""
    text = src.head_text.lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        return Format.EMPTY
    first = stripped.splitlines()[0] if stripped else ""
    if _HTML.match(stripped):
        return Format.HTML
    document = sniff_document(text)
    if document is not None:
        return document
    if stripped.startswith("{"):
        return Format.JSONL
    lowered = src.name.lower()
    if all(_ID.match(line) for line in src.head_lines(200) if line.strip()):
        return Format.ID_LIST
    if re.search(r"\.(csv|tsv)(\.gz|\.zst)?$", lowered):
        return _csv_kind(first)
    lines = src.head_lines(200)
    layout = detect_header(lines, min_share=0.5)
    if layout is not None and "ts" in layout.header.groups:
        return Format.TEXT
    if _CSV_HEADER.match(first.strip()):
        return _csv_kind(first)
    if is_logfmt(src.head_lines(200)):
        return Format.LOGFMT
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
    templates: bool = True,
) -> IngestSummary:
    """Read every file under ``paths`` into ``store``; returns what was read and rejected.

    A file the store already holds (a kept ``--db`` given the same paths again) is not read
    twice: its name is listed in ``reused``; one whose size or mtime changed since (a log that
    grew) has its rows dropped and is read again. With ``templates`` (the default) the log
    templates of everything in the store are mined afterwards and ``logs.template_id`` is
    filled. A store kept in a file gets its trace ids indexed (see
    :meth:`Store.index_trace_ids`)."""
    fields = parse_mapping(mapping)
    names = [os.fspath(p) for p in paths]
    reports: list[SourceReport] = []
    clock: list[ClockFinding] = []
    held = store.source_files()
    reused: list[str] = []
    with tempfile.TemporaryDirectory(prefix="faultwise-") as tmp:
        spool = Path(tmp)
        sources = []
        changed = []
        for src in iter_sources(names, spool_dir=spool):
            if src.name == STDIN or src.name not in held:
                sources.append(src)
            elif held[src.name] in (None, (src.size, src.mtime_ns)):
                reused.append(src.name)
            else:  # changed since it was read (a log that grew): its rows would be stale
                changed.append(src)
        for src in changed:
            if not store.replaceable(src.name):
                raise InputError(
                    "changed since it was read into this --db, and its spans, samples or "
                    "changes cannot be replaced there: use a new --db",
                    source=src.name,
                )
        for src in changed:
            store.forget_source(src.name)
            sources.append(src)
        for done, src in enumerate(sources):
            if progress is not None:
                progress(src.name, done, len(sources))
            report, found = _read_one(store, src, fmt or detect_format(src), fields, spool)
            reports.append(report)
            clock.extend(found)
            if src.name != STDIN:
                store.record_stamp(src.name, src.size, src.mtime_ns)
        if progress is not None and sources:
            progress("", len(sources), len(sources))
    clock.extend(check_clocks(store, [r.source_file for r in reports if r.rows.get(Table.LOGS)]))
    summary = IngestSummary(tuple(reports), tuple(clock))
    store.record_summary(summary)
    store.reused.extend(reused)
    summary = IngestSummary(summary.sources, summary.clock, tuple(reused))
    if templates:
        assign_templates(store)
    if store.path is not None:  # a kept store is asked again: find a request without a scan
        store.index_trace_ids()
    return summary


def load(
    paths: Iterable[str | os.PathLike[str]],
    *,
    db: str | os.PathLike[str] | None = None,
    fmt: Format | None = None,
    mapping: Mapping[str, str] | list[str] | None = None,
    progress: ProgressHook | None = None,
    templates: bool = True,
) -> Store:
    """A new store (in memory, or the file ``db``) holding everything under ``paths``.

    ``store.summary`` tells what was read: rows per table, rejects per file (the first ones
    with file:line and reason), the detected formats and clock findings.
    """
    store = Store(db)
    try:
        ingest(store, paths, fmt=fmt, mapping=mapping, progress=progress, templates=templates)
    except BaseException:
        store.close()
        raise
    return store


def _read_one(
    store: Store, src: Source, fmt: Format, fields: Mapping[Field, str], spool: Path
) -> tuple[SourceReport, tuple[ClockFinding, ...]]:
    service = service_from_file(Path(src.name).name)
    if fmt in (Format.EMPTY, Format.ID_LIST, Format.HTML):
        return SourceReport(src.name, fmt, service), ()
    if fmt in _LINE_READERS:
        reader = _LINE_READERS[fmt]
        result, staged = read_lines(
            src, spool, lambda lines: reader(store, src, lines, service, fields)
        )
        store.drop_temporary()
        rejects = (staged.rejects + result.rejects)[:KEEP_REJECTS]
        rejected = result.rejected + staged.rejected
    elif fmt in DOCUMENT_FORMATS:
        rows = read_document(src, fmt, mtime_ns=src.mtime_ns)
        counts = {table: store.insert(table, items) for table, items in rows.by_table().items()}
        report = SourceReport(
            src.name,
            fmt,
            service,
            {t: n for t, n in counts.items() if n},
            rows.rejected,
            tuple(rows.rejects),
        )
        return report, ()
    elif fmt is Format.CSV_METRICS:
        csv = open_csv(store, src, spool)
        inserted, rejected, metric_rejects = read_csv_metrics(
            store, src, csv, default_service=service
        )
        report = SourceReport(
            src.name, fmt, service, {Table.SAMPLES: inserted}, rejected, metric_rejects
        )
        return report, ()
    elif fmt in (Format.CSV_SPANS, Format.CSV_LOGS):
        csv = open_csv(store, src, spool)
        if fmt is Format.CSV_SPANS:
            inserted, rejected, span_rejects = read_csv_spans(store, src, csv)
            report = SourceReport(
                src.name, fmt, service, {Table.SPANS: inserted}, rejected, tuple(span_rejects)
            )
            return report, ()
        result = read_csv_logs(store, src, csv, default_service=service, mapping=fields)
        rejects, rejected = result.rejects, result.rejected
    else:
        raise InputError(f"the {fmt.value} format is not readable yet", source=src.name)
    report = SourceReport(
        src.name,
        fmt,
        service,
        {Table.LOGS: result.inserted},
        rejected,
        rejects,
        " > ".join(result.layers),
    )
    return report, result.clock


def _json_lines(
    store: Store, src: Source, lines: str, service: str | None, fields: Mapping[Field, str]
) -> LogsResult:
    return read_json_lines(
        store,
        f"(SELECT n, line, line AS raw FROM {lines})",
        parse_json_objects(src.head_lines()),
        source=src.name,
        day=src.day,
        default_service=service,
        mapping=fields,
    )


def _logfmt(
    store: Store, src: Source, lines: str, service: str | None, fields: Mapping[Field, str]
) -> LogsResult:
    return read_json_lines(
        store,
        f"(SELECT n, {logfmt_json_sql('line')} AS line, line AS raw FROM {lines})",
        [parse_logfmt(line) for line in src.head_lines()],
        source=src.name,
        day=src.day,
        default_service=service,
        mapping=fields,
    )


def _text(
    store: Store, src: Source, lines: str, service: str | None, fields: Mapping[Field, str]
) -> LogsResult:
    # The lines are kept in a table first (read on every thread, in file order), so a line's
    # number is its rowid: joining stack-trace lines to their record needs the numbers before
    # the insert, and numbering while reading would read on one thread.
    store.execute(f"CREATE OR REPLACE TEMP TABLE _text_lines AS SELECT line FROM {lines}")
    # A line is blank when trim leaves nothing; one that starts with a visible ASCII character
    # is not, which settles nearly every line without the costlier trim.
    blank = (
        "CASE WHEN ascii(line) BETWEEN 33 AND 126 THEN false ELSE trim(coalesce(line, '')) = '' END"
    )
    staged = staged_select(
        f"(SELECT rowid + 1 AS n, line, {blank} AS blank FROM _text_lines)",
        n="n",
        message="CASE WHEN NOT blank THEN line END",
        raw="line",
        reject=f"CASE WHEN blank THEN {BLANK} END",
    )
    return finish_logs(
        store,
        staged,
        source=src.name,
        ts_form=None,
        day=src.day,
        default_service=service,
        has_ts=False,
        text_file=True,
        numbered=True,
    )


_LINE_READERS = {Format.JSONL: _json_lines, Format.LOGFMT: _logfmt, Format.TEXT: _text}

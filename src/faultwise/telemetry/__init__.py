"""Telemetry: readers for every input format -> one OTel-shaped model -> a DuckDB store.

    from faultwise.telemetry import load, Severity
    store = load(["incident/"])                      # files, directories, "-" for stdin
    print(store.summary.counts, store.summary.rejected)
    rows = store.query(
        "SELECT service, min(ts_ns) FROM logs WHERE severity >= ? GROUP BY service",
        [Severity.ERROR],
    )

The tables (``logs``, ``spans``, ``samples``, ``changes``, ``configs``) and their columns are
documented in :mod:`faultwise.telemetry._model`; timestamps are UTC nanoseconds.

The readers (``load``, ``ingest``, ``detect_format``) are imported on first use: code that
only opens a kept store and queries it does not pay for them.
"""

from typing import TYPE_CHECKING

from faultwise.telemetry._model import (
    TABLES,
    Change,
    ChangeKind,
    ClockFinding,
    ClockIssue,
    ConfigEntry,
    Format,
    IngestSummary,
    LogRecord,
    Reject,
    Sample,
    Severity,
    SourceReport,
    Span,
    SpanKind,
    SpanStatus,
    Table,
)
from faultwise.telemetry._store import Store

if TYPE_CHECKING:
    from faultwise.telemetry._ingest import ProgressHook, detect_format, ingest, load

__all__ = [
    "TABLES",
    "Change",
    "ChangeKind",
    "ClockFinding",
    "ClockIssue",
    "ConfigEntry",
    "Format",
    "IngestSummary",
    "LogRecord",
    "ProgressHook",
    "Reject",
    "Sample",
    "Severity",
    "SourceReport",
    "Span",
    "SpanKind",
    "SpanStatus",
    "Store",
    "Table",
    "detect_format",
    "ingest",
    "load",
]

_READERS = frozenset({"ProgressHook", "detect_format", "ingest", "load"})


def __getattr__(name: str) -> object:
    if name in _READERS:
        from faultwise.telemetry import _ingest

        return getattr(_ingest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

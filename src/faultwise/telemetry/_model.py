"""The telemetry model: five OTel-shaped tables every reader fills, and their row types.

Schema (DuckDB types; the names are the contract detectors write SQL against, kept identical
to the design so the same SQL can later run against ClickHouse):

``logs``
    ``ts_ns BIGINT`` (UTC ns), ``service VARCHAR``, ``instance VARCHAR`` (pod, host or
    process), ``severity TINYINT`` (:class:`Severity`: the OTel SeverityNumber of the level's
    first step: 1 trace, 5 debug, 9 info, 13 warn, 17 error, 21 fatal, 0 unknown),
    ``message VARCHAR``, ``template_id INTEGER`` (the log template, see ``templates``; NULL
    until mined), ``trace_id VARCHAR`` (lowercase hex when it is hex), ``span_id VARCHAR``,
    ``request_id VARCHAR``, ``thread VARCHAR``, ``attrs VARCHAR`` (JSON text: the record's
    fields; read them with ``attrs->>'$.key'`` or ``json_extract_string``),
    ``source_file VARCHAR``, ``source_line BIGINT`` (1-based).
``spans``
    ``trace_id``, ``span_id``, ``parent_span_id`` (NULL for a root), ``service``, ``name``
    (VARCHAR), ``kind TINYINT`` (:class:`SpanKind`, OTel numbering), ``start_ns BIGINT``,
    ``end_ns BIGINT``, ``status TINYINT`` (:class:`SpanStatus`), ``peer_service VARCHAR``,
    ``attrs VARCHAR`` (JSON text).
``samples``
    ``ts_ns BIGINT``, ``service``, ``instance``, ``metric`` (VARCHAR, Prometheus-style name),
    ``labels VARCHAR`` (JSON text: an object of strings), ``value DOUBLE``.
``changes``
    ``ts_ns BIGINT``, ``service VARCHAR``, ``kind VARCHAR`` (:class:`ChangeKind`: deploy,
    config, restart, oom_kill, scale, other), ``detail VARCHAR``.
``configs``
    ``environment``, ``source``, ``key``, ``value`` (all VARCHAR).

Bookkeeping tables (not part of the portable contract): ``templates(template_id, template)``,
``sources(source_file, format, service, logs, spans, samples, changes, rejected)`` and
``rejects(source_file, source_line, reason, text)`` (the first rejects of each file), so an
ingested incident kept with ``--db`` still knows what it was made of.

Usage::

    from faultwise.telemetry import load, Severity
    store = load(["incident/"])
    store.query("SELECT service, count(*) FROM logs WHERE severity >= ? GROUP BY 1",
                [Severity.ERROR])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

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
    "Reject",
    "Sample",
    "Severity",
    "SourceReport",
    "Span",
    "SpanKind",
    "SpanStatus",
    "Table",
]


class Table(StrEnum):
    """The five model tables."""

    LOGS = "logs"
    SPANS = "spans"
    SAMPLES = "samples"
    CHANGES = "changes"
    CONFIGS = "configs"


class Severity(IntEnum):
    """Log severity as the OTel SeverityNumber of each level's first step."""

    UNKNOWN = 0
    TRACE = 1
    DEBUG = 5
    INFO = 9
    WARN = 13
    ERROR = 17
    FATAL = 21

    @property
    def label(self) -> str:
        """The stable lowercase name used at the JSON boundary (``"warn"``)."""
        return self.name.lower()

    @classmethod
    def from_number(cls, number: int) -> Severity:
        """Map any OTel SeverityNumber (1-24) to its level (``ERROR3`` = 19 -> ``ERROR``)."""
        if number <= 0:
            return cls.UNKNOWN
        return cls(min(21, 1 + (number - 1) // 4 * 4))


class SpanKind(IntEnum):
    """OTel span kind, with OTel's numbering."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5

    @property
    def label(self) -> str:
        return self.name.lower()


class SpanStatus(IntEnum):
    """OTel span status code."""

    UNSET = 0
    OK = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class ChangeKind(StrEnum):
    """What changed in a ``changes`` row."""

    DEPLOY = "deploy"
    CONFIG = "config"
    RESTART = "restart"
    OOM_KILL = "oom_kill"
    SCALE = "scale"
    OTHER = "other"


class Format(StrEnum):
    """Input formats the readers understand (``--format`` takes these names)."""

    JSONL = "jsonl"
    LOGFMT = "logfmt"
    TEXT = "text"
    CSV_LOGS = "csv-logs"
    CSV_SPANS = "csv-spans"
    CSV_METRICS = "csv-metrics"
    OTLP_JSON = "otlp-json"
    JAEGER_JSON = "jaeger-json"
    ZIPKIN_JSON = "zipkin-json"
    PROM_TEXT = "prom-text"
    PROM_QUERY_RANGE = "prom-query-range"
    K8S_EVENTS = "k8s-events"
    ID_LIST = "id-list"  # one bare id per line (an export of trace ids): nothing to read
    HTML = "html"  # a web page (a report written next to the telemetry): nothing to read
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One row of ``logs``."""

    ts_ns: int
    message: str
    service: str | None = None
    instance: str | None = None
    severity: Severity = Severity.UNKNOWN
    template_id: int | None = None
    trace_id: str | None = None
    span_id: str | None = None
    request_id: str | None = None
    thread: str | None = None
    attrs: str | None = None  # a JSON object
    source_file: str | None = None
    source_line: int | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """One row of ``spans``."""

    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    name: str = ""
    parent_span_id: str | None = None
    service: str | None = None
    kind: SpanKind = SpanKind.UNSPECIFIED
    status: SpanStatus = SpanStatus.UNSET
    peer_service: str | None = None
    attrs: str | None = None

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of ``samples``: a gauge, counter or quantile value at a time."""

    ts_ns: int
    metric: str
    value: float
    service: str | None = None
    instance: str | None = None
    labels: str | None = None  # a JSON object of strings


@dataclass(frozen=True, slots=True)
class Change:
    """One row of ``changes``: a deploy, config change, restart, OOM kill or scaling."""

    ts_ns: int
    kind: ChangeKind
    detail: str
    service: str | None = None


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One row of ``configs``."""

    environment: str
    source: str
    key: str
    value: str


# Column order of each table: the order of the DDL, of bulk inserts and of the row types.
TABLES: dict[Table, tuple[tuple[str, str], ...]] = {
    Table.LOGS: (
        ("ts_ns", "BIGINT"),
        ("service", "VARCHAR"),
        ("instance", "VARCHAR"),
        ("severity", "TINYINT"),
        ("message", "VARCHAR"),
        ("template_id", "INTEGER"),
        ("trace_id", "VARCHAR"),
        ("span_id", "VARCHAR"),
        ("request_id", "VARCHAR"),
        ("thread", "VARCHAR"),
        ("attrs", "VARCHAR"),
        ("source_file", "VARCHAR"),
        ("source_line", "BIGINT"),
    ),
    Table.SPANS: (
        ("trace_id", "VARCHAR"),
        ("span_id", "VARCHAR"),
        ("parent_span_id", "VARCHAR"),
        ("service", "VARCHAR"),
        ("name", "VARCHAR"),
        ("kind", "TINYINT"),
        ("start_ns", "BIGINT"),
        ("end_ns", "BIGINT"),
        ("status", "TINYINT"),
        ("peer_service", "VARCHAR"),
        ("attrs", "VARCHAR"),
    ),
    Table.SAMPLES: (
        ("ts_ns", "BIGINT"),
        ("service", "VARCHAR"),
        ("instance", "VARCHAR"),
        ("metric", "VARCHAR"),
        ("labels", "VARCHAR"),
        ("value", "DOUBLE"),
    ),
    Table.CHANGES: (
        ("ts_ns", "BIGINT"),
        ("service", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("detail", "VARCHAR"),
    ),
    Table.CONFIGS: (
        ("environment", "VARCHAR"),
        ("source", "VARCHAR"),
        ("key", "VARCHAR"),
        ("value", "VARCHAR"),
    ),
}

ROW_TYPES: dict[Table, type] = {
    Table.LOGS: LogRecord,
    Table.SPANS: Span,
    Table.SAMPLES: Sample,
    Table.CHANGES: Change,
    Table.CONFIGS: ConfigEntry,
}


@dataclass(frozen=True, slots=True)
class Reject:
    """An input line that could not be read, with where it was and why."""

    source_file: str
    source_line: int
    reason: str
    text: str  # the start of the line, for a person to recognise it

    @property
    def source(self) -> str:
        return f"{self.source_file}:{self.source_line}"


class ClockIssue(StrEnum):
    """Kinds of clock trouble found while reading."""

    TIMEZONE = "timezone"  # a local time written as if it were UTC (a whole-hour offset)
    SKEW = "skew"  # a source's clock runs ahead of or behind the others


@dataclass(frozen=True, slots=True)
class ClockFinding:
    """A source whose clock disagrees with the reference, by ``offset_ns`` (its time minus true)."""

    source: str
    issue: ClockIssue
    offset_ns: int
    detail: str


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What one input file gave: its format, rows per table and rejects."""

    source_file: str
    format: Format
    service: str | None = None
    rows: dict[Table, int] = field(default_factory=dict)
    rejected: int = 0
    rejects: tuple[Reject, ...] = ()  # the first few
    layout: str = ""  # what was found inside the records: "json > timestamp-level"


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """What an ingest read: per-table counts, per-file reports, clock findings."""

    sources: tuple[SourceReport, ...] = ()
    clock: tuple[ClockFinding, ...] = ()
    # files given again that the store already held: not read twice (their rows would be)
    reused: tuple[str, ...] = ()

    @property
    def pages(self) -> list[str]:
        """The files recognised as web pages (reports written next to the telemetry), which
        are listed but not read."""
        return [s.source_file for s in self.sources if s.format is Format.HTML]

    @property
    def counts(self) -> dict[Table, int]:
        totals = dict.fromkeys(Table, 0)
        for report in self.sources:
            for table, n in report.rows.items():
                totals[table] += n
        return totals

    @property
    def rejected(self) -> int:
        return sum(report.rejected for report in self.sources)

    @property
    def rejects(self) -> tuple[Reject, ...]:
        return tuple(r for report in self.sources for r in report.rejects)

    def merged(self, other: IngestSummary) -> IngestSummary:
        return IngestSummary(
            self.sources + other.sources, self.clock + other.clock, self.reused + other.reused
        )

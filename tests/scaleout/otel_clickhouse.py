"""Write an incident's model tables into ClickHouse in the OpenTelemetry Collector ClickHouse
exporter's schema, as the exporter would have stored the same telemetry.

The table definitions keep the exporter's column names, types, partitioning and order
(exporter/clickhouseexporter/internal/sqltemplates, the ``*_table.sql`` files), without
the skip indexes and codecs, which change nothing a query returns.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from faultwise.diagnose._clickhouse import CHANGE_ATTRIBUTE
from faultwise.telemetry import SpanKind, SpanStatus, Store

_MAP = "Map(LowCardinality(String), String)"

DDL = {
    "otel_logs": f"""(
    Timestamp DateTime64(9),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String, SpanId String, TraceFlags UInt8,
    SeverityText LowCardinality(String), SeverityNumber UInt8,
    ServiceName LowCardinality(String), Body String,
    ResourceSchemaUrl LowCardinality(String), ResourceAttributes {_MAP},
    ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
    ScopeAttributes {_MAP}, LogAttributes {_MAP}
) ENGINE = MergeTree PARTITION BY toDate(TimestampTime)
  PRIMARY KEY (ServiceName, TimestampTime) ORDER BY (ServiceName, TimestampTime, Timestamp)""",
    "otel_traces": f"""(
    Timestamp DateTime64(9), TraceId String, SpanId String, ParentSpanId String,
    TraceState String, SpanName LowCardinality(String), SpanKind LowCardinality(String),
    ServiceName LowCardinality(String), ResourceAttributes {_MAP}, ScopeName String,
    ScopeVersion String, SpanAttributes {_MAP}, Duration UInt64,
    StatusCode LowCardinality(String), StatusMessage String,
    Events Nested (Timestamp DateTime64(9), Name LowCardinality(String), Attributes {_MAP}),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes {_MAP})
) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
  ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)""",
    "otel_metrics_gauge": f"""(
    ResourceAttributes {_MAP}, ResourceSchemaUrl String, ScopeName String, ScopeVersion String,
    ScopeAttributes {_MAP}, ScopeDroppedAttrCount UInt32, ScopeSchemaUrl String,
    ServiceName LowCardinality(String), MetricName String, MetricDescription String,
    MetricUnit String, Attributes {_MAP}, StartTimeUnix DateTime64(9), TimeUnix DateTime64(9),
    Value Float64, Flags UInt32,
    Exemplars Nested (FilteredAttributes {_MAP}, TimeUnix DateTime64(9), Value Float64,
                      SpanId String, TraceId String)
) ENGINE = MergeTree PARTITION BY toDate(TimeUnix)
  ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))""",
}

_LEVELS = {0: "", 1: "TRACE", 5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR", 21: "FATAL"}


def _strings(attrs: str | None) -> dict[str, str]:
    """A JSON object as the exporter's Map(String, String): other values as their JSON."""
    if not attrs:
        return {}
    doc = json.loads(attrs)
    if not isinstance(doc, dict):
        return {"attrs": attrs}
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items() if v is not None}


def _put(target: dict[str, str], key: str, value: Any) -> None:
    if value is not None:
        target[key] = str(value)


def _logs(store: Store, *, file_lines: bool = True) -> Iterator[dict[str, Any]]:
    rows = store.query(
        "SELECT ts_ns, service, instance, severity, message, trace_id, span_id, request_id, "
        "thread, attrs, source_file, source_line FROM logs WHERE ts_ns IS NOT NULL"
    )
    for ts, service, instance, sev, msg, trace, span, request, thread, attrs, src, line in rows:
        log_attrs = _strings(attrs)
        _put(log_attrs, "request.id", request)
        _put(log_attrs, "thread.name", thread)
        if file_lines:  # an OTel SDK's logs usually carry no file:line
            _put(log_attrs, "log.file.path", src)
            _put(log_attrs, "log.file.line", line)
        resource = {"service.name": service or ""}
        _put(resource, "service.instance.id", instance)
        yield {
            "ts": ts,
            "TraceId": trace or "",
            "SpanId": span or "",
            "SeverityText": _LEVELS.get(sev, ""),
            "SeverityNumber": sev,
            "ServiceName": service or "",
            "Body": msg,
            "ResourceAttributes": resource,
            "LogAttributes": log_attrs,
        }
    for ts, service, kind, detail in store.query(
        "SELECT ts_ns, service, kind, detail FROM changes WHERE ts_ns IS NOT NULL"
    ):
        yield {
            "ts": ts,
            "SeverityText": "INFO",
            "SeverityNumber": 9,
            "ServiceName": service or "",
            "Body": detail,
            "LogAttributes": {CHANGE_ATTRIBUTE: kind},
        }


def _spans(store: Store) -> Iterator[dict[str, Any]]:
    rows = store.query(
        "SELECT trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, "
        "status, peer_service, attrs FROM spans"
    )
    for trace, span, parent, service, name, kind, start, end, status, peer, attrs in rows:
        span_attrs = _strings(attrs)
        _put(span_attrs, "peer.service", peer)
        yield {
            "ts": start,
            "TraceId": trace,
            "SpanId": span,
            "ParentSpanId": parent or "",
            "SpanName": name,
            "SpanKind": SpanKind(kind).name.title(),  # "Server", as the exporter writes it
            "ServiceName": service or "",
            "ResourceAttributes": {"service.name": service or ""},
            "SpanAttributes": span_attrs,
            "Duration": end - start,
            "StatusCode": SpanStatus(status).name.title(),
        }


def _samples(store: Store) -> Iterator[dict[str, Any]]:
    rows = store.query("SELECT ts_ns, service, instance, metric, labels, value FROM samples")
    for ts, service, instance, metric, labels, value in rows:
        resource = {"service.name": service or ""}
        _put(resource, "service.instance.id", instance)
        yield {
            "ts": ts,
            "ServiceName": service or "",
            "MetricName": metric,
            "ResourceAttributes": resource,
            "Attributes": _strings(labels),
            "Value": value,
        }


_WRITTEN: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "otel_logs": (
        "Timestamp",
        [
            ("TraceId", "String"),
            ("SpanId", "String"),
            ("SeverityText", "String"),
            ("SeverityNumber", "UInt8"),
            ("ServiceName", "String"),
            ("Body", "String"),
            ("ResourceAttributes", _MAP),
            ("LogAttributes", _MAP),
        ],
    ),
    "otel_traces": (
        "Timestamp",
        [
            ("TraceId", "String"),
            ("SpanId", "String"),
            ("ParentSpanId", "String"),
            ("SpanName", "String"),
            ("SpanKind", "String"),
            ("ServiceName", "String"),
            ("ResourceAttributes", _MAP),
            ("SpanAttributes", _MAP),
            ("Duration", "UInt64"),
            ("StatusCode", "String"),
        ],
    ),
    "otel_metrics_gauge": (
        "TimeUnix",
        [
            ("ServiceName", "String"),
            ("MetricName", "String"),
            ("ResourceAttributes", _MAP),
            ("Attributes", _MAP),
            ("Value", "Float64"),
        ],
    ),
}


def _insert(session: Any, database: str, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Rows carry ``ts`` (ns) for the table's time column, the rest by column name."""
    time_column, written = _WRITTEN[table]
    structure = ", ".join(f"{name} {kind}" for name, kind in written)
    columns = ", ".join(name for name, _ in written)
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    n = 0
    try:
        with os.fdopen(fd, "w") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
                n += 1
        if n:
            session.query(
                f"INSERT INTO {database}.{table} ({time_column}, {columns}) "
                f"SELECT fromUnixTimestamp64Nano(ts), {columns} "
                f"FROM file('{path}', 'JSONEachRow', 'ts Int64, {structure}')"
            )
    finally:
        os.unlink(path)
    return n


def export(
    store: Store, session: Any, database: str = "otel", *, file_lines: bool = True
) -> dict[str, int]:
    """Create the exporter's tables in ``database`` and write the incident into them
    (``file_lines=False``: without the logs' ``log.file.*`` attributes)."""
    session.query(f"CREATE DATABASE IF NOT EXISTS {database}")
    for table, body in DDL.items():
        session.query(f"CREATE TABLE IF NOT EXISTS {database}.{table} {body}")
    return {
        "otel_logs": _insert(session, database, "otel_logs", _logs(store, file_lines=file_lines)),
        "otel_traces": _insert(session, database, "otel_traces", _spans(store)),
        "otel_metrics_gauge": _insert(session, database, "otel_metrics_gauge", _samples(store)),
    }

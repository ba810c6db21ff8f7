"""The one table of field names: which input field feeds which model column.

Structured readers (JSON lines, logfmt, CSV) look up each model field here, in priority
order; the first spelling present in a record wins. OTel's log data model, ECS, Docker's
json-file driver, Bunyan/pino, Python's logging, Logstash/GELF and the everyday spellings are
covered. A user mapping (``--map ts=when``) is tried before the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from faultwise._errors import InputError
from faultwise.telemetry._model import Severity

__all__ = ["FIELDS", "SEVERITY_WORDS", "Field", "parse_mapping"]


class Field(StrEnum):
    TS = "ts"
    MESSAGE = "message"
    SEVERITY = "severity"
    SEVERITY_NUMBER = "severity_number"
    SERVICE = "service"
    INSTANCE = "instance"
    POD = "pod"
    TRACE_ID = "trace_id"
    SPAN_ID = "span_id"
    REQUEST_ID = "request_id"
    THREAD = "thread"


# fmt: off
# Dotted names match both nested objects ({"log": {"level": ..}}) and flat keys ("log.level").
FIELDS: dict[Field, tuple[str, ...]] = {
    Field.TS: (
        "timestamp", "@timestamp", "ts", "time", "Timestamp", "TimeUnixNano", "timeUnixNano",
        "time_unix_nano", "observedTimeUnixNano", "ObservedTimestamp", "datetime", "date",
        "asctime", "eventTime", "event_time", "logtime", "log_time", "created", "t", "T",
        "_time", "__time", "time_local", "start_time", "startTime",
    ),
    Field.MESSAGE: (
        "message", "msg", "body", "Body", "body.stringValue", "log", "Log", "MESSAGE",
        "short_message", "full_message", "event", "text", "content", "Content", "textPayload",
        "jsonPayload.message", "line", "@message", "m",
    ),
    Field.SEVERITY: (
        "severity", "level", "log.level", "lvl", "levelname", "severityText", "SeverityText",
        "severity_text", "loglevel", "log_level", "logLevel", "Level", "LEVEL", "level_name",
        "priority", "status", "s",
    ),
    Field.SEVERITY_NUMBER: ("severityNumber", "SeverityNumber", "severity_number"),
    Field.SERVICE: (
        "service", "service.name", "service_name", "serviceName", "resource.service.name",
        "resource.attributes.service.name", "ServiceName", "app", "app_name", "appname",
        "application", "kubernetes.labels.app", "kubernetes.container_name",
        "kubernetes.container.name", "container_name", "container.name", "component",
        "dd.service", "syslog.appname", "program", "ident", "SYSLOG_IDENTIFIER",
    ),
    Field.INSTANCE: (
        "instance", "host", "hostname", "host.name", "host.hostname", "node", "Node",
        "nodeName", "source_host",
    ),
    Field.POD: (
        "pod", "pod_name", "podName", "PodName", "kubernetes.pod_name", "kubernetes.pod.name",
        "k8s.pod.name", "resource.k8s.pod.name",
    ),
    Field.TRACE_ID: (
        "trace_id", "traceId", "traceID", "TraceID", "TraceId", "trace.id", "trace",
        "otelTraceID", "dd.trace_id", "logging.googleapis.com/trace", "correlation_id",
        "correlationId", "CorrelationID", "x_trace_id",
    ),
    Field.SPAN_ID: (
        "span_id", "spanId", "spanID", "SpanID", "SpanId", "span.id", "otelSpanID",
        "dd.span_id", "logging.googleapis.com/spanId",
    ),
    Field.REQUEST_ID: (
        "request_id", "requestId", "requestID", "RequestID", "req_id", "reqId", "x_request_id",
        "X-Request-ID", "http.request.id", "request.id", "rid",
    ),
    Field.THREAD: (
        "thread", "thread_name", "threadName", "threadname", "process.thread.name",
        "process.thread.id", "thread_id", "threadId", "tid", "goroutine",
    ),
}
# fmt: on

# Level words (upper case) and what they mean. Single letters are logcat, glog and klog.
SEVERITY_WORDS: dict[str, Severity] = {  # the common spellings first: SQL tests in this order
    "INFO": Severity.INFO,
    "DEBUG": Severity.DEBUG,
    "WARN": Severity.WARN,
    "ERROR": Severity.ERROR,
    "WARNING": Severity.WARN,
    **dict.fromkeys(["TRACE", "TRC", "FINEST", "FINER", "VERBOSE", "V", "T"], Severity.TRACE),
    **dict.fromkeys(
        ["DEBUG", "DBG", "FINE", "CONFIG", "D", "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5"],
        Severity.DEBUG,
    ),
    **dict.fromkeys(
        ["INFO", "INF", "INFORMATION", "INFORMATIONAL", "NOTICE", "I", "LOG"], Severity.INFO
    ),
    **dict.fromkeys(["WARN", "WARNING", "WRN", "W"], Severity.WARN),
    **dict.fromkeys(["ERROR", "ERR", "SEVERE", "E", "FAIL", "FAILURE"], Severity.ERROR),
    **dict.fromkeys(
        ["FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC", "F", "C", "A"],
        Severity.FATAL,
    ),
}


def parse_mapping(specs: Mapping[str, str] | list[str] | None) -> dict[Field, str]:
    """Turn ``["ts=when", "message=text"]`` (or a dict) into an explicit field mapping."""
    if not specs:
        return {}
    pairs = specs.items() if isinstance(specs, Mapping) else [_split(s) for s in specs]
    mapping: dict[Field, str] = {}
    for name, source in pairs:
        try:
            mapping[Field(name)] = source
        except ValueError:
            known = ", ".join(f.value for f in Field)
            raise InputError(f"unknown field {name!r} in --map (known: {known})") from None
    return mapping


def _split(spec: str) -> tuple[str, str]:
    name, eq, source = spec.partition("=")
    if not eq or not name or not source:
        raise InputError(f"--map takes FIELD=NAME, got {spec!r}")
    return name.strip(), source.strip()


class SpanField(StrEnum):
    TRACE_ID = "trace_id"
    SPAN_ID = "span_id"
    PARENT_ID = "parent_span_id"
    SERVICE = "service"
    POD = "pod"
    NAME = "name"
    KIND = "kind"
    START = "start"
    END = "end"
    DURATION = "duration"
    STATUS = "status"
    PEER = "peer_service"


# Span tables (CSV exports of Jaeger, Tempo, Nezha and friends). Durations without a unit in
# the column name are microseconds, Jaeger's unit; suffixed names say theirs.
# fmt: off
SPAN_FIELDS: dict[SpanField, tuple[str, ...]] = {
    SpanField.TRACE_ID: ("trace_id", "traceid", "trace.id", "traceID"),
    SpanField.SPAN_ID: ("span_id", "spanid", "span.id", "spanID", "id"),
    SpanField.PARENT_ID: (
        "parent_span_id", "parentspanid", "parentid", "parent_id", "parent", "parentspan",
        "references",
    ),
    SpanField.SERVICE: ("service", "servicename", "service_name", "service.name", "process"),
    SpanField.POD: ("podname", "pod", "pod_name", "k8s.pod.name", "instance", "host"),
    SpanField.NAME: (
        "operationname", "operation_name", "operation", "spanname", "span_name", "name",
        "endpoint", "method",
    ),
    SpanField.KIND: ("spankind", "span_kind", "kind"),
    SpanField.START: (
        "starttimeunixnano", "start_time_unix_nano", "start_ns", "starttime", "start_time",
        "start", "timestamp", "start_us", "start_ms",
    ),
    SpanField.END: (
        "endtimeunixnano", "end_time_unix_nano", "end_ns", "endtime", "end_time", "end",
        "end_us", "end_ms",
    ),
    SpanField.DURATION: (
        "duration_ns", "duration_us", "duration_ms", "duration_s", "duration", "elapsed",
        "latency",
    ),
    SpanField.STATUS: ("statuscode", "status_code", "status", "otel.status_code", "error"),
    SpanField.PEER: ("peer_service", "peer.service", "peerservice", "destination_service"),
}
# fmt: on

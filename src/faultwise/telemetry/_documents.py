"""Whole-document formats, parsed in Python (they are small next to logs): OTLP JSON (logs,
traces and metrics as the OpenTelemetry Collector's file exporter writes them, one request per
line), Jaeger JSON, Zipkin v2 JSON, Kubernetes events (``kubectl get events -o json``),
Prometheus ``query_range``/``query`` JSON and the Prometheus text exposition format."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from faultwise.telemetry._fields import SEVERITY_WORDS
from faultwise.telemetry._model import (
    Change,
    ChangeKind,
    Format,
    LogRecord,
    Reject,
    Sample,
    Severity,
    Span,
    SpanKind,
    SpanStatus,
    Table,
)
from faultwise.telemetry._services import service_from_pod
from faultwise.telemetry._source import KEEP_REJECTS, Source, read_all, reject_text
from faultwise.telemetry._timestamps import parse_timestamp

__all__ = ["DOCUMENT_FORMATS", "Rows", "read_document", "sniff_document"]

DOCUMENT_FORMATS = frozenset(
    {
        Format.OTLP_JSON,
        Format.JAEGER_JSON,
        Format.ZIPKIN_JSON,
        Format.K8S_EVENTS,
        Format.PROM_QUERY_RANGE,
        Format.PROM_TEXT,
    }
)
_PROM_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_K8S_CHANGES = {
    "OOMKilling": ChangeKind.OOM_KILL,
    "OOMKilled": ChangeKind.OOM_KILL,
    "Killing": ChangeKind.RESTART,
    "BackOff": ChangeKind.RESTART,
    "Started": ChangeKind.RESTART,
    "ScalingReplicaSet": ChangeKind.SCALE,
    "SuccessfulRescale": ChangeKind.SCALE,
    "Pulled": ChangeKind.DEPLOY,
    "SuccessfulCreate": ChangeKind.DEPLOY,
}


@dataclass
class Rows:
    """What a document reader produced, and what it could not read."""

    logs: list[LogRecord] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def reject(self, src: Source, line: int, reason: str, text: str | bytes = "") -> None:
        self.rejected += 1
        if len(self.rejects) < KEEP_REJECTS:
            self.rejects.append(Reject(src.name, line, reason, reject_text(text)))

    def by_table(self) -> dict[Table, list[Any]]:
        return {
            Table.LOGS: self.logs,
            Table.SPANS: self.spans,
            Table.SAMPLES: self.samples,
            Table.CHANGES: self.changes,
        }


def sniff_document(text: str) -> Format | None:
    """The document format of a file starting with ``text``, or None."""
    head = text.lstrip()[:65536]
    if head.startswith("["):
        return Format.ZIPKIN_JSON if '"traceId"' in head and '"id"' in head else None
    if head.startswith("{"):
        for key, fmt in (
            ('"resourceLogs"', Format.OTLP_JSON),
            ('"resourceSpans"', Format.OTLP_JSON),
            ('"resourceMetrics"', Format.OTLP_JSON),
        ):
            if key in head[:2000]:
                return fmt
        if '"resultType"' in head:
            return Format.PROM_QUERY_RANGE
        if '"traceID"' in head and '"spans"' in head and '"data"' in head[:200]:
            return Format.JAEGER_JSON
        if re.search(r'"kind"\s*:\s*"(EventList|List)"', head) and '"involvedObject"' in head:
            return Format.K8S_EVENTS
        return None
    lines = [x for x in head.splitlines()[:50] if x.strip()]
    prom = [x for x in lines if x.startswith(("# TYPE ", "# HELP "))]
    if prom and all(x.startswith("#") or _PROM_LINE.match(x) for x in lines[:-1]):
        return Format.PROM_TEXT
    return None


def _documents(src: Source, rows: Rows) -> Iterator[tuple[int, Any]]:
    """The JSON values of ``src``: one per line when it is JSON lines, else the whole file."""
    data, damaged = read_all(src)
    if damaged:
        rows.reject(src, data.count(b"\n") + 1, f"unreadable from here on ({damaged})")
    try:
        yield 1, orjson.loads(data)
        return
    except orjson.JSONDecodeError:
        pass
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, orjson.loads(line)
        except orjson.JSONDecodeError:
            rows.reject(src, n, "not JSON", line)


def read_document(src: Source, fmt: Format, *, mtime_ns: int) -> Rows:
    """Parse ``src`` as ``fmt`` into model rows."""
    rows = Rows()
    if fmt is Format.PROM_TEXT:
        _prom_text(src, rows, mtime_ns)
        return rows
    readers: dict[Format, Callable[[Any, Rows, Source, int], None]] = {
        Format.OTLP_JSON: _otlp,
        Format.JAEGER_JSON: _jaeger,
        Format.ZIPKIN_JSON: _zipkin,
        Format.K8S_EVENTS: _k8s_events,
        Format.PROM_QUERY_RANGE: _prom_json,
    }
    reader = readers[fmt]
    for line, doc in _documents(src, rows):
        try:
            reader(doc, rows, src, line)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            rows.reject(src, line, f"unexpected {fmt.value} shape ({type(exc).__name__}: {exc})")
    return rows


# -- OTLP ---------------------------------------------------------------------------------


def _any_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return _attrs(v["kvlistValue"].get("values", []))
    return None


def _attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {a["key"]: _any_value(a.get("value")) for a in items or []}


def _json(obj: dict[str, Any]) -> str | None:
    return orjson.dumps(obj, default=str).decode() if obj else None


def _resource(res: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    attrs = _attrs((res.get("resource") or {}).get("attributes"))
    pod = attrs.get("k8s.pod.name")
    service = attrs.get("service.name") or (service_from_pod(pod) if pod else None)
    instance = pod or attrs.get("service.instance.id") or attrs.get("host.name")
    return service, instance, attrs


def _hex(value: Any) -> str | None:
    return str(value).lower() if value else None


def _otlp(doc: dict[str, Any], rows: Rows, src: Source, line: int) -> None:
    for res in doc.get("resourceLogs", []):
        service, instance, _ = _resource(res)
        for scope in res.get("scopeLogs", []):
            for rec in scope.get("logRecords", []):
                ts = int(rec.get("timeUnixNano") or rec.get("observedTimeUnixNano") or 0)
                if not ts:
                    rows.reject(src, line, "log record without a time")
                    continue
                sev = Severity.from_number(int(rec.get("severityNumber") or 0))
                if sev is Severity.UNKNOWN:
                    sev = SEVERITY_WORDS.get(str(rec.get("severityText", "")).upper(), sev)
                body = _any_value(rec.get("body"))
                attrs = _attrs(rec.get("attributes"))
                rows.logs.append(
                    LogRecord(
                        ts,
                        body if isinstance(body, str) else orjson.dumps(body).decode(),
                        service,
                        instance,
                        sev,
                        trace_id=_hex(rec.get("traceId")),
                        span_id=_hex(rec.get("spanId")),
                        thread=attrs.get("thread.name"),
                        attrs=_json(attrs),
                        source_file=src.name,
                        source_line=line,
                    )
                )
    for res in doc.get("resourceSpans", []):
        service, _, _ = _resource(res)
        for scope in res.get("scopeSpans", []):
            for s in scope.get("spans", []):
                if not s.get("traceId") or not s.get("spanId"):
                    rows.reject(src, line, "span without trace or span id")
                    continue
                attrs = _attrs(s.get("attributes"))
                rows.spans.append(
                    Span(
                        _hex(s["traceId"]) or "",
                        _hex(s["spanId"]) or "",
                        int(s.get("startTimeUnixNano", 0)),
                        int(s.get("endTimeUnixNano", 0)),
                        s.get("name", ""),
                        _hex(s.get("parentSpanId")),
                        service,
                        _kind(s.get("kind")),
                        _status((s.get("status") or {}).get("code")),
                        attrs.get("peer.service"),
                        _json(attrs),
                    )
                )
    for res in doc.get("resourceMetrics", []):
        service, instance, _ = _resource(res)
        for scope in res.get("scopeMetrics", []):
            for metric in scope.get("metrics", []):
                _otlp_metric(metric, service, instance, rows)


def _otlp_metric(
    metric: dict[str, Any], service: str | None, instance: str | None, rows: Rows
) -> None:
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", metric.get("name", ""))

    def add(ts: Any, suffix: str, value: Any, labels: dict[str, Any]) -> None:
        if value is None:
            return
        rows.samples.append(
            Sample(int(ts or 0), name + suffix, float(value), service, instance, _json(labels))
        )

    for kind in ("gauge", "sum"):
        for p in (metric.get(kind) or {}).get("dataPoints", []):
            value = p.get("asDouble", p.get("asInt"))
            add(p.get("timeUnixNano"), "", value, _attrs(p.get("attributes")))
    for p in (metric.get("histogram") or {}).get("dataPoints", []):
        labels = _attrs(p.get("attributes"))
        add(p.get("timeUnixNano"), "_count", p.get("count"), labels)
        add(p.get("timeUnixNano"), "_sum", p.get("sum"), labels)
        running = 0
        bounds = [*p.get("explicitBounds", []), "+Inf"]
        for bound, n in zip(bounds, p.get("bucketCounts", []), strict=False):
            running += int(n)
            add(p.get("timeUnixNano"), "_bucket", running, {**labels, "le": str(bound)})
    for p in (metric.get("summary") or {}).get("dataPoints", []):
        labels = _attrs(p.get("attributes"))
        for q in p.get("quantileValues", []):
            add(
                p.get("timeUnixNano"),
                "",
                q.get("value"),
                {**labels, "quantile": str(q.get("quantile", 0))},
            )


def _kind(value: Any) -> SpanKind:
    if isinstance(value, int):
        return SpanKind(value) if 0 <= value <= 5 else SpanKind.UNSPECIFIED
    text = str(value or "").upper().removeprefix("SPAN_KIND_")
    return SpanKind[text] if text in SpanKind.__members__ else SpanKind.UNSPECIFIED


def _status(value: Any) -> SpanStatus:
    if isinstance(value, int):
        return SpanStatus(value) if 0 <= value <= 2 else SpanStatus.UNSET
    text = str(value or "").upper().removeprefix("STATUS_CODE_")
    return SpanStatus[text] if text in SpanStatus.__members__ else SpanStatus.UNSET


# -- Jaeger and Zipkin --------------------------------------------------------------------


def _jaeger(doc: dict[str, Any], rows: Rows, src: Source, line: int) -> None:
    for trace in doc.get("data", []):
        processes = trace.get("processes", {})
        for s in trace.get("spans", []):
            tags = {t["key"]: t.get("value") for t in s.get("tags", [])}
            proc = processes.get(s.get("processID"), {})
            parent = next(
                (
                    r.get("spanID")
                    for r in s.get("references", [])
                    if r.get("refType") == "CHILD_OF"
                ),
                None,
            )
            start = int(s.get("startTime", 0)) * 1000
            error = tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"
            rows.spans.append(
                Span(
                    str(s.get("traceID", "")).lower(),
                    str(s.get("spanID", "")).lower(),
                    start,
                    start + int(s.get("duration", 0)) * 1000,
                    s.get("operationName", ""),
                    _hex(parent),
                    proc.get("serviceName"),
                    _kind(tags.get("span.kind")),
                    SpanStatus.ERROR if error else SpanStatus.UNSET,
                    tags.get("peer.service"),
                    _json(tags),
                )
            )


def _zipkin(doc: list[dict[str, Any]], rows: Rows, src: Source, line: int) -> None:
    for s in doc:
        if not s.get("traceId") or not s.get("id"):
            rows.reject(src, line, "span without traceId or id")
            continue
        start = int(s.get("timestamp", 0)) * 1000
        tags = s.get("tags") or {}
        rows.spans.append(
            Span(
                str(s["traceId"]).lower(),
                str(s["id"]).lower(),
                start,
                start + int(s.get("duration", 0)) * 1000,
                s.get("name", ""),
                _hex(s.get("parentId")),
                (s.get("localEndpoint") or {}).get("serviceName"),
                _kind(s.get("kind")),
                SpanStatus.ERROR if "error" in tags else SpanStatus.UNSET,
                (s.get("remoteEndpoint") or {}).get("serviceName"),
                _json(tags),
            )
        )


# -- Kubernetes events --------------------------------------------------------------------


def _k8s_events(doc: dict[str, Any], rows: Rows, src: Source, line: int) -> None:
    for i, ev in enumerate(doc.get("items", []), 1):
        meta = ev.get("metadata") or {}
        when = (
            ev.get("lastTimestamp")
            or ev.get("eventTime")
            or ev.get("firstTimestamp")
            or meta.get("creationTimestamp")
        )
        ts = parse_timestamp(when) if when else None
        if ts is None:
            rows.reject(src, line, f"event {i} without a readable time")
            continue
        obj = ev.get("involvedObject") or {}
        name = obj.get("name") or ""
        service = service_from_pod(name) if obj.get("kind") == "Pod" else name or None
        reason = ev.get("reason") or ""
        text = f"{obj.get('kind', '')}/{name} {reason}: {ev.get('message', '')}".strip()
        sev = Severity.WARN if ev.get("type") == "Warning" else Severity.INFO
        rows.logs.append(
            LogRecord(
                ts,
                text,
                service,
                name or None,
                sev,
                attrs=_json(
                    {"reason": reason, "count": ev.get("count"), "namespace": obj.get("namespace")}
                ),
                source_file=src.name,
                source_line=line,
            )
        )
        kind = _K8S_CHANGES.get(reason)
        if kind is ChangeKind.RESTART and reason == "Started" and ev.get("count", 1) in (1, None):
            kind = None  # a first start is not a restart
        if kind is not None:
            rows.changes.append(Change(ts, kind, text, service))


# -- Prometheus -----------------------------------------------------------------------------


def _label_service(labels: dict[str, str]) -> tuple[str | None, str | None]:
    pod = labels.get("pod") or labels.get("pod_name")
    service = (
        labels.get("service")
        or labels.get("service_name")
        or labels.get("app")
        or labels.get("container")
        or (service_from_pod(pod) if pod else None)
        or labels.get("job")
    )
    return service, pod or labels.get("instance")


def _prom_json(doc: dict[str, Any], rows: Rows, src: Source, line: int) -> None:
    data = doc.get("data") or {}
    for series in data.get("result", []):
        labels = dict(series.get("metric") or {})
        name = labels.pop("__name__", "value")
        service, instance = _label_service(labels)
        points = series.get("values") or ([series["value"]] if "value" in series else [])
        for ts, value in points:
            rows.samples.append(
                Sample(round(float(ts) * 1e9), name, float(value), service, instance, _json(labels))
            )


def _prom_text(src: Source, rows: Rows, mtime_ns: int) -> None:
    data, damaged = read_all(src)
    if damaged:
        rows.reject(src, data.count(b"\n") + 1, f"unreadable from here on ({damaged})")
    text = data.decode("utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _PROM_LINE.match(line)
        if m is None:
            rows.reject(src, n, "not a Prometheus sample line", line)
            continue
        labels = {
            k: v.replace('\\"', '"').replace("\\\\", "\\")
            for k, v in _PROM_LABEL.findall(m.group(3) or "")
        }
        try:
            value = float(m.group(4))
        except ValueError:
            rows.reject(src, n, "not a number", line)
            continue
        ts = int(m.group(5)) * 1_000_000 if m.group(5) else mtime_ns
        service, instance = _label_service(labels)
        rows.samples.append(Sample(ts, m.group(1), value, service, instance, _json(labels)))

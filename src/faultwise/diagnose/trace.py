"""Follow one request: every log line and span of a trace or request id, across services.

    result = follow(store, "ffc8ca7e4c8f06c75142c880d5595d96")
    result.stopped_at      # the last thing that happened, and where
    result.critical_path   # the spans that made the request as slow as it was

"Find the last log entry for a trace ID: that's where the request stopped." The id is looked up
in ``trace_id`` and ``request_id`` of logs and spans; when nothing has it there, in the text of
log messages (logs without structured ids). A unique prefix of at least 8 characters is enough.

The span tree gives each span's duration and self time (its duration minus the time covered by
its children). The critical path is computed as Jaeger does: from the root, repeatedly take
the child that finished last before the current point, then continue from where it started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faultwise._errors import InputError
from faultwise.telemetry import IngestSummary, Severity, SpanKind, SpanStatus, Store

__all__ = ["SpanNode", "StoppedAt", "TraceLog", "TraceResult", "follow"]


@dataclass(frozen=True, slots=True)
class SpanNode:
    span_id: str
    parent_span_id: str | None
    service: str | None
    name: str
    kind: SpanKind
    status: SpanStatus
    start_ns: int
    end_ns: int
    self_ns: int
    depth: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class TraceLog:
    ts_ns: int | None
    service: str | None
    severity: Severity
    message: str
    source: str
    span_id: str | None


@dataclass(frozen=True, slots=True)
class StoppedAt:
    service: str | None
    ts_ns: int
    message: str


@dataclass(frozen=True, slots=True)
class TraceResult:
    trace_id: str
    spans: tuple[SpanNode, ...]  # depth-first, children by start time
    logs: tuple[TraceLog, ...]  # in time order
    services: tuple[str, ...]  # in order of first appearance
    stopped_at: StoppedAt | None
    critical_path: tuple[SpanNode, ...]
    matched_by: str  # "trace_id", "request_id" or "message text"
    inputs: IngestSummary


_LOGS = (
    "SELECT ts_ns, service, severity, message, source_file || ':' || source_line, span_id "
    "FROM logs WHERE {where} ORDER BY ts_ns NULLS LAST, source_file, source_line"
)


def _logs(store: Store, where: str, ident: str) -> tuple[TraceLog, ...]:
    return tuple(
        TraceLog(ts, service, Severity.from_number(int(sev or 0)), msg or "", src, span_id)
        for ts, service, sev, msg, src, span_id in store.query(_LOGS.format(where=where), [ident])
    )


def _prefix(store: Store, ident: str, wanted: str) -> str | None:
    found = store.query(
        "SELECT DISTINCT trace_id FROM (SELECT trace_id FROM spans WHERE "
        "starts_with(trace_id, ?) UNION SELECT trace_id FROM logs WHERE "
        "starts_with(trace_id, ?)) LIMIT 2",
        [ident, ident],
    )
    if len(found) > 1:
        raise InputError(f"{wanted!r} is the start of more than one trace id; give more of it")
    return str(found[0][0]) if found else None


def follow(store: Store, wanted: str) -> TraceResult:
    """Everything ``store`` knows about the request ``wanted``.

    One scan per table in the common case (a full trace id): the lookups by request id, by
    a prefix of the id and by message text run only when the one before found nothing."""
    ident = wanted.strip().lower()
    matched_by = "trace_id"
    logs = _logs(store, "trace_id = ?", ident)
    spans = _spans(store, ident)
    if not logs and not spans:
        logs, matched_by = _logs(store, "request_id = ?", wanted.strip()), "request_id"
    if not logs and not spans and len(ident) >= 8:
        full = _prefix(store, ident, wanted)
        if full is not None:
            ident, matched_by = full, "trace_id"
            logs, spans = _logs(store, "trace_id = ?", ident), _spans(store, ident)
    if not logs and not spans:
        logs, matched_by = _logs(store, "contains(lower(message), ?)", ident), "message text"
    if not logs and not spans:
        raise InputError(f"no log line or span has the trace or request id {wanted!r}")
    return TraceResult(
        trace_id=ident,
        spans=spans,
        logs=logs,
        services=_services(spans, logs),
        stopped_at=_stopped_at(spans, logs),
        critical_path=_critical_path(spans),
        matched_by=matched_by,
        inputs=store.summary,
    )


def _services(spans: tuple[SpanNode, ...], logs: tuple[TraceLog, ...]) -> tuple[str, ...]:
    events = [(s.start_ns, s.service) for s in spans] + [
        (g.ts_ns, g.service) for g in logs if g.ts_ns is not None
    ]
    seen: dict[str, None] = {}
    for _, service in sorted(events, key=lambda e: e[0]):
        if service:
            seen.setdefault(service, None)
    return tuple(seen)


def _stopped_at(spans: tuple[SpanNode, ...], logs: tuple[TraceLog, ...]) -> StoppedAt | None:
    """The last log line; with spans only, the last span to start among the failed ones, else
    among the leaves (spans that closed later are the callers unwinding)."""
    timed = [g for g in logs if g.ts_ns is not None]
    if timed:
        last = max(timed, key=lambda g: g.ts_ns or 0)
        return StoppedAt(last.service, last.ts_ns or 0, last.message)
    if not spans:
        return None
    parents = {s.parent_span_id for s in spans}
    failed = [s for s in spans if s.status is SpanStatus.ERROR]
    leaves = [s for s in spans if s.span_id not in parents]
    span = max(failed or leaves or list(spans), key=lambda s: s.start_ns)
    status = "" if span.status is SpanStatus.UNSET else f" ({span.status.label})"
    return StoppedAt(span.service, span.end_ns, f"span {span.name} ended{status}")


def _spans(store: Store, trace_id: str) -> tuple[SpanNode, ...]:
    rows = store.query(
        "SELECT span_id, parent_span_id, service, name, kind, status, start_ns, end_ns "
        "FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id",
        [trace_id],
    )
    ids = {r[0] for r in rows}
    children: dict[str | None, list[tuple[Any, ...]]] = {}
    for r in rows:
        parent = r[1] if r[1] in ids and r[1] != r[0] else None  # orphans become roots
        children.setdefault(parent, []).append(r)
    out: list[SpanNode] = []
    visited: set[str] = set()

    def walk(row: tuple[Any, ...], depth: int) -> None:
        span_id = str(row[0])
        if span_id in visited:  # a cycle in bad data: show each span once
            return
        visited.add(span_id)
        start, end = int(row[6]), int(row[7])
        kids = children.get(span_id, [])
        covered = _covered(start, end, [(int(k[6]), int(k[7])) for k in kids])
        out.append(
            SpanNode(
                span_id,
                row[1] if row[1] else None,
                row[2],
                str(row[3] or ""),
                SpanKind(int(row[4] or 0)),
                SpanStatus(int(row[5] or 0)),
                start,
                end,
                max(0, end - start - covered),
                depth,
            )
        )
        for kid in kids:
            walk(kid, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return tuple(out)


def _covered(start: int, end: int, intervals: list[tuple[int, int]]) -> int:
    """Length of the union of ``intervals`` clipped to [start, end]."""
    total, cursor = 0, start
    for lo, hi in sorted(intervals):
        a, b = max(lo, cursor), min(hi, end)
        if b > a:
            total += b - a
            cursor = b
    return total


def _critical_path(spans: tuple[SpanNode, ...]) -> tuple[SpanNode, ...]:
    by_parent: dict[str | None, list[SpanNode]] = {}
    for s in spans:
        by_parent.setdefault(s.parent_span_id if s.depth else None, []).append(s)
    roots = by_parent.get(None, [])
    if not roots:
        return ()
    path: list[SpanNode] = []

    def descend(span: SpanNode) -> None:
        path.append(span)
        point = span.end_ns
        kids = list(by_parent.get(span.span_id, []))
        while True:  # the child that finished last before ``point`` (late ends trimmed)
            before = [k for k in kids if k.start_ns < point]
            if not before:
                break
            kid = max(before, key=lambda k: min(k.end_ns, point))
            kids.remove(kid)
            descend(kid)
            point = kid.start_ns

    descend(max(roots, key=lambda r: r.duration_ns))
    return tuple(sorted(path, key=lambda s: (s.start_ns, s.depth)))

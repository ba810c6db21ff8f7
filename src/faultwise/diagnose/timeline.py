"""One chronological view across services: events, repeats collapsed, and markers.

    from faultwise.telemetry import load
    from faultwise.diagnose.timeline import TimelineQuery, build_timeline
    timeline = build_timeline(load(["incident/"]), TimelineQuery(min_severity=Severity.WARN))

Markers point at what a person looks for first: the first error of each service, the first
appearance of a log template that was not there at the start (the first tenth of the time
span, at least a minute, is the baseline), and changes (deploys, config changes, restarts,
OOM kills, scaling). Consecutive events of one service with one template and level collapse
into one row with a count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from faultwise._errors import InputError
from faultwise.telemetry import IngestSummary, Severity, Store
from faultwise.telemetry._templates import ensure_templates
from faultwise.telemetry._timestamps import parse_timestamp

__all__ = [
    "Marker",
    "MarkerKind",
    "Timeline",
    "TimelineEvent",
    "TimelineQuery",
    "build_timeline",
    "parse_duration",
    "parse_time",
]

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
}
_BASELINE_SHARE = 0.1
_BASELINE_MIN_NS = 60 * 10**9
_MAX_TEMPLATE_MARKERS = 20


class MarkerKind(StrEnum):
    FIRST_ERROR = "first_error"
    NEW_TEMPLATE = "new_template"
    CHANGE = "change"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One row: a log line, or a run of ``count`` repeats ending at ``last_ns``."""

    ts_ns: int
    service: str | None
    severity: Severity
    message: str
    source: str
    template_id: int | None = None
    count: int = 1
    last_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Marker:
    ts_ns: int
    kind: MarkerKind
    service: str | None
    text: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """Filters: services, a time range, a minimum level, a pattern; ``limit`` rows."""

    services: tuple[str, ...] = ()
    since_ns: int | None = None
    until_ns: int | None = None
    min_severity: Severity = Severity.UNKNOWN
    grep: str | None = None
    collapse: bool = True
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    events: tuple[TimelineEvent, ...]
    markers: tuple[Marker, ...]
    matched: int  # log lines matching the filters (before collapsing and the limit)
    untimed: int  # log lines without a timestamp (not on a timeline)
    inputs: IngestSummary = field(default_factory=IngestSummary)

    @property
    def rejected(self) -> int:
        return self.inputs.rejected


def parse_duration(text: str) -> int:
    """``"5m"`` -> ns. Units: ns, us, ms, s, m, h, d; a bare number is seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)?\s*", text)
    if not m:
        raise InputError(f"not a duration: {text!r} (examples: 90s, 5m, 1h)")
    return round(float(m.group(1)) * _UNITS[m.group(2) or "s"])


def parse_time(text: str, store: Store) -> int:
    """An absolute time (RFC 3339, ISO 8601, epoch) or a time of day on the data's first day."""
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?", text.strip()):
        first = store.scalar("SELECT min(ts_ns) FROM logs")
        first = first if first is not None else store.scalar("SELECT min(start_ns) FROM spans")
        if first is None:
            raise InputError(f"a time of day ({text}) needs data with dates")
        day = _day(int(first))
        value = parse_timestamp(f"{day} {text.strip()}")
    else:
        value = parse_timestamp(text)
    if value is None:
        raise InputError(f"not a time: {text!r} (examples: 2026-01-29T08:43:00Z, 08:43)")
    return value


def _day(ns: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(ns // 10**9))


def _where(q: TimelineQuery) -> tuple[str, list[object]]:
    clauses = ["ts_ns IS NOT NULL"]
    params: list[object] = []
    if q.services:
        clauses.append(f"service IN ({', '.join('?' * len(q.services))})")
        params.extend(q.services)
    if q.since_ns is not None:
        clauses.append("ts_ns >= ?")
        params.append(q.since_ns)
    if q.until_ns is not None:
        clauses.append("ts_ns <= ?")
        params.append(q.until_ns)
    if q.min_severity > Severity.UNKNOWN:
        clauses.append("severity >= ?")
        params.append(int(q.min_severity))
    if q.grep:
        clauses.append("regexp_matches(message, ?, 'i')")
        params.append(q.grep)
    return " AND ".join(clauses), params


def build_timeline(store: Store, query: TimelineQuery | None = None) -> Timeline:
    """The events and markers of ``store`` that match ``query``, in time order."""
    q = query or TimelineQuery()
    ensure_templates(store)  # repeats collapse and new templates are marked by template
    if q.grep:
        try:
            re.compile(q.grep)
        except re.error as exc:
            raise InputError(f"--grep is not a valid regular expression: {exc}") from None
    where, params = _where(q)
    # Runs of one service, template and level collapse (gaps and islands).
    run_break = (
        "CASE WHEN service IS NOT DISTINCT FROM lag(service) OVER w "
        "AND template_id IS NOT DISTINCT FROM lag(template_id) OVER w "
        "AND severity = lag(severity) OVER w THEN 0 ELSE 1 END"
        if q.collapse
        else "1"
    )
    limit = f"LIMIT {int(q.limit)}" if q.limit else ""
    rows = store.query(
        "SELECT min(ts_ns), arg_min(service, k), arg_min(severity, k), arg_min(message, k), "
        "arg_min(source_file || ':' || source_line, k), arg_min(template_id, k), count(*), "
        "max(ts_ns) FROM (SELECT *, sum(brk) OVER (ORDER BY k ROWS UNBOUNDED PRECEDING) AS run "
        f"FROM (SELECT *, {run_break} AS brk FROM (SELECT *, row_number() OVER "
        "(ORDER BY ts_ns, source_file, source_line) AS k FROM logs "
        f"WHERE {where}) WINDOW w AS (ORDER BY k))) GROUP BY run ORDER BY min(k) {limit}",
        params,
    )
    events = tuple(
        TimelineEvent(
            ts_ns=int(ts),
            service=service,
            severity=_severity(sev),
            message=message or "",
            source=source or "",
            template_id=template_id,
            count=int(n),
            last_ns=int(last) if n > 1 else None,
        )
        for ts, service, sev, message, source, template_id, n, last in rows
    )
    matched = int(store.scalar(f"SELECT count(*) FROM logs WHERE {where}", params) or 0)
    untimed = int(store.scalar("SELECT count(*) FROM logs WHERE ts_ns IS NULL") or 0)
    markers = _markers(store, q)
    return Timeline(events, markers, matched, untimed, store.summary)


def _severity(value: int | None) -> Severity:
    try:
        return Severity(int(value or 0))
    except ValueError:
        return Severity.from_number(int(value or 0))


def _in_range(q: TimelineQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if q.since_ns is not None:
        clauses.append("ts >= ?")
        params.append(q.since_ns)
    if q.until_ns is not None:
        clauses.append("ts <= ?")
        params.append(q.until_ns)
    if q.services:
        clauses.append(f"service IN ({', '.join('?' * len(q.services))})")
        params.extend(q.services)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _markers(store: Store, q: TimelineQuery) -> tuple[Marker, ...]:
    where, params = _in_range(q)
    markers: list[Marker] = []
    for ts, service, message, source in store.query(
        "SELECT * FROM (SELECT min(ts_ns) AS ts, service, arg_min(message, ts_ns), "
        "arg_min(source_file || ':' || source_line, ts_ns) FROM logs "
        f"WHERE severity >= {int(Severity.ERROR)} AND ts_ns IS NOT NULL GROUP BY service)"
        f"{where}",
        params,
    ):
        markers.append(Marker(int(ts), MarkerKind.FIRST_ERROR, service, message or "", source))
    span = store.query("SELECT min(ts_ns), max(ts_ns) FROM logs WHERE ts_ns IS NOT NULL")
    if span and span[0][0] is not None:
        start, end = int(span[0][0]), int(span[0][1])
        baseline = start + max(_BASELINE_MIN_NS, int((end - start) * _BASELINE_SHARE))
        for ts, service, template, source in store.query(
            "SELECT * FROM (SELECT min(l.ts_ns) AS ts, arg_min(l.service, l.ts_ns) AS service, "
            "any_value(t.template), arg_min(l.source_file || ':' || l.source_line, l.ts_ns) "
            "FROM logs l JOIN templates t USING (template_id) WHERE l.ts_ns IS NOT NULL "
            f"GROUP BY template_id HAVING min(l.ts_ns) > {baseline} "
            f"AND arg_min(l.severity, l.ts_ns) >= {int(q.min_severity)})"
            f"{where} ORDER BY ts LIMIT {_MAX_TEMPLATE_MARKERS}",
            params,
        ):
            markers.append(
                Marker(int(ts), MarkerKind.NEW_TEMPLATE, service, f"new: {template}", source)
            )
    for ts, service, kind, detail in store.query(
        f"SELECT ts_ns AS ts, service, kind, detail FROM changes{where}", params
    ):
        markers.append(Marker(int(ts), MarkerKind.CHANGE, service, f"{kind}: {detail}"))
    markers.sort(key=lambda m: (m.ts_ns, m.kind.value, m.service or ""))
    return tuple(markers)

"""Clock skew between sources, seen through the requests they share.

A log line written inside a span happens between the span's start and end. When the lines of
one source (a file) fall outside their spans by the same amount again and again, that
source's clock is off: by whole hours, a local time written as UTC; otherwise, skew between
hosts. Lines carrying a span id are compared with that span, lines with only a trace id with
the whole trace's span range. Sources without spans in common are not compared.
"""

from __future__ import annotations

from faultwise.telemetry._logsql import clock_findings
from faultwise.telemetry._model import ClockFinding
from faultwise.telemetry._store import Store

__all__ = ["check_clocks"]

_MIN_LINES = 20  # fewer shared lines than this prove nothing


def check_clocks(store: Store, sources: list[str]) -> tuple[ClockFinding, ...]:
    """Findings for ``sources`` (files just read) against the spans in ``store``."""
    if not sources or not store.scalar("SELECT count(*) FROM spans"):
        return ()
    outside = (
        "CASE WHEN l.ts_ns < lo THEN l.ts_ns::HUGEINT - lo "
        "WHEN l.ts_ns > hi THEN l.ts_ns::HUGEINT - hi ELSE 0 END"
    )
    marks = ", ".join("?" * len(sources))
    rows = store.query(
        f"SELECT l.source_file, TRY_CAST(median({outside}) AS BIGINT), count(*) FROM logs l "
        "JOIN (SELECT trace_id, span_id, start_ns AS lo, end_ns AS hi FROM spans) s "
        "ON l.trace_id = s.trace_id AND l.span_id = s.span_id "
        f"WHERE l.source_file IN ({marks}) AND l.ts_ns IS NOT NULL GROUP BY 1 "
        "UNION ALL "
        f"SELECT l.source_file, TRY_CAST(median({outside}) AS BIGINT), count(*) FROM logs l "
        "JOIN (SELECT trace_id, min(start_ns) AS lo, max(end_ns) AS hi FROM spans GROUP BY 1) s "
        "ON l.trace_id = s.trace_id "
        f"WHERE l.source_file IN ({marks}) AND l.span_id IS NULL AND l.ts_ns IS NOT NULL "
        "GROUP BY 1",
        [*sources, *sources],
    )
    findings: list[ClockFinding] = []
    for source, offset, n in rows:
        if offset is not None and int(n) >= _MIN_LINES:
            findings.extend(clock_findings(str(source), int(offset), int(n), "their spans"))
    return tuple(findings)

"""Calls between services over time: one aggregate of every call seen from both sides.

A call is a caller's span with a child span in another service. Per caller, callee and time
bucket this keeps what several detectors read, so the large self-join of ``spans`` runs once
per scope: calls and distinct requests (retry amplification), failures (circuit breakers),
the time on the wire (caller's duration minus the callee's; network delay), the callee's own
answer time, the caller's p99, and calls that lasted 5 s or more without failing (missing
timeouts).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from faultwise.diagnose._sql import Scope

__all__ = ["LONG_NS", "CallSeries", "call_series"]

LONG_NS = 5_000_000_000  # a call this long without an error was not cut short by a timeout

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CallSeries:
    """One caller -> callee edge, bucket by bucket (``times`` ascending)."""

    caller: str
    callee: str
    times: tuple[int, ...]
    calls: tuple[int, ...]
    requests: tuple[int, ...]  # distinct traces (estimated)
    failed: tuple[int, ...]
    wire_p50: tuple[float, ...]  # ns between the caller's span and the callee's
    served_p50: tuple[float, ...]  # ns the callee's span took
    p99: tuple[float, ...]  # of the caller's span
    long: tuple[int, ...]  # calls of LONG_NS or more that did not fail
    longest: tuple[float, ...]  # ns, the longest call that did not fail (0: none)

    def before(self, cut: int) -> CallSeries:
        """The buckets that start before ``cut`` (the leading baseline of the same data)."""
        n = sum(1 for t in self.times if t < cut)
        return CallSeries(
            self.caller,
            self.callee,
            self.times[:n],
            self.calls[:n],
            self.requests[:n],
            self.failed[:n],
            self.wire_p50[:n],
            self.served_p50[:n],
            self.p99[:n],
            self.long[:n],
            self.longest[:n],
        )

    def total(self, field: str, since: int | None = None) -> float:
        values = getattr(self, field)
        return float(
            sum(v for t, v in zip(self.times, values, strict=True) if since is None or t >= since)
        )


def _calls_sql(scope: Scope, width: int) -> str:
    d = scope.dialect
    return f"""
WITH s AS (SELECT trace_id, span_id, parent_span_id, service, kind, start_ns, end_ns, status
           FROM spans WHERE {scope.when("start_ns")} AND service IS NOT NULL),
c AS (SELECT p.service AS caller, k.service AS callee, k.start_ns - k.start_ns % {width} AS t,
             k.trace_id, p.end_ns - p.start_ns AS outer_ns, k.end_ns - k.start_ns AS served,
             CASE WHEN k.status = 2 OR (p.kind = 3 AND p.status = 2) THEN 1 ELSE 0 END AS failed,
             CASE WHEN p.status = 2 THEN 0 ELSE 1 END AS ok
      FROM s k JOIN s p ON p.trace_id = k.trace_id AND p.span_id = k.parent_span_id
      WHERE p.service <> k.service)
SELECT caller, callee, t, count(*), {d.distinct_estimate("trace_id")}, sum(failed),
       {d.quantile("outer_ns - served", 0.5)}, {d.quantile("served", 0.5)},
       {d.quantile("outer_ns", 0.99)},
       sum(CASE WHEN ok = 1 AND outer_ns >= {LONG_NS} THEN 1 ELSE 0 END),
       coalesce(max(CASE WHEN ok = 1 THEN outer_ns END), 0)
FROM c GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


def call_series(scope: Scope, width: int) -> dict[Pair, CallSeries]:
    """Every edge of ``scope`` with its per-bucket aggregates."""
    rows: dict[Pair, list[tuple[object, ...]]] = defaultdict(list)
    for caller, callee, *rest in scope.query(_calls_sql(scope, width)):
        rows[(caller, callee)].append(tuple(rest))
    found = {}
    for (caller, callee), points in rows.items():
        cols = list(zip(*points, strict=True))
        found[(caller, callee)] = CallSeries(
            caller,
            callee,
            tuple(int(v) for v in cols[0]),
            tuple(int(v) for v in cols[1]),
            tuple(int(v) for v in cols[2]),
            tuple(int(v or 0) for v in cols[3]),
            tuple(float(v or 0.0) for v in cols[4]),
            tuple(float(v or 0.0) for v in cols[5]),
            tuple(float(v or 0.0) for v in cols[6]),
            tuple(int(v or 0) for v in cols[7]),
            tuple(float(v or 0.0) for v in cols[8]),
        )
    return found

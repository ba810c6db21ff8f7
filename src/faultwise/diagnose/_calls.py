"""Calls between services over time: one aggregate of every call seen from both sides.

A call is a caller's span with a child span in another service. Per caller, callee and time
bucket this keeps what several detectors read, so the large self-join of ``spans`` runs once
per scope, in the same pass as the per-service signals (see ``_signals``): calls and
distinct requests (retry amplification), failures (circuit breakers), the time on the wire
(caller's duration minus the callee's; network delay), the callee's own answer time, the
caller's p99, and calls that lasted 5 s or more without failing (missing timeouts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
    requests: tuple[int, ...]  # distinct traces
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


def call_series(rows: Iterable[Sequence[Any]]) -> dict[Pair, CallSeries]:
    """Edges from rows of (caller, callee, bucket, calls, requests, failed, wire p50, served
    p50, p99, long, longest), sorted by bucket (the spans pass of ``_signals`` makes them)."""
    grouped: dict[Pair, list[Sequence[Any]]] = defaultdict(list)
    for caller, callee, *rest in rows:
        grouped[(caller, callee)].append(rest)
    found = {}
    for (caller, callee), points in grouped.items():
        points.sort(key=lambda p: int(p[0]))
        cols = list(zip(*points, strict=True))
        found[(caller, callee)] = CallSeries(
            caller,
            callee,
            tuple(int(v) for v in cols[0]),
            tuple(int(v) for v in cols[1]),
            tuple(int(v or 0) for v in cols[2]),
            tuple(int(v or 0) for v in cols[3]),
            tuple(float(v or 0.0) for v in cols[4]),
            tuple(float(v or 0.0) for v in cols[5]),
            tuple(float(v or 0.0) for v in cols[6]),
            tuple(int(v or 0) for v in cols[7]),
            tuple(float(v or 0.0) for v in cols[8]),
        )
    return found

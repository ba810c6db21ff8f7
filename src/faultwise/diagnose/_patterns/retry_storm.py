"""retry_storm: retries multiplied the load on a struggling dependency and kept it down.

Evidence: attempts per unique request from a caller to a callee, before and after (from
spans: calls per trace; from logs: retry lines naming the callee), the amplification of the
load arriving at the callee, and synchronised retries: the waits between attempts fall on a
few exact values (100, 200, 400 ms) instead of spreading out, so retries from all clients
arrive together (no jitter; see Brooker, "Exponential Backoff And Jitter", AWS 2015).
Component: the dependency the storm lands on; the action goes to its callers.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping

from faultwise.diagnose._calls import CallSeries
from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern, Signal
from faultwise.diagnose._signals import FIRST
from faultwise.diagnose._sql import Scope

__all__ = ["attempts_per_request", "detect"]

PATTERN = Pattern.RETRY_STORM

RETRY_LINES = r"(?i)(\bretry(ing)?\b|\bretried\b|\bre-?trying\b|attempt [0-9]+ ?(of|/) ?[0-9]+)"
_AMPLIFIED = 1.5
_SYNC_SHARE = 0.8  # share of waits on the three most common values (5 ms steps)
_MIN_WAITS = 10
_MIN_RETRY_LINES = 20
_MIN_REQUESTS = 10
RETRY_WORDS = ("retr", "re-tr", "attempt")


def _waits_sql(ctx: Context) -> str:
    return f"""
WITH s AS (SELECT trace_id, span_id, parent_span_id, service, start_ns, end_ns FROM spans
           WHERE {ctx.when("start_ns")} AND service IS NOT NULL),
c AS (SELECT p.trace_id, p.parent_span_id AS caller_span, p.service AS caller,
             k.service AS callee, p.start_ns, p.end_ns
      FROM s k JOIN s p ON p.trace_id = k.trace_id AND p.span_id = k.parent_span_id
      WHERE p.service <> k.service),
w AS (SELECT caller, callee, start_ns - lag(end_ns) OVER (
             PARTITION BY trace_id, caller_span, callee ORDER BY start_ns) AS wait
      FROM c)
SELECT caller, callee, CAST(round(wait / 5e6) AS BIGINT) * 5 AS ms, count(*)
FROM w WHERE wait IS NOT NULL AND wait >= 0 GROUP BY 1, 2, 3"""


def _retry_lines_sql(scope: Scope) -> str:
    d = scope.dialect
    return (
        f"SELECT service, {d.shape('message')}, count(*), min(ts_ns), "
        f"{d.arg_min('message', FIRST)} FROM logs "
        f"WHERE {scope.when('ts_ns')} AND {d.matches('message', RETRY_LINES, RETRY_WORDS)} "
        "GROUP BY 1, 2"
    )


def attempts_per_request(ctx: Context) -> dict[str, dict[int, float]]:
    """Per call edge ("checkout -> payments") that ever retried: attempts per request per
    bucket, for the report."""
    series: dict[str, dict[int, float]] = {}
    for (caller, callee), c in ctx.calls.items():
        points = {t: n / max(r, 1) for t, n, r in zip(c.times, c.calls, c.requests, strict=True)}
        if max(points.values(), default=1.0) > 1.05:
            series[f"{caller} -> {callee}"] = points
    return series


def _ratios(
    calls: Mapping[tuple[str, str], CallSeries], since: int | None
) -> dict[tuple[str, str], tuple[int, int]]:
    """(calls, requests) per edge, from ``since`` on."""
    return {
        pair: (int(c.total("calls", since)), int(c.total("requests", since)))
        for pair, c in calls.items()
    }


def detect(ctx: Context) -> list[Finding]:
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    scores: dict[str, float] = defaultdict(float)
    starts: dict[str, int] = {}
    callers: dict[str, set[str]] = defaultdict(set)
    if ctx.calls and ctx.normal_calls:
        before = _ratios(ctx.normal_calls, None)
        onsets = [t for t in (ctx.onset(s) for s in ctx.services) if t is not None]
        now = _ratios(ctx.calls, min(onsets) if onsets else None)
        for (caller, callee), (calls, requests) in now.items():
            per = calls / max(requests, 1)
            old_calls, old_requests = before.get((caller, callee), (0, 0))
            if old_requests < _MIN_REQUESTS or not _struggling(ctx, callee):
                continue  # no normal to compare with, or nothing wrong with the callee
            old = old_calls / old_requests
            if per / old < _AMPLIFIED:
                continue
            scores[callee] = max(scores[callee], 0.9 if per / old >= 2 else 0.8)
            callers[callee].add(caller)
            evidence[callee].append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"{caller} -> {callee}: {per:.2f} attempts per "
                    f"request (was {old:.2f}), {calls} calls for {requests} requests",
                    None,
                    round(per, 3),
                )
            )
        for caller, callee, share, top, n in _synchronised(ctx) if scores else ():
            if callee in scores:
                scores[callee] += 0.05
                evidence[callee].append(
                    Evidence(
                        EvidenceKind.SPAN,
                        f"{caller} retries {callee} in step: "
                        f"{100 * share:.0f} % of {n} waits are {top} (no jitter)",
                        None,
                        round(share, 3),
                    )
                )
        moved = [a for s in scores for a in ctx.anomalies.get(s, ()) if a.metric == "requests"]
        for a in moved:
            evidence[a.service].append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"load arriving at {a.service}: {a.describe()}",
                    None,
                    a.after,
                )
            )
            starts[a.service] = a.onset_ns
    if ctx.has("logs"):
        _from_logs(ctx, scores, evidence, starts, callers)
    findings = []
    for callee, score in scores.items():
        if callee not in ctx.services and callee not in ctx.graph.nodes:
            continue
        who = ", ".join(sorted(callers[callee])) or "its callers"
        findings.append(
            Finding(
                pattern=PATTERN,
                component=callee,
                score=round(min(score, 0.95), 4),
                summary=f"retries from {who} multiplied the load on a struggling {callee}",
                evidence=tuple(evidence[callee]),
                action=(
                    f"Give {who} a retry budget for calls to {callee} (retries at most 10 % of "
                    "requests, as Finagle and gRPC do) with exponential backoff and full "
                    "jitter, and retry at one layer only."
                ),
                start_ns=starts.get(callee) or ctx.onset(callee),
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings


def _struggling(ctx: Context, service: str) -> bool:
    """The service's errors or latency moved."""
    return any(a.signal in (Signal.ERRORS, Signal.LATENCY) for a in ctx.anomalies.get(service, ()))


def _synchronised(ctx: Context) -> list[tuple[str, str, float, str, int]]:
    waits: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    for caller, callee, ms, n in ctx.query(_waits_sql(ctx)):
        waits[(caller, callee)][int(ms)] += int(n)
    found = []
    for (caller, callee), counts in waits.items():
        total = sum(counts.values())
        if total < _MIN_WAITS:
            continue
        top = counts.most_common(3)
        share = sum(n for _, n in top) / total
        if share >= _SYNC_SHARE:
            found.append((caller, callee, share, "/".join(f"{ms} ms" for ms, _ in top), total))
    return found


def _from_logs(
    ctx: Context,
    scores: dict[str, float],
    evidence: dict[str, list[Evidence]],
    starts: dict[str, int],
    callers: dict[str, set[str]],
) -> None:
    """Retry lines that name the service they retry, far more of them than before."""
    now = _retry_counts(ctx, ctx.incident)
    before = _retry_counts(ctx, ctx.baseline) if ctx.baseline is not None else {}
    span = max(ctx.seconds(), 1.0)
    normal_span = _seconds(ctx.baseline) if ctx.baseline is not None else span
    for (caller, target), (n, first, example) in now.items():
        old = before.get((caller, target), (0, None, ""))[0] / max(normal_span, 1.0) * span
        if n < _MIN_RETRY_LINES or n < 5 * max(old, 1.0):
            continue
        requests = _requests(ctx, caller)
        per = (requests + n) / requests if requests else None
        scores[target] = max(scores[target], 0.8 if per and per >= _AMPLIFIED else 0.7)
        callers[target].add(caller)
        if first is not None:
            starts.setdefault(target, first)
        what = f" ({per:.2f} attempts per request)" if per else ""
        evidence[target].append(
            Evidence(
                EvidenceKind.LOG,
                f"{caller} logged {n} retries of calls to {target}{what} "
                f"from {short_time(first)}: {clip(example, 120)}",
                None,
                float(n),
            )
        )
        condition = f"service = ? AND {ctx.dialect.matches('message', RETRY_LINES, RETRY_WORDS)}"
        evidence[target] += example_lines(ctx, condition, [caller], limit=1)


def _retry_counts(ctx: Context, scope: Scope) -> dict[tuple[str, str], tuple[int, int | None, str]]:
    """Retry lines per (retrying service, the service they name)."""
    names = {s: re.compile(rf"(?<![\w-]){re.escape(s)}(?![\w-])", re.I) for s in ctx.graph.nodes}
    counted: dict[tuple[str, str], tuple[int, int | None, str]] = {}
    for service, _shape, n, first, example in scope.query(_retry_lines_sql(scope)):
        target = next((s for s, rx in names.items() if s != service and rx.search(example)), None)
        if target is None:
            continue
        old_n, old_first, _ = counted.get((service, target), (0, None, ""))
        firsts = [t for t in (old_first, first) if t is not None]
        counted[(service, target)] = (old_n + int(n), min(firsts) if firsts else None, example)
    return counted


def _seconds(scope: Scope) -> float:
    if scope.window is not None:
        return (scope.window.end_ns - scope.window.start_ns) / 1e9
    lo, hi = scope.query(f"SELECT min(ts_ns), max(ts_ns) FROM logs WHERE {scope.when('ts_ns')}")[0]
    return (hi - lo) / 1e9 if lo is not None and hi is not None else 0.0


def _requests(ctx: Context, service: str) -> int:
    profile = ctx.profiles.get(service)
    if profile is None:
        return 0
    per_s = [v for v in profile.values("requests") if v] or [v for v in profile.values("logs") if v]
    return int(sum(per_s) * ctx.width_ns / 1e9)

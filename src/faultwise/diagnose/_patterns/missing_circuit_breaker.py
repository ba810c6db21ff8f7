"""missing_circuit_breaker: a dependency failed for a sustained window and its callers kept
calling it at full rate.

Evidence: per caller and callee, the longest run of time buckets in which at least half of
the calls failed (at least 60 s), the call rate during that run against the rate before it
(a breaker would have cut it to a trickle of probes; retries would have raised it), and the
absence of any "circuit open" line from the caller. Component: the failing dependency; the
action goes to its callers.
"""

from __future__ import annotations

from collections import defaultdict

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern

__all__ = ["detect"]

PATTERN = Pattern.MISSING_CIRCUIT_BREAKER
BREAKER_LINES = r"(?i)(circuit ?breaker|breaker (is )?open|circuit (is )?open|short-circuited)"
_FAILING = 0.5
_MIN_RUN_S = 60.0
_KEPT_RATE = (0.7, 1.5)  # calls during the failure / calls before: "full rate"


def _breaker_sql(ctx: Context) -> str:
    return (
        f"SELECT DISTINCT service FROM logs WHERE {ctx.when('ts_ns')} "
        f"AND {ctx.dialect.matches('message', BREAKER_LINES, ('circuit', 'breaker'))}"
    )


def detect(ctx: Context) -> list[Finding]:
    if not ctx.calls:
        return []
    series = {
        pair: list(zip(c.times, c.calls, c.failed, strict=True)) for pair, c in ctx.calls.items()
    }
    guarded = {r[0] for r in ctx.query(_breaker_sql(ctx))} if ctx.has("logs") else set()
    hits: dict[str, list[tuple[str, float, int, float, float, float]]] = defaultdict(list)
    for (caller, callee), points in series.items():
        run = _longest_failing_run(points, ctx.width_ns)
        if run is None or caller in guarded:
            continue
        start, end, share = run
        during = [c for t, c, _ in points if start <= t < end]
        before = [c for t, c, _ in points if t < start]
        if not before:
            continue
        rate_during = sum(during) / len(during)
        rate_before = sum(before) / len(before)
        kept = rate_during / rate_before if rate_before else 0.0
        if _KEPT_RATE[0] <= kept <= _KEPT_RATE[1]:
            hits[callee].append((caller, (end - start) / 1e9, start, share, kept, rate_during))
    findings = []
    for callee, edges in sorted(hits.items()):
        evidence = [
            Evidence(
                EvidenceKind.SPAN,
                f"{caller} -> {callee}: {100 * share:.0f} % of calls "
                f"failed for {seconds:.0f} s from {short_time(start)}, while {caller} "
                f"kept calling at {100 * kept:.0f} % of its earlier rate",
                None,
                round(seconds, 1),
            )
            for caller, seconds, start, share, kept, _rate in edges
        ]
        callers = ", ".join(sorted(e[0] for e in edges))
        evidence.append(
            Evidence(EvidenceKind.LOG, f"no circuit-breaker line from {callers} in the logs")
        )
        findings.append(
            Finding(
                pattern=PATTERN,
                component=callee,
                score=0.85,
                summary=f"{callee} failed for {max(e[1] for e in edges):.0f} s while {callers} "
                "kept calling it at full rate",
                evidence=tuple(evidence),
                action=(
                    f"Put a circuit breaker on {callers}' calls to {callee} (open at a 50 % "
                    "failure rate over 20 calls, probe after 30 s) with a fallback, so a "
                    "failing dependency is not called at full rate."
                ),
                start_ns=min(e[2] for e in edges),
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings


def _longest_failing_run(
    points: list[tuple[int, int, int]], width: int
) -> tuple[int, int, float] | None:
    """(start, end, failed share) of the longest run of mostly failing buckets."""
    best: tuple[int, int, float] | None = None
    begin: int | None = None
    calls = failed = 0
    last: int | None = None
    for t, c, f in points:
        if not c or f / c < _FAILING:
            begin, last = None, None
            continue
        if begin is None or last is None or t - last > 2 * width:
            begin, calls, failed = t, 0, 0
        calls, failed, last = calls + c, failed + f, t
        if best is None or t + width - begin > best[1] - best[0]:
            best = (begin, t + width, failed / calls)
    if best is None or (best[1] - best[0]) / 1e9 < _MIN_RUN_S:
        return None
    return best

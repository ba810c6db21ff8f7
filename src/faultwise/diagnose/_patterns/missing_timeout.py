"""missing_timeout: calls that last far beyond their usual latency and never time out.

Evidence: calls from a caller to a callee lasting 5 s or more (and ten times their normal
p99) that end without an error, so nothing cut them short; the caller's requests in
flight piling up while they wait (threads and connections held). The score grows with the
share of calls that hung (full from 10 %): a handful of very slow calls among thousands is
the tail of a slow dependency rather than a hang. Component: the dependency
that hung (where the incident started); the action goes to its callers.
"""

from __future__ import annotations

from collections import defaultdict

from faultwise.diagnose._calls import LONG_NS
from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import example_spans, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern

__all__ = ["detect"]

PATTERN = Pattern.MISSING_TIMEOUT
_TIMES_P99 = 10.0
_MIN_CALLS = 3
_SCORE = 0.9
_HUNG_SHARE = 0.1  # from this share of calls hung on, the full score


def _inflight_sql(ctx: Context) -> str:
    """The most requests of a service in flight at once, per bucket (a running sum of +1 at
    each start and -1 at each end)."""
    w = ctx.width_ns
    return f"""
WITH s AS (SELECT start_ns, end_ns FROM spans
           WHERE {ctx.when("start_ns")} AND service = ? AND parent_span_id IS NOT NULL),
e AS (SELECT start_ns AS t, 1 AS d FROM s UNION ALL SELECT end_ns AS t, -1 AS d FROM s),
c AS (SELECT t, sum(d) OVER (ORDER BY t, d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
             AS n FROM e)
SELECT t - t % {w}, max(n) FROM c GROUP BY 1 ORDER BY 1"""


def detect(ctx: Context) -> list[Finding]:
    if not ctx.calls:
        return []
    hung: dict[str, list[tuple[str, int, int, float, int, float]]] = defaultdict(list)
    for (caller, callee), c in ctx.calls.items():
        normal = ctx.normal_calls.get((caller, callee))
        usual = max(normal.p99) if normal is not None and normal.p99 else None
        floor = max(LONG_NS, _TIMES_P99 * usual) if usual else LONG_NS
        hits = [(t, n, ns) for t, n, ns in zip(c.times, c.long, c.longest, strict=True) if n]
        longest = max((ns for _, _, ns in hits), default=0.0)
        n_long = sum(n for _, n, _ in hits)
        if n_long >= _MIN_CALLS and longest >= floor:
            first = hits[0][0]
            share = n_long / max(c.total("calls", first), 1.0)
            hung[callee].append((caller, n_long, int(c.total("calls")), longest, first, share))
    findings = []
    for callee, edges in sorted(hung.items()):
        evidence = []
        for caller, long, calls, longest, first, share in edges:
            normal = ctx.normal_calls.get((caller, callee))
            usual = max(normal.p99) if normal is not None and normal.p99 else None
            was = f" (normal p99 {usual / 1e6:.0f} ms)" if usual else ""
            evidence.append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"{caller} -> {callee}: {long} of {calls} calls "
                    f"({100 * share:.1f} % from the first) took {LONG_NS / 1e9:.0f} s or more "
                    f"without an error, up to {longest / 1e9:.0f} s{was}, from "
                    f"{short_time(first)}",
                    None,
                    round(longest / 1e9, 3),
                )
            )
            piled = _pile_up(ctx, caller)
            if piled is not None:
                evidence.append(
                    Evidence(
                        EvidenceKind.SPAN,
                        f"{caller}'s requests in flight grew from {piled[0]} to {piled[1]}",
                        None,
                        float(piled[1]),
                    )
                )
        evidence += example_spans(
            ctx, f"service = ? AND end_ns - start_ns >= {LONG_NS}", [callee], limit=2
        )
        callers = ", ".join(sorted({e[0] for e in edges}))
        findings.append(
            Finding(
                pattern=PATTERN,
                component=callee,
                score=round(_score(max(e[5] for e in edges)), 4),
                summary=f"{callers} waited on {callee} for up to "
                f"{max(e[3] for e in edges) / 1e9:.0f} s with no timeout",
                evidence=tuple(evidence),
                action=(
                    f"Give {callers} a timeout on calls to {callee} a little above its normal "
                    "p99 (and a deadline for the whole request), so a hung dependency costs "
                    "one failed call instead of every worker."
                ),
                start_ns=min(e[4] for e in edges),
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings


def _score(share: float) -> float:
    """A hang holds a sizeable share of the calls; a few stragglers are tail latency (a
    slow dependency, a queue) more than a missing timeout."""
    return _SCORE * min(1.0, 0.5 + share / (2 * _HUNG_SHARE))


def _pile_up(ctx: Context, service: str) -> tuple[int, int] | None:
    rows = ctx.query(_inflight_sql(ctx), [service])
    if len(rows) < 4:
        return None
    counts = [int(n) for _, n in rows]
    first = max(1, min(counts[: max(1, len(counts) // 4)]))
    peak = max(counts)
    return (first, peak) if peak >= 3 * first else None

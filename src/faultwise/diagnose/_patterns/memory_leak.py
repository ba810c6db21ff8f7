"""memory_leak: memory that only grows (between restarts), OOM kills and restarts, and the
time left until the limit.

Evidence: a memory gauge (container working set, RSS, JVM heap, Go heap...) rising steadily
(least-squares slope with a high correlation) within the longest stretch between restarts;
the limit it runs into and when it would reach it; OOM kills and restarts from Kubernetes
events or the ``changes`` table; ``OutOfMemoryError``/``OOMKilled``/exit 137 lines; and the
heap left after each garbage collection rising in JVM GC logs (``812M->640M(2048M)``), the
surest sign of a leak rather than of a busy heap.
"""

from __future__ import annotations

from collections import defaultdict

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import attributed, example_lines, matching_sql, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._patterns._gauges import Growth, gauges, growth

__all__ = ["detect"]

PATTERN = Pattern.MEMORY_LEAK

MEMORY = r"(?i)(memory|heap|rss|working_set|resident)"
LIMITS = r"(?i)(limit|max|capacity|total_bytes$|available|free|committed|swap)"
LIMIT_METRICS = r"(?i)(memory.*(limit|max)|(limit|max).*memory|heap_max)"
OOM_LINES = (
    r"(?i)(outofmemoryerror|oomkill|out of memory|exit code 137|exitcode=137|killed process"
    r"|memoryerror|cannot allocate memory|heap out of memory|fatal error: runtime: out of memory)"
)
GC_AFTER = r"([0-9]+)([KMG])->([0-9]+)([KMG])\(([0-9]+)([KMG])\)"
OOM_WORDS = ("memory", "oom", "137", "killed")

_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_STEADY_R = 0.8
_MIN_RISE = 0.2  # of the limit, or of the starting value when there is no limit


def _changes_sql(ctx: Context) -> str:
    return (
        "SELECT service, kind, count(*), min(ts_ns) FROM changes "
        f"WHERE {ctx.when('ts_ns')} AND kind IN ('oom_kill', 'restart') GROUP BY 1, 2"
    )


def _gc_sql(ctx: Context) -> str:
    d = ctx.dialect
    w = ctx.width_ns

    def mb(group: int) -> str:
        unit = d.extract("message", GC_AFTER, group + 1)
        num = f"CAST({d.extract('message', GC_AFTER, group)} AS DOUBLE)"
        return (
            f"{num} * CASE {unit} WHEN 'K' THEN {_UNITS['K']} WHEN 'G' THEN {_UNITS['G']} "
            f"ELSE {_UNITS['M']} END"
        )

    return f"""
SELECT service, ts_ns - ts_ns % {w} AS t, min({mb(3)}), max({mb(5)})
FROM logs WHERE {ctx.when("ts_ns")} AND ts_ns IS NOT NULL
  AND {d.matches("message", GC_AFTER, ("->",))}
GROUP BY 1, 2 ORDER BY 1, 2"""


def _limits(ctx: Context) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for s in gauges(ctx, LIMIT_METRICS):
        if s.highs and max(s.highs) > 0:
            found[(s.service, s.instance)] = max(s.highs)
    return found


def _mb(value: float) -> str:
    return f"{value / (1 << 20):.0f} MB"


def _rise(ctx: Context) -> dict[str, tuple[str, Growth, float | None]]:
    """Per service, its steepest steady memory rise: (what, growth, limit)."""
    limits = _limits(ctx)
    best: dict[str, tuple[str, Growth, float | None]] = {}
    for s in gauges(ctx, MEMORY, LIMITS):
        g = growth(s.times, s.means)
        if g is None or g.r < _STEADY_R or g.last <= g.first:
            continue
        limit = limits.get((s.service, s.instance))
        scale = limit if limit else g.first
        if scale <= 0 or (g.last - g.first) / scale < _MIN_RISE:
            continue
        what = f"{s.metric} of {s.instance or s.service}"
        if s.service not in best or g.per_s > best[s.service][1].per_s:
            best[s.service] = (what, g, limit)
    if ctx.has("logs"):
        for service, g, cap in _gc_rise(ctx):
            if service not in best:
                best[service] = ("heap after GC", g, cap)
    return best


def _gc_rise(ctx: Context) -> list[tuple[str, Growth, float]]:
    series: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for service, t, after, cap in ctx.query(_gc_sql(ctx)):
        if after is not None:
            series[service].append((int(t), float(after), float(cap or 0)))
    found = []
    for service, pts in series.items():
        g = growth([p[0] for p in pts], [p[1] for p in pts])
        cap = max(p[2] for p in pts)
        if g and g.r >= _STEADY_R and cap and (g.last - g.first) / cap >= _MIN_RISE:
            found.append((service, g, cap))
    return found


def detect(ctx: Context) -> list[Finding]:
    rises = _rise(ctx)
    ooms = {}
    if ctx.has("logs"):
        ooms = {
            s: (n, first)
            for s, (n, first, _) in attributed(
                ctx, ctx.query(matching_sql(ctx, OOM_LINES, OOM_WORDS))
            ).items()
        }
    kills: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    if ctx.has("changes"):
        for service, kind, n, first in ctx.query(_changes_sql(ctx)):
            kills[service or ""][kind] = (int(n), int(first))
    findings = []
    for service in sorted(set(rises) | set(ooms) | {k for k in kills if k}):
        evidence: list[Evidence] = []
        score = 0.0
        starts: list[int] = []
        if service in rises:
            what, g, limit = rises[service]
            score = 0.6
            starts.append(g.start_ns)
            minutes = (g.end_ns - g.start_ns) / 60e9
            evidence.append(
                Evidence(
                    EvidenceKind.METRIC,
                    f"{what} rose steadily from {_mb(g.first)} to "
                    f"{_mb(g.last)} in {minutes:.1f} min ({g.per_s / (1 << 20) * 60:.1f} "
                    f"MB/min, r = {g.r:.2f})",
                    None,
                    round(g.per_s, 1),
                )
            )
            if limit and g.per_s > 0:
                left = max(0.0, (limit - g.last) / g.per_s)
                evidence.append(
                    Evidence(
                        EvidenceKind.METRIC,
                        f"limit {_mb(limit)}: reached about "
                        f"{left:.0f} s after {short_time(g.end_ns)} at this rate",
                        None,
                        round(left, 1),
                    )
                )
            if g.restarts:
                evidence.append(
                    Evidence(
                        EvidenceKind.METRIC,
                        f"{g.restarts} drops to a fresh process (restarts) in the series",
                        None,
                        g.restarts,
                    )
                )
        killed = kills.get(service, {})
        n_oom, first_oom = killed.get("oom_kill", (0, 0))
        n_restart, first_restart = killed.get("restart", (0, 0))
        n_lines, first_line = ooms.get(service, (0, None))
        if n_oom or n_lines:
            score += 0.3 if score else 0.6
            what = f"{n_oom} OOM kills" if n_oom else f"{n_lines} out-of-memory lines"
            first = first_oom if n_oom else first_line
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{what} from {short_time(first)}",
                    None,
                    float(n_oom or n_lines),
                )
            )
            if first:
                starts.append(first)
        if n_lines:
            condition = f"service = ? AND {ctx.dialect.matches('message', OOM_LINES, OOM_WORDS)}"
            evidence += example_lines(ctx, condition, [service], limit=2)
        if n_restart and score > 0:  # restarts alone say nothing about memory
            score += 0.05
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{n_restart} restarts from {short_time(first_restart)}",
                    None,
                    float(n_restart),
                )
            )
        if score <= 0:
            continue
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"{service} leaks memory"
                + (" until it is OOM-killed" if n_oom or n_lines else ""),
                evidence=tuple(evidence),
                action=(
                    f"Take two heap profiles of {service} a few minutes apart and fix what keeps "
                    "growing between them (an unbounded cache, listeners never removed); until "
                    "then alert on memory above 80 % of the limit."
                ),
                start_ns=min(starts) if starts else None,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

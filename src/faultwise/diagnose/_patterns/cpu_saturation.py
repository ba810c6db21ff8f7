"""cpu_saturation: a service ran out of CPU, so everything it does got slower at once.

Evidence from metrics: CPU use at or near the limit for a sustained stretch (the rate of
``container_cpu_usage_seconds_total`` or ``process_cpu_seconds_total`` against the CFS quota
or the pod's limit; or a usage percentage), and CFS throttling. Evidence from spans, which
needs no metrics: the service's own time grew in almost *all* of its operations at once (a
slow dependency slows the operations that call it; a starved CPU slows everything), while
the services it calls did not slow down.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern, Signal
from faultwise.diagnose._patterns._gauges import GaugeSeries, gauges
from faultwise.diagnose._signals import own_time_cte
from faultwise.diagnose._sql import Scope

__all__ = ["detect"]

PATTERN = Pattern.CPU_SATURATION

CPU = r"(?i)cpu"
_USAGE_COUNTERS = r"(?i)(cpu_usage_seconds_total|process_cpu_seconds_total|cpu_seconds_total)$"
_USAGE_GAUGES = r"(?i)cpu.*(percent|%|ratio|utili|usage_?rate)"
_NOT_THE_SERVICE = r"(?i)(node|host|machine|system_cpu|_total$|limit|quota|period|request)"
_BUSY = 0.9
_MIN_BUSY_S = 45
_SLOWER = 1.5  # an operation counts as slower at this ratio of its median own time
_BROAD = 0.6  # ...and the slowdown is broad when this share of operations is slower
_MIN_SPANS = 3


def _ops_sql(scope: Scope, since: int | None) -> str:
    extra = f"start_ns >= {since}" if since is not None else "TRUE"
    d = scope.dialect
    return f"""{own_time_cte(scope, extra)}
SELECT name, count(*), {d.quantile("own_ns", 0.5)} FROM x
WHERE service = ? AND (kind IS NULL OR kind <> 3)
GROUP BY 1"""


def _utilisation(ctx: Context) -> dict[str, list[tuple[int, float]]]:
    """Per service: CPU used as a share of its limit (or of one core, or of the machine for
    a percentage), per bucket."""
    limits = _limits(gauges(ctx, CPU, r"(?i)_total$"))
    result: dict[str, list[tuple[int, float]]] = {}
    for s in gauges(ctx, _USAGE_COUNTERS, counter=True):
        cores = limits.get(s.service) or 1.0
        result.setdefault(
            s.service, [(t, v / cores) for t, v in zip(s.times, s.means, strict=True)]
        )
    for s in gauges(ctx, _USAGE_GAUGES, _NOT_THE_SERVICE):
        peak = max(s.means, default=0.0)
        if s.service in result or peak > 100:
            continue  # already measured, or not a share of anything
        named = s.metric.lower()
        percent = "percent" in named or "%" in named or (peak > 1.5 and "ratio" not in named)
        scale = 100.0 if percent else 1.0
        result[s.service] = [(t, v / scale) for t, v in zip(s.times, s.means, strict=True)]
    return result


def _limits(series: list[GaugeSeries]) -> dict[str, float]:
    """CPU limits in cores: the CFS quota over its period, or a limit gauge."""
    by: dict[str, dict[str, float]] = defaultdict(dict)
    for s in series:
        by[s.service][s.metric.lower()] = max(s.means, default=0.0)
    limits = {}
    for service, metrics in by.items():
        quota, period = (
            metrics.get("container_spec_cpu_quota"),
            metrics.get("container_spec_cpu_period"),
        )
        if quota and period and quota > 0:
            limits[service] = quota / period
            continue
        limit = next((v for m, v in metrics.items() if "limit" in m and v > 0), None)
        if limit:
            limits[service] = limit
    return limits


def _throttling(ctx: Context, service: str) -> float | None:
    """The largest share of CFS periods that were throttled."""
    mine = {s.metric: s for s in gauges(ctx, r"(?i)cpu_cfs_", counter=True) if s.service == service}
    throttled = mine.get("container_cpu_cfs_throttled_periods_total")
    periods = mine.get("container_cpu_cfs_periods_total")
    if not throttled or not periods:
        return None
    total = dict(zip(periods.times, periods.means, strict=True))
    shares = [
        v / total[t] for t, v in zip(throttled.times, throttled.means, strict=True) if total.get(t)
    ]
    return max(shares) if shares else None


def _busy_run(points: list[tuple[int, float]], width: int) -> tuple[float, int | None, float]:
    """The longest stretch at or above the busy threshold: (seconds, start, peak)."""
    best, start, best_start, peak = 0.0, None, None, 0.0
    for t, v in points:
        if v >= _BUSY:
            start = t if start is None else start
            seconds = (t + width - start) / 1e9
            if seconds > best:
                best, best_start = seconds, start
            peak = max(peak, v)
        else:
            start = None
    return best, best_start, peak


def _broad_slowdown(ctx: Context, service: str, since: int) -> tuple[int, int, float] | None:
    """(slower operations, compared operations, median ratio) of the service's own time."""
    if ctx.baseline is None:
        return None
    before = {r[0]: r for r in ctx.baseline.query(_ops_sql(ctx.baseline, None), [service])}
    after = ctx.query(_ops_sql(ctx.incident, since), [service])
    ratios = []
    for name, n, own in after:
        old = before.get(name)
        if old is None or n < _MIN_SPANS or old[1] < _MIN_SPANS or not old[2] or own is None:
            continue
        ratios.append(float(own) / float(old[2]))
    if len(ratios) < 2:
        return None
    slower = sum(1 for r in ratios if r >= _SLOWER)
    return slower, len(ratios), statistics.median(ratios)


def _callees_steady(ctx: Context, service: str, since: int) -> bool:
    for callee in ctx.graph.callees(service):
        onset = ctx.onset(callee, Signal.LATENCY)
        if onset is not None and onset <= since + ctx.width_ns:
            return False
    return True


def detect(ctx: Context) -> list[Finding]:
    util = _utilisation(ctx)
    findings = []
    candidates = set(util) | {s for s in ctx.services if ctx.anomaly(s, "own time per request")}
    for service in sorted(candidates):
        evidence: list[Evidence] = []
        score = 0.0
        start: int | None = None
        if service in util:
            seconds, begin, peak = _busy_run(util[service], ctx.width_ns)
            if seconds >= _MIN_BUSY_S:
                score, start = 0.85, begin
                evidence.append(
                    Evidence(
                        EvidenceKind.METRIC,
                        f"CPU at {100 * peak:.0f} % of its limit for "
                        f"{seconds:.0f} s from {short_time(begin)}",
                        None,
                        round(peak, 3),
                    )
                )
                throttled = _throttling(ctx, service)
                if throttled:
                    score += 0.05
                    evidence.append(
                        Evidence(
                            EvidenceKind.METRIC,
                            f"{100 * throttled:.0f} % of CFS periods throttled",
                            None,
                            round(throttled, 3),
                        )
                    )
        own = ctx.anomaly(service, "own time per request")
        if own is not None and _callees_steady(ctx, service, own.onset_ns):
            broad = _broad_slowdown(ctx, service, own.onset_ns)
            if broad and broad[0] / broad[1] >= _BROAD:
                slower, total, ratio = broad
                score = max(score, 0.78) + (0.05 if score else 0.0)
                start = min(filter(None, (start, own.onset_ns)))
                evidence.append(
                    Evidence(
                        EvidenceKind.SPAN,
                        f"{slower} of {total} operations slower at once "
                        f"(median ×{ratio:.1f}) from {short_time(own.onset_ns)}, while "
                        "the services it calls did not slow down",
                        None,
                        round(ratio, 2),
                    )
                )
        if score <= 0:
            continue
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"{service} ran out of CPU: everything it does got slower",
                evidence=tuple(evidence),
                action=(
                    f"Profile {service} under load (py-spy, async-profiler) and fix the hot "
                    "path, or raise its CPU limit; alert on CPU throttling above 25 %."
                ),
                start_ns=start,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

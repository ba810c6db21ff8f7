"""The report's charts, from the signals already measured and the detectors' own series:
latency p50/p95/p99 and errors per service, pool use, and retry attempts per request; each
with the incident window shaded and the onsets and changes marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from faultwise.diagnose._context import Context
from faultwise.diagnose._model import Chart, Ranked, Series, TimelineEntry, TimelineKind
from faultwise.diagnose._patterns import pool_exhaustion, retry_storm

__all__ = ["charts"]

_SERVICES = 5


def charts(
    ctx: Context, ranking: Sequence[Ranked], timeline: Sequence[TimelineEntry]
) -> tuple[Chart, ...]:
    if not ctx.grid:
        return ()
    top = [r.component for r in ranking if r.component in ctx.profiles][:_SERVICES]
    if not top:
        top = sorted(ctx.profiles)[:_SERVICES]
    markers = _markers(ctx, top, timeline)
    starts = [t for t in (ctx.onset(s) for s in top) if t is not None]
    shade = (min(starts), ctx.grid[-1] + ctx.width_ns) if starts else None
    found = []
    latency = [
        Series(f"{svc} {key}", _ms(ctx.profiles[svc].values(key)))
        for svc in top
        for key in ("p50", "p95", "p99")
        if any(v is not None for v in ctx.profiles[svc].values(key))
    ]
    if latency:
        found.append(
            Chart("latency", "Latency per service (p50, p95, p99)", "ms", ctx.grid,
                  tuple(latency), markers, shade)
        )  # fmt: skip
    errors = []
    for svc in top:
        p = ctx.profiles[svc]
        pairs = zip(p.values("log_errors"), p.values("span_errors"), strict=True)
        values = tuple((a or 0.0) + (b or 0.0) for a, b in pairs)
        if any(values):
            errors.append(Series(svc, values))
    if errors:
        found.append(Chart("errors", "Errors per second", "/s", ctx.grid, tuple(errors),
                           markers, shade))  # fmt: skip
    pools = _on_grid(ctx, pool_exhaustion.utilisation(ctx), scale=100.0)
    if pools:
        found.append(Chart("pools", "Connection pool in use", "%", ctx.grid, pools, markers,
                           shade))  # fmt: skip
    retries = _on_grid(ctx, retry_storm.attempts_per_request(ctx))
    if retries:
        found.append(Chart("retries", "Attempts per request (retry ratio)", "×", ctx.grid,
                           retries, markers, shade))  # fmt: skip
    return tuple(found)


def _markers(
    ctx: Context, top: Sequence[str], timeline: Sequence[TimelineEntry]
) -> tuple[tuple[int, str], ...]:
    found = [(t, f"{svc} moved") for svc in top if (t := ctx.onset(svc)) is not None]
    found += [
        (e.ts_ns, f"{e.service}: {e.text[:40]}") for e in timeline if e.kind is TimelineKind.CHANGE
    ]
    return tuple(sorted(found)[:12])


def _on_grid(
    ctx: Context, series: Mapping[str, Mapping[int, float]], *, scale: float = 1.0
) -> tuple[Series, ...]:
    return tuple(
        Series(name, tuple(round(points[t] * scale, 3) if t in points else None for t in ctx.grid))
        for name, points in sorted(series.items())[:_SERVICES]
    )


def _ms(values: Sequence[float | None]) -> tuple[float | None, ...]:
    return tuple(None if v is None else round(v / 1e6, 3) for v in values)

"""Bucketed gauge and counter series from ``samples``, and the arithmetic resource detectors
share: steady growth (least squares within restarts), time to a limit, counter rates."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from faultwise.diagnose._context import Context

__all__ = ["GaugeSeries", "Growth", "gauges", "growth"]


@dataclass(frozen=True, slots=True)
class GaugeSeries:
    """One metric of one instance: bucket starts and the bucket's mean and maximum."""

    service: str
    instance: str
    metric: str
    times: tuple[int, ...]
    means: tuple[float, ...]
    highs: tuple[float, ...]


def _gauge_sql(ctx: Context, include: str, exclude: str | None, counter: bool) -> str:
    """Bucketed mean and maximum of matching gauges; for counters, of their per-second
    increase between consecutive samples of one series (resets dropped)."""
    d = ctx.dialect
    w = ctx.width_ns
    skip = f"AND NOT {d.matches('metric', exclude)}" if exclude else ""
    value = "value"
    if counter:
        series = "PARTITION BY service, instance, metric, labels ORDER BY ts_ns"
        value = (
            f"(value - lag(value) OVER ({series})) / ((ts_ns - lag(ts_ns) OVER ({series})) / 1e9)"
        )
    return f"""
WITH g AS (SELECT service, coalesce(instance, '') AS inst, metric, ts_ns, {value} AS v
           FROM samples
           WHERE {ctx.when("ts_ns")} AND service IS NOT NULL AND ts_ns IS NOT NULL
             AND {d.matches("metric", include)} {skip})
SELECT service, inst, metric, ts_ns - ts_ns % {w} AS t, avg(v), max(v)
FROM g WHERE v IS NOT NULL AND v >= 0 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""


def gauges(
    ctx: Context, include: str, exclude: str | None = None, *, counter: bool = False
) -> list[GaugeSeries]:
    """Every series whose metric name matches ``include`` (and not ``exclude``); with
    ``counter``, the per-second rate of each counter instead of its value."""
    if not ctx.has("samples"):
        return []
    points: dict[tuple[str, str, str], list[tuple[int, float, float]]] = defaultdict(list)
    sql = _gauge_sql(ctx, include, exclude, counter)
    for service, instance, metric, t, mean, high in ctx.query(sql):
        if mean is None or math.isnan(mean):
            continue
        points[(service, instance, metric)].append((int(t), float(mean), float(high)))
    return [
        GaugeSeries(
            s, i, m, tuple(p[0] for p in pts), tuple(p[1] for p in pts), tuple(p[2] for p in pts)
        )
        for (s, i, m), pts in sorted(points.items())
    ]


@dataclass(frozen=True, slots=True)
class Growth:
    """The steadiest rise of a series between restarts."""

    start_ns: int
    end_ns: int
    first: float
    last: float
    per_s: float
    r: float  # correlation of value and time within the rise
    restarts: int  # drops of more than 30 % (a process restarted)


def growth(times: Sequence[int], values: Sequence[float], *, min_points: int = 4) -> Growth | None:
    """The longest segment between drops, with its least-squares slope and correlation."""
    if len(values) < min_points:
        return None
    cuts = [0]
    for i in range(1, len(values)):
        if values[i - 1] > 0 and values[i] < 0.7 * values[i - 1]:
            cuts.append(i)
    cuts.append(len(values))
    best: Growth | None = None
    for a, b in itertools.pairwise(cuts):
        if b - a < min_points:
            continue
        xs = [t / 1e9 for t in times[a:b]]
        ys = list(values[a:b])
        slope, r = _fit(xs, ys)
        seg = Growth(times[a], times[b - 1], ys[0], ys[-1], slope, r, len(cuts) - 2)
        if best is None or (seg.last - seg.first) > (best.last - best.first):
            best = seg
    return best


def _fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    if sxx == 0:
        return 0.0, 0.0
    slope = sxy / sxx
    r = sxy / math.sqrt(sxx * syy) if syy > 0 else 0.0
    return slope, r

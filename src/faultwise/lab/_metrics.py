"""Headline numbers of a run, computed from per-second series, the same for sim and live."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Series", "Summary", "percentile", "summarize"]

RECOVERY_SHARE = 0.9  # "recovered": goodput at least 90 % of offered load ...
RECOVERY_HOLD_S = 5  # ... for 5 s in a row (the pilot's definition)


@dataclass(frozen=True, slots=True)
class Series:
    """Per-second counts of one run (index = second since the start of load)."""

    offered: Sequence[int]
    ok: Sequence[int]
    failed: Sequence[int]
    attempts: Sequence[int]
    ok_latency: Sequence[Sequence[float]]
    queue: Sequence[int] = ()
    ok_by_arrival: Sequence[int] = ()  # successes by the second their request arrived


@dataclass(frozen=True, slots=True)
class Summary:
    """The numbers the lab's tables show.

    ``goodput_during``: successful requests per second during the trigger, as a share of
    what the degraded service could have served (``min(offered, degraded capacity)``).
    ``recovery_s``: seconds from the trigger's end until, for 5 s in a row, at least 90 % of
    the requests that arrived in each second succeeded (``None``: it never happened within
    the run: the failure sustained itself). Outcomes are counted by arrival, not by
    completion: a burst of arrivals served a little later is not a failure.
    ``attempts_per_request``: attempts sent over requests started. ``p99_s``: 99th percentile
    latency of successful requests, from the request's start to its success (retries and
    back-off included).
    """

    requests: int
    ok: int
    goodput_during: float
    recovery_s: float | None
    attempts_per_request: float
    p99_s: float
    goodput_after: float

    def as_json(self) -> dict[str, float | None]:
        return {
            "goodput_during": round(self.goodput_during, 3),
            "recovery_s": self.recovery_s,
            "attempts_per_request": round(self.attempts_per_request, 3),
            "p99_s": round(self.p99_s, 4),
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by the nearest-rank method; ``nan`` for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def summarize(
    series: Series,
    *,
    trigger_start: float,
    trigger_end: float,
    degraded_capacity: float,
    load_end: float,
) -> Summary:
    """Compute the headline numbers (see :class:`Summary`) from per-second series."""
    t0, t1, end = int(trigger_start), int(trigger_end), int(load_end)
    offered_rate = sum(series.offered[:t0]) / max(t0, 1)
    during = sum(series.ok[t0:t1]) / max(t1 - t0, 1)
    goodput_during = during / max(min(offered_rate, degraded_capacity), 1e-9)
    recovery: float | None = None
    succeeded = series.ok_by_arrival or series.ok
    for s in range(t1, end - RECOVERY_HOLD_S + 1):
        window = range(s, s + RECOVERY_HOLD_S)
        if all(succeeded[i] >= RECOVERY_SHARE * series.offered[i] for i in window):
            recovery = float(s - t1)
            break
    tail = range(max(end - 10, t1), end)
    after_offered = sum(series.offered[i] for i in tail)
    goodput_after = sum(series.ok[i] for i in tail) / after_offered if after_offered else math.nan
    requests = sum(series.offered)
    latencies = [x for second in series.ok_latency for x in second]
    return Summary(
        requests=requests,
        ok=sum(series.ok),
        goodput_during=goodput_during,
        recovery_s=recovery,
        attempts_per_request=sum(series.attempts) / requests if requests else math.nan,
        p99_s=percentile(latencies, 0.99),
        goodput_after=goodput_after,
    )

"""What every detector sees: the incident and its baseline as scopes of a store, the time
grid, the dependency graph, each service's signals and which of them moved.

Built once per diagnosis by :func:`build_context`; detectors only read it and run their own
aggregate queries through :meth:`Context.query`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faultwise.diagnose._calls import CallSeries
from faultwise.diagnose._graph import build_graph
from faultwise.diagnose._model import Baseline, Graph, Signal, Window
from faultwise.diagnose._signals import (
    PEER_CALL,
    Anomaly,
    NewTemplate,
    Profile,
    anomalies,
    new_templates,
    profiles,
    span_counts,
)
from faultwise.diagnose._sql import Dialect, Scope
from faultwise.telemetry._store import Params

__all__ = ["Context", "build_context", "time_range"]

_NICE_WIDTHS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_TARGET_BUCKETS = 60
_LEADING_SHARE = 0.25  # without a baseline, the first quarter of the data is "normal"
_MIN_LEADING_BUCKETS = 4


def _range_sql(scope: Scope) -> str:
    """The time range of the events (logs and spans), and of the samples."""
    events = (
        f"SELECT min(ts_ns) AS lo, max(ts_ns) AS hi FROM logs WHERE {scope.when('ts_ns')} "
        f"UNION ALL SELECT min(start_ns), max(start_ns) FROM spans "
        f"WHERE {scope.when('start_ns')}"
    )
    return (
        f"SELECT (SELECT min(lo) FROM ({events}) e), (SELECT max(hi) FROM ({events}) e), "
        f"(SELECT min(ts_ns) FROM samples WHERE {scope.when('ts_ns')}), "
        f"(SELECT max(ts_ns) FROM samples WHERE {scope.when('ts_ns')})"
    )


def _services_sql(scope: Scope) -> str:
    parts = [
        f"SELECT DISTINCT service FROM logs WHERE {scope.when('ts_ns')}",
        f"SELECT DISTINCT service FROM spans WHERE {scope.when('start_ns')}",
        f"SELECT DISTINCT service FROM samples WHERE {scope.when('ts_ns')}",
        f"SELECT DISTINCT peer_service FROM spans WHERE {scope.when('start_ns')} AND {PEER_CALL}",
    ]
    return (
        f"SELECT DISTINCT service FROM ({' UNION ALL '.join(parts)}) s "
        "WHERE service IS NOT NULL ORDER BY 1"
    )


def _counts_sql(scope: Scope) -> str:
    return (
        f"SELECT (SELECT count(*) FROM logs WHERE {scope.when('ts_ns')}), "
        f"(SELECT count(*) FROM spans WHERE {scope.when('start_ns')}), "
        f"(SELECT count(*) FROM samples WHERE {scope.when('ts_ns')}), "
        f"(SELECT count(*) FROM changes WHERE {scope.when('ts_ns')}), "
        "(SELECT count(*) FROM configs), "
        f"(SELECT count(*) FROM logs WHERE ts_ns IS NULL)"
    )


def time_range(scope: Scope) -> Window | None:
    """The incident's time range: that of its logs and spans (metrics exported for a whole
    day do not stretch a three-minute incident), or of its samples when there are no events.
    None when nothing has a time."""
    lo, hi, s_lo, s_hi = scope.query(_range_sql(scope))[0]
    if lo is None:
        lo, hi = s_lo, s_hi
    if lo is None:
        return None
    return Window(int(lo), int(hi) + 1)


def _narrowed(scope: Scope, window: Window) -> Scope:
    """``scope`` cut to its events' range (padded by that range on each side) when samples
    reach far beyond it, so day-long metric exports are read around the incident only."""
    lo, _, s_lo, s_hi = scope.query(_range_sql(scope))[0]
    if lo is None or s_lo is None:
        return scope
    span = window.end_ns - window.start_ns
    if (window.start_ns - s_lo) + (s_hi - window.end_ns) <= 3 * span:
        return scope
    padded = Window(window.start_ns - span, window.end_ns + span)
    return Scope(scope.store, scope.dialect, padded, scope.outside, scope.keep_untimed)


def bucket_width(span_ns: int) -> int:
    """A round bucket width giving about 60 buckets over ``span_ns``."""
    for seconds in _NICE_WIDTHS_S:
        if span_ns / (seconds * 1e9) <= _TARGET_BUCKETS:
            return seconds * 1_000_000_000
    return _NICE_WIDTHS_S[-1] * 1_000_000_000


def _grid(window: Window, width: int) -> tuple[int, ...]:
    first = window.start_ns - window.start_ns % width
    return tuple(range(first, window.end_ns, width))


@dataclass(frozen=True, slots=True)
class Context:
    """The incident as detectors see it (read only)."""

    incident: Scope
    baseline: Scope | None
    baseline_info: Baseline | None
    window: Window | None  # the incident's time range
    width_ns: int
    grid: tuple[int, ...]
    services: tuple[str, ...]
    counts: dict[str, int]
    graph: Graph
    calls: dict[tuple[str, str], CallSeries]  # (caller, callee) -> calls over time
    normal_calls: dict[tuple[str, str], CallSeries]
    profiles: dict[str, Profile]
    normal: dict[str, Profile]
    anomalies: dict[str, tuple[Anomaly, ...]]
    templates: tuple[NewTemplate, ...]
    peer_calls: bool = False  # client spans name their peer (see ``own_time_cte``)

    @property
    def dialect(self) -> Dialect:
        return self.incident.dialect

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run an aggregate query on the incident's store."""
        return self.incident.query(sql, params)

    def when(self, column: str) -> str:
        """The incident's time condition on ``column``."""
        return self.incident.when(column)

    def has(self, table: str) -> bool:
        return self.counts.get(table, 0) > 0

    def onset(self, service: str, signal: Signal | None = None) -> int | None:
        """When ``service`` first moved (on ``signal``, or on any signal)."""
        times = [
            a.onset_ns
            for a in self.anomalies.get(service, ())
            if signal is None or a.signal is signal
        ]
        return min(times) if times else None

    def anomaly(self, service: str, metric: str) -> Anomaly | None:
        for a in self.anomalies.get(service, ()):
            if a.metric == metric:
                return a
        return None

    def seconds(self) -> float:
        return (self.window.end_ns - self.window.start_ns) / 1e9 if self.window else 0.0


def build_context(
    incident: Scope, baseline: Scope | None, baseline_info: Baseline | None
) -> Context:
    """Measure the incident: time range, grid, services, graph, signals and onsets.

    Without a baseline, the first quarter of the incident's own data (at least four buckets)
    serves as one, and ``baseline_info`` says so.
    """
    window = time_range(incident)
    if window is not None:
        incident = _narrowed(incident, window)
    width = bucket_width(window.end_ns - window.start_ns) if window else 1_000_000_000
    grid = _grid(window, width) if window else ()
    if baseline is None and window is not None and len(grid) >= 2 * _MIN_LEADING_BUCKETS:
        cut = grid[max(_MIN_LEADING_BUCKETS, int(len(grid) * _LEADING_SHARE))]
        lead = Window(window.start_ns, cut)
        baseline = Scope(incident.store, incident.dialect, window=lead, keep_untimed=False)
        baseline_info = Baseline(
            "leading", lead, "no baseline given: the first quarter of the incident's data"
        )
    names = tuple(r[0] for r in incident.query(_services_sql(incident)))
    logs, spans, samples, changes, configs, untimed = incident.query(_counts_sql(incident))[0]
    counts = {
        "logs": int(logs),
        "spans": int(spans),
        "samples": int(samples),
        "changes": int(changes),
        "configs": int(configs),
        "untimed_logs": int(untimed),
    }
    current, calls = profiles(incident, grid, width) if grid else ({}, {})
    normal: dict[str, Profile] = {}
    normal_calls: dict[tuple[str, str], CallSeries] = {}
    if baseline_info is not None and baseline_info.kind == "leading" and baseline_info.window:
        cut = baseline_info.window.end_ns  # the leading part of the same data: no second pass
        normal = {s: p.before(cut) for s, p in current.items()}
        normal_calls = {pair: c.before(cut) for pair, c in calls.items()}
    elif baseline is not None and grid:
        normal, normal_calls = _baseline_profiles(baseline, width)
    graph = build_graph(incident, names, calls)
    moved = {}
    for service, profile in current.items():
        found = anomalies(profile, normal.get(service))
        if found:
            moved[service] = tuple(sorted(found, key=lambda a: a.onset_ns))
    return Context(
        incident=incident,
        baseline=baseline,
        baseline_info=baseline_info,
        window=window,
        width_ns=width,
        grid=grid,
        services=names,
        counts=counts,
        graph=graph,
        calls=calls,
        normal_calls=normal_calls,
        profiles=current,
        normal=normal,
        anomalies=moved,
        templates=tuple(new_templates(incident, baseline)),
        peer_calls=bool(counts["spans"]) and span_counts(incident)[1],
    )


def _baseline_profiles(
    baseline: Scope, width: int
) -> tuple[dict[str, Profile], dict[tuple[str, str], CallSeries]]:
    window = baseline.window or time_range(baseline)
    if window is None:
        return {}, {}
    return profiles(baseline, _grid(window, width), width)

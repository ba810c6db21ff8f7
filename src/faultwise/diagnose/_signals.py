"""Timeline first: per-service signals over time, and when each one moved.

Three aggregate queries (logs, spans, samples) give, per service and time bucket: log lines
and errors; entry requests, their latency percentiles and the service's own (exclusive) time;
resource gauges. Each series is compared with the same series in the baseline:

* a bucket is *high* when it is above what the baseline ever showed (its maximum, and its
  median plus four robust deviations; for latency also 1.5× the median);
* the *onset* is the first high bucket followed by at least one more high bucket among the
  next two (a moved signal stays moved; one spike is not an onset);
* the *strength* (0..1) grows with the ratio of the level after the onset to the baseline
  level (log scale), so ×2 latency is weak evidence and ×10 is strong.

New message shapes at warning level and above (a template not seen in the baseline) are
collected too: "the first new log template" is often the first sign of the cause.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from faultwise.diagnose._calls import LONG_NS, CallSeries, call_series
from faultwise.diagnose._model import Signal
from faultwise.diagnose._sql import Dialect, Scope

__all__ = [
    "ERROR_WORDS",
    "FIRST",
    "LOGGED_DURATION",
    "PEER_CALL",
    "Anomaly",
    "Level",
    "NewTemplate",
    "Profile",
    "episode",
    "error_sql",
    "find_onset",
    "level_of",
    "new_templates",
    "own_time_cte",
    "profiles",
    "source_sql",
    "span_counts",
]

ERROR_WORDS = (
    r"(?i)\b(error|exception|fatal|panic|failed|failure|refused|timed out|timeout|"
    r"traceback|unavailable|denied|oomkilled|killed)\b"
)


def source_sql(d: Dialect) -> str:
    """SQL: a logs row's ``file:line``, NULL when the row names no line (an OpenTelemetry
    SDK's logs usually name none; ClickHouse casts a NULL only to a Nullable type)."""
    text = "Nullable(String)" if d.name == "clickhouse" else "VARCHAR"
    return f"source_file || ':' || CAST(source_line AS {text})"


FIRST = "coalesce(ts_ns, source_line)"  # orders a logs row: by time, else by line


def error_sql(d: Dialect) -> str:
    """SQL: is this ``logs`` row an error? The level says so, or, when the reader found no
    level, the message has an error word."""
    return f"(severity >= 17 OR (severity = 0 AND {d.matches('message', ERROR_WORDS)}))"


def _log_sql(scope: Scope, width: int) -> str:
    d = scope.dialect
    return (
        f"SELECT service, ts_ns - ts_ns % {width} AS t, count(*) AS n, "
        f"sum(CASE WHEN {error_sql(d)} THEN 1 ELSE 0 END) AS errors "
        f"FROM logs WHERE {scope.when('ts_ns')} AND ts_ns IS NOT NULL AND service IS NOT NULL "
        "GROUP BY 1, 2"
    )


def own_time_cte(scope: Scope, extra: str = "TRUE", *, peers: bool = False) -> str:
    """CTEs ``s`` (the scope's spans) and ``x`` (each span with its facts: ``dur``;
    ``own_ns``, its duration minus its children's, at least zero, and zero for a call into
    another service, whose remaining time is on the wire; ``entry`` = 1 when the parent is
    in another service or absent; ``call`` = 1 when it is, a call from ``parent_service``,
    whose span lasted ``parent_dur``). ``extra`` filters ``s``.

    With ``peers`` (the scope has client spans naming a ``peer_service``), a client span
    with no child stands for the callee's side of the call: for a peer that left no spans
    at all (a database, a SaaS API) as its server span, so the peer has latency, errors and
    an onset of its own; for an instrumented peer (an attempt still queued there, or lost)
    as a call only, so attempts are counted from the caller's side (``ghost`` = 2: no
    request, no latency and no error for the callee).
    """
    columns = (
        "trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, status, "
        "peer_service"
    )
    where = f"{scope.when('start_ns')} AND service IS NOT NULL AND ({extra})"
    if not peers:
        spans = f"s AS (SELECT {columns}, 0 AS ghost FROM spans WHERE {where})"
    else:
        spans = f"""r AS (SELECT {columns} FROM spans WHERE {where}),
seen AS (SELECT DISTINCT service FROM r),
parents AS (SELECT DISTINCT trace_id, parent_span_id FROM r WHERE parent_span_id IS NOT NULL),
o AS (SELECT r.trace_id, r.span_id, r.peer_service, r.name, r.start_ns, r.end_ns, r.status
      FROM r LEFT JOIN parents c ON c.trace_id = r.trace_id AND c.parent_span_id = r.span_id
      WHERE r.kind = 3 AND r.peer_service IS NOT NULL AND r.peer_service <> ''
        AND r.peer_service <> r.service AND c.trace_id IS NULL),
s AS (SELECT {columns}, 0 AS ghost FROM r
      UNION ALL
      SELECT o.trace_id, o.span_id || '>' AS span_id, o.span_id AS parent_span_id,
             o.peer_service AS service, o.name, 2 AS kind, o.start_ns,
             CASE WHEN v.service IS NULL THEN o.end_ns END AS end_ns,
             CASE WHEN v.service IS NULL THEN o.status END AS status,
             {scope.dialect.null_text()} AS peer_service,
             CASE WHEN v.service IS NULL THEN 1 ELSE 2 END AS ghost
      FROM o LEFT JOIN seen v ON v.service = o.peer_service)"""
    return f"""
WITH {spans},
kids AS (SELECT trace_id, parent_span_id AS span_id, sum(end_ns - start_ns) AS child_ns,
                min(service) AS kid_lo, max(service) AS kid_hi
         FROM s WHERE parent_span_id IS NOT NULL GROUP BY 1, 2),
x AS (SELECT s.trace_id, s.span_id, s.service, s.name, s.kind, s.start_ns, s.status,
             s.peer_service, p.service AS parent_service, p.kind AS parent_kind,
             p.status AS parent_status, p.end_ns - p.start_ns AS parent_dur,
             s.end_ns - s.start_ns AS dur,
             CASE WHEN k.kid_lo <> s.service OR k.kid_hi <> s.service THEN 0
                  ELSE greatest(0, s.end_ns - s.start_ns - coalesce(k.child_ns, 0)) END AS own_ns,
             CASE WHEN s.ghost = 2 THEN 0
                  WHEN p.service IS NULL OR p.service <> s.service THEN 1 ELSE 0 END AS entry,
             CASE WHEN p.service <> s.service THEN 1 ELSE 0 END AS call
      FROM s LEFT JOIN kids k ON k.trace_id = s.trace_id AND k.span_id = s.span_id
             LEFT JOIN s p ON p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)"""


def _span_sql(scope: Scope, width: int, peers: bool) -> str:
    """One pass over the spans, grouped two ways (GROUPING SETS): per service and bucket,
    entry spans (root, or parent in another service) with their errors and latency
    percentiles and the service's own time; and per caller, callee and bucket, the calls
    (see :class:`~faultwise.diagnose._calls.CallSeries`)."""
    d = scope.dialect

    def q(expr: str, p: float) -> str:
        return d.quantile(expr, p)

    calls = "CASE WHEN call = 1 THEN {} END"
    return f"""{own_time_cte(scope, peers=peers)}
SELECT service, parent_service, start_ns - start_ns % {width} AS t,
       grouping(parent_service) AS per_service,
       sum(entry), sum(CASE WHEN status = 2 THEN 1 ELSE 0 END),
       {q("CASE WHEN entry = 1 THEN dur END", 0.5)}, {q("CASE WHEN entry = 1 THEN dur END", 0.95)},
       {q("CASE WHEN entry = 1 THEN dur END", 0.99)}, sum(own_ns),
       sum(CASE WHEN parent_service IS NULL AND entry = 1 THEN dur ELSE 0 END),
       sum(call), count(DISTINCT {calls.format("trace_id")}),
       sum(CASE WHEN call = 1 AND (status = 2 OR (parent_kind = 3 AND parent_status = 2))
           THEN 1 ELSE 0 END),
       {q(calls.format("parent_dur - dur"), 0.5)}, {q(calls.format("dur"), 0.5)},
       {q(calls.format("parent_dur"), 0.99)},
       sum(CASE WHEN call = 1 AND parent_status <> 2 AND parent_dur >= {LONG_NS} THEN 1 ELSE 0 END),
       coalesce(max(CASE WHEN call = 1 AND parent_status <> 2 THEN parent_dur END), 0)
FROM x GROUP BY GROUPING SETS ((service, t), (parent_service, service, t))"""


# a duration written in a message: "completed in 108 ms", "took 2.5s", "elapsed=340ms"
LOGGED_DURATION = (
    r"(?i)\b(?:in|took|after|duration|elapsed|latency|time|rt)[=: ]\s*"
    r"([0-9]+(?:\.[0-9]+)?) ?(ms|s|us|µs|ns|sec|secs|seconds|milliseconds)\b"
)


def _log_latency_sql(scope: Scope, width: int) -> str:
    """Durations that log lines state, per service and bucket (latency without spans)."""
    d = scope.dialect
    num = f"CAST({d.extract('message', LOGGED_DURATION, 1)} AS DOUBLE)"
    unit = f"lower({d.extract('message', LOGGED_DURATION, 2)})"
    ns = (
        f"{num} * CASE {unit} WHEN 'ms' THEN 1e6 WHEN 'milliseconds' THEN 1e6 "
        "WHEN 'us' THEN 1e3 WHEN 'µs' THEN 1e3 WHEN 'ns' THEN 1 ELSE 1e9 END"
    )
    return f"""
WITH l AS (SELECT service, ts_ns - ts_ns % {width} AS t, {ns} AS dur FROM logs
           WHERE {scope.when("ts_ns")} AND ts_ns IS NOT NULL AND service IS NOT NULL
             AND {d.matches("message", LOGGED_DURATION)})
SELECT service, t, {d.quantile("dur", 0.5)}, {d.quantile("dur", 0.95)} FROM l GROUP BY 1, 2"""


RESOURCE_GAUGES = (
    r"(?i)(cpu|memory|mem_|heap|rss|working_set|disk|filesystem|fs_|volume|pool|connection"
    r"|thread|goroutine|gc_|file_descriptors|fds)"
)
_NOT_A_LEVEL = r"(?i)(_total$|_count$|_sum$|_bucket$|limit|max|capacity|quota|period|size|node_)"


def _resource_sql(scope: Scope, width: int) -> str:
    """Resource gauges (CPU, memory, disk, pools, threads) per service and bucket."""
    d = scope.dialect
    return f"""
SELECT service, metric, ts_ns - ts_ns % {width} AS t, avg(value) FROM samples
WHERE {scope.when("ts_ns")} AND ts_ns IS NOT NULL AND service IS NOT NULL
  AND {d.matches("metric", RESOURCE_GAUGES)} AND NOT {d.matches("metric", _NOT_A_LEVEL)}
GROUP BY 1, 2, 3"""


PEER_CALL = (
    "kind = 3 AND peer_service IS NOT NULL AND peer_service <> '' AND peer_service <> service"
)


def _span_count_sql(scope: Scope) -> str:
    return (
        f"SELECT count(*), sum(CASE WHEN {PEER_CALL} THEN 1 ELSE 0 END) FROM spans "
        f"WHERE {scope.when('start_ns')}"
    )


def span_counts(scope: Scope) -> tuple[int, bool]:
    """The scope's spans, and whether any client span names its peer (see
    :func:`own_time_cte`)."""
    n, peers = scope.query(_span_count_sql(scope))[0]
    return int(n or 0), bool(peers)


@dataclass(frozen=True, slots=True)
class Level:
    """A series' normal level: median, robust spread and the highest value seen."""

    median: float
    spread: float
    high: float
    buckets: int


def level_of(values: Iterable[float]) -> Level | None:
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return None
    med = statistics.median(vals)
    mad = statistics.median(abs(v - med) for v in vals) * 1.4826
    return Level(med, mad, vals[-1], len(vals))


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One signal of one service that moved away from its baseline."""

    service: str
    signal: Signal
    metric: str  # "error rate", "p95 latency", "own time per request", ...
    onset_ns: int
    before: float
    after: float
    strength: float  # 0..1
    unit: str = ""

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else math.inf

    def describe(self) -> str:
        ratio = self.ratio
        times = "from none" if math.isinf(ratio) else f"×{ratio:.1f}"
        return (
            f"{self.metric} {_fmt(self.before, self.unit)} -> {_fmt(self.after, self.unit)} "
            f"({times})"
        )


def _fmt(value: float, unit: str) -> str:
    if unit == "ns":
        ms = value / 1e6
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    if unit == "/s":
        return f"{value:.2f}/s"
    return f"{value:.3g}{unit}"


def _threshold(normal: Level, ratio: float, floor: float) -> float:
    return max(normal.high, normal.median + 4 * normal.spread, normal.median * ratio) + floor


def find_onset(
    times: Sequence[int],
    values: Sequence[float | None],
    normal: Level,
    *,
    ratio: float = 1.0,
    floor: float = 0.0,
) -> int | None:
    """Index of the first high bucket that stays high (see the module docstring), or None."""
    threshold = _threshold(normal, ratio, floor)
    high = [v is not None and v > threshold for v in values]
    present = [i for i, v in enumerate(values) if v is not None]
    for pos, i in enumerate(present):
        if not high[i]:
            continue
        following = present[pos + 1 : pos + 3]
        if not following or any(high[j] for j in following):
            return i
    return None


def episode(values: Sequence[float | None], start: int, threshold: float) -> list[float]:
    """The values from ``start`` until the signal is back at or below ``threshold`` for good
    (``_RECOVERED`` buckets in a row): the level of an outage that ended is read from the
    outage, not from the recovery after it. Short dips inside the outage are kept."""
    kept: list[float] = []
    calm: list[float] = []
    for v in values[start:]:
        if v is None:
            continue
        if v > threshold:
            kept += calm
            kept.append(v)
            calm = []
        else:
            calm.append(v)
            if len(calm) >= _RECOVERED:
                return kept
    return kept + calm


@dataclass(frozen=True, slots=True)
class Profile:
    """One service's series on the shared bucket grid (``None``: no data in that bucket)."""

    service: str
    times: tuple[int, ...]
    width_ns: int
    series: dict[str, tuple[float | None, ...]]

    def values(self, key: str) -> tuple[float | None, ...]:
        return self.series.get(key, (None,) * len(self.times))

    def before(self, cut: int) -> Profile:
        """The buckets that start before ``cut`` (the leading baseline of the same data)."""
        n = sum(1 for t in self.times if t < cut)
        series = {k: v[:n] for k, v in self.series.items()}
        return Profile(self.service, self.times[:n], self.width_ns, series)

    def total(self, key: str, since: int | None = None) -> float:
        """The sum of a per-second series over its buckets from ``since`` (in its unit × s)."""
        per_bucket = self.width_ns / 1e9
        return sum(
            v * per_bucket
            for t, v in zip(self.times, self.values(key), strict=True)
            if v is not None and (since is None or t >= since)
        )


# series keys and how each is compared with its baseline
_RULES: tuple[tuple[str, Signal, str, str, float, float], ...] = (
    # key, signal, label, unit, ratio, floor
    ("log_errors", Signal.ERRORS, "error log lines", "/s", 1.0, 0.0),
    ("span_errors", Signal.ERRORS, "failed spans", "/s", 1.0, 0.0),
    ("p50", Signal.LATENCY, "p50 latency", "ns", 1.5, 0.0),
    ("p95", Signal.LATENCY, "p95 latency", "ns", 1.5, 0.0),
    ("own", Signal.LATENCY, "own time per request", "ns", 1.5, 0.0),
    ("log_p50", Signal.LATENCY, "logged p50 duration", "ns", 1.5, 0.0),
    ("log_p95", Signal.LATENCY, "logged p95 duration", "ns", 1.5, 0.0),
    ("requests", Signal.TRAFFIC, "requests", "/s", 1.5, 0.0),
)


_MIN_RATIO = {Signal.LATENCY: 1.3, Signal.TRAFFIC: 1.5, Signal.RESOURCE: 1.2}
_RECOVERED = 3  # buckets back at the normal level that end an outage
_LATENCY_UNIT_NS = 1_000_000
_MIN_EPISODE = 5  # buckets
_EPISODE_SHARE = 0.25  # of the buckets from the onset on


def profiles(
    scope: Scope, grid: Sequence[int], width: int
) -> tuple[dict[str, Profile], dict[tuple[str, str], CallSeries]]:
    """Per-service series for ``scope`` on ``grid`` (bucket starts, ``width`` ns apart), and
    the calls between services over time."""
    rows: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    per_s = 1e9 / width
    for service, t, n, errors in scope.query(_log_sql(scope, width)):
        rows[service]["logs"][t] = n * per_s
        rows[service]["log_errors"][t] = errors * per_s
    call_rows = []
    n_spans, peers = span_counts(scope)
    if has_spans := n_spans > 0:
        for service, caller, t, per_service, *facts in scope.query(_span_sql(scope, width, peers)):
            if not per_service:
                if caller is not None and facts[7]:
                    call_rows.append((caller, service, t, *facts[7:]))
                continue
            n, errors, p50, p95, p99, own, root = facts[:7]
            rows[service]["requests"][t] = n * per_s
            rows[service]["span_errors"][t] = errors * per_s
            rows[service]["own_total"][t] = float(own) * per_s  # ns of own time per s
            rows[service]["root_total"][t] = float(root) * per_s
            if n:
                rows[service]["own"][t] = float(own) / n
                for key, value in (("p50", p50), ("p95", p95), ("p99", p99)):
                    if value is not None:
                        rows[service][key][t] = float(value)
    for service, metric, t, value in scope.query(_resource_sql(scope, width)):
        if value is not None:
            rows[service][f"res:{metric}"][t] = float(value)
    if not has_spans:
        for service, t, p50, p95 in scope.query(_log_latency_sql(scope, width)):
            rows[service]["log_p50"][t] = float(p50)
            rows[service]["log_p95"][t] = float(p95)
    result = {}
    for service, by_key in rows.items():
        series = {}
        for key, points in by_key.items():
            dense = key in {
                "logs",
                "log_errors",
                "requests",
                "span_errors",
                "own_total",
                "root_total",
            }
            series[key] = tuple(points.get(t, 0.0 if dense else None) for t in grid)
        result[service] = Profile(service, tuple(grid), width, series)
    return result, call_series(call_rows)


def _rules(profile: Profile) -> list[tuple[str, Signal, str, str, float, float]]:
    """The fixed rules, and one per resource gauge the profile has (``res:<metric>``)."""
    gauges = [
        (key, Signal.RESOURCE, key[4:], "", 1.2, 0.0)
        for key in sorted(profile.series)
        if key.startswith("res:")
    ]
    return [*_RULES, *gauges]


def anomalies(current: Profile, normal: Profile | None) -> list[Anomaly]:
    """Every signal of ``current`` that moved against ``normal`` (its baseline profile)."""
    found = []
    for key, signal, label, unit, ratio, floor in _rules(current):
        values = current.values(key)
        if all(v is None for v in values):
            continue
        base = level_of(v for v in normal.values(key) if v is not None) if normal else None
        if base is None:
            if signal is not Signal.ERRORS:
                continue
            base = Level(0.0, 0.0, 0.0, 0)  # no errors in the baseline
        idx = find_onset(current.times, values, base, ratio=ratio, floor=floor)
        if idx is None:
            continue
        rest = [v for v in values[idx:] if v is not None]
        outage = episode(values, idx, _threshold(base, ratio, floor))
        # an outage that ended is measured alone when it lasted (a blip is not an outage)
        after = outage if len(outage) >= max(_MIN_EPISODE, _EPISODE_SHARE * len(rest)) else rest
        level = statistics.median(after) if signal is not Signal.ERRORS else sum(after) / len(after)
        if signal is not Signal.ERRORS and level < base.median * _MIN_RATIO[signal]:
            continue  # one high bucket, but the level after it is about what it was
        strength = _strength(signal, base.median, level, sum(after) * current.width_ns / 1e9)
        if strength <= 0:
            continue
        found.append(
            Anomaly(
                current.service,
                signal,
                label,
                current.times[idx],
                base.median,
                level,
                strength,
                unit,
            )
        )
    return found


def _strength(signal: Signal, before: float, after: float, total: float) -> float:
    """0..1 from the ratio after/before on a log scale (and, for errors, their number)."""
    if signal is Signal.ERRORS:
        # errors per second; "none before" counts as one error in ten minutes
        ratio = (after + 1 / 600) / (before + 1 / 600)
        by_ratio = min(1.0, math.log10(max(ratio, 1.0)) / 2)
        by_count = min(1.0, total / 10)
        return by_ratio * by_count
    if signal is Signal.LATENCY:
        # no own time before (a service that only waited on its callees): compare with 1 ms
        before = max(before, _LATENCY_UNIT_NS)
    if before <= 0:
        return 0.0
    return min(1.0, math.log2(max(after / before, 1.0)) / 3)


@dataclass(frozen=True, slots=True)
class NewTemplate:
    """A message shape at warning level or above that the baseline never showed."""

    service: str
    shape: str
    count: int
    first_ns: int | None
    example: str
    source: str | None
    errors: int  # how many of ``count`` were errors (not warnings)


def _template_sql(scope: Scope) -> str:
    d = scope.dialect
    return (
        f"SELECT service, {d.shape('message')} AS shape, count(*) AS n, min(ts_ns) AS first, "
        f"{d.arg_min('message', FIRST)} AS example, "
        f"{d.arg_min(source_sql(d), FIRST)} AS source, "
        f"sum(CASE WHEN {error_sql(d)} THEN 1 ELSE 0 END) AS errors "
        f"FROM logs WHERE {scope.when('ts_ns')} AND service IS NOT NULL "
        f"AND (severity >= 13 OR {error_sql(d)}) GROUP BY 1, 2"
    )


def new_templates(scope: Scope, baseline: Scope | None) -> list[NewTemplate]:
    """Warning-and-above message shapes of ``scope`` that ``baseline`` does not have."""
    seen: set[tuple[str, str]] = set()
    if baseline is not None:
        seen = {(r[0], r[1]) for r in baseline.query(_template_sql(baseline))}
    result = []
    for service, shape, n, first, example, source, errors in scope.query(_template_sql(scope)):
        if (service, shape) in seen:
            continue
        result.append(NewTemplate(service, shape, int(n), first, example, source, int(errors)))
    result.sort(key=lambda t: (t.first_ns is None, t.first_ns or 0, t.service))
    return result

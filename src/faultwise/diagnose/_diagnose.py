"""The pipeline: store -> context (timeline first) -> detectors -> ranking -> a Diagnosis.

Usage::

    from faultwise.diagnose import diagnose, load_incident

    with load_incident(["incident/"]) as store, load_incident(["last-week/"]) as normal:
        result = diagnose(store, baseline=normal)
    result.root_cause     # RootCause(component='inventory', pattern=Pattern.RETRY_STORM, ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from faultwise.diagnose._charts import charts
from faultwise.diagnose._context import Context, build_context
from faultwise.diagnose._evidence import short_time
from faultwise.diagnose._graph import failing_path
from faultwise.diagnose._model import (
    Baseline,
    Diagnosis,
    Finding,
    Graph,
    Inputs,
    Pattern,
    Signal,
    TimelineEntry,
    TimelineKind,
    Window,
)
from faultwise.diagnose._patterns import DETECTORS
from faultwise.diagnose._rank import rank, root_cause
from faultwise.diagnose._sql import DUCKDB, Dialect, Scope
from faultwise.telemetry import Store

__all__ = ["diagnose"]

_TIMELINE_LIMIT = 60
_SIGNAL_KIND = {
    Signal.ERRORS: TimelineKind.ERROR_ONSET,
    Signal.LATENCY: TimelineKind.LATENCY_ONSET,
    Signal.TRAFFIC: TimelineKind.TRAFFIC_ONSET,
    Signal.RESOURCE: TimelineKind.RESOURCE_ONSET,
}


def diagnose(
    store: Store,
    *,
    baseline: Store | Window | None = None,
    patterns: Iterable[Pattern] | None = None,
    dialect: Dialect = DUCKDB,
) -> Diagnosis:
    """Diagnose the incident in ``store``.

    ``baseline`` is what normal looked like: another store (``--baseline PATH...``), or a
    window of this one (``--baseline-window``; the incident is then everything outside it).
    Without one, the first quarter of the incident's own data is used, and the result says so.
    ``patterns`` limits the detectors that run (all by default).
    """
    incident, normal, info = _scopes(store, baseline, dialect)
    ctx = build_context(incident, normal, info)
    warnings: list[str] = []
    findings: list[Finding] = []
    chosen = set(patterns) if patterns is not None else set(DETECTORS)
    for pattern, detect in DETECTORS.items():
        if pattern in chosen:
            findings.extend(detect(ctx))
    findings.sort(key=lambda f: (-f.score, f.component, f.pattern.value))
    ranking = rank(ctx, findings)
    cause = root_cause(ranking, findings)
    suspicious = [r.component for r in ranking[:5]]
    graph = ctx.graph
    if cause is not None:
        graph = _with_path(graph, failing_path(graph, cause.component, suspicious))
    timeline = _timeline(ctx, findings, [r.component for r in ranking])
    warnings += _deploy_warning(ctx, timeline)
    return Diagnosis(
        root_cause=cause,
        ranking=ranking,
        findings=tuple(findings),
        timeline=timeline,
        inputs=_inputs(ctx, store, warnings),
        graph=graph,
        charts=charts(ctx, ranking, timeline),
    )


def _scopes(
    store: Store, baseline: Store | Window | None, dialect: Dialect
) -> tuple[Scope, Scope | None, Baseline | None]:
    if baseline is None:
        return Scope(store, dialect), None, None
    if isinstance(baseline, Window):
        inside = Scope(store, dialect, window=baseline, keep_untimed=False)
        info = Baseline("window", baseline, "the given window of the same data")
        return Scope(store, dialect, outside=baseline), inside, info
    files = sorted({s.source_file for s in baseline.summary.sources})
    detail = f"{len(files)} baseline file{'s' * (len(files) != 1)}"
    return Scope(store, dialect), Scope(baseline, dialect), Baseline("files", None, detail)


def _with_path(graph: Graph, path: Sequence[str]) -> Graph:
    return Graph(graph.nodes, graph.edges, graph.source, tuple(path), graph.cycles)


def _changes_sql(ctx: Context) -> str:
    return (
        "SELECT ts_ns, coalesce(service, ''), kind, detail FROM changes "
        f"WHERE {ctx.when('ts_ns')} AND ts_ns IS NOT NULL ORDER BY ts_ns LIMIT {_TIMELINE_LIMIT}"
    )


def _timeline(
    ctx: Context, findings: Sequence[Finding], order: Sequence[str]
) -> tuple[TimelineEntry, ...]:
    """Onsets, first new templates, changes and findings in time order; at the same instant
    the better-ranked component comes first."""
    entries = []
    for service, moved in ctx.anomalies.items():
        for a in moved:
            entries.append(TimelineEntry(a.onset_ns, service, _SIGNAL_KIND[a.signal], a.describe()))
    for t in ctx.templates:
        if t.first_ns is not None:
            what = "error" if t.errors else "warning"
            entries.append(
                TimelineEntry(
                    t.first_ns,
                    t.service,
                    TimelineKind.NEW_TEMPLATE,
                    f"first new {what} template (×{t.count}): {t.example[:160]}",
                    t.source,
                )
            )
    if ctx.has("changes"):
        for ts, service, kind, detail in ctx.query(_changes_sql(ctx)):
            entries.append(TimelineEntry(ts, service, TimelineKind.CHANGE, f"{kind}: {detail}"))
    for f in findings:
        if f.start_ns is not None:
            entries.append(
                TimelineEntry(
                    f.start_ns, f.component, TimelineKind.FINDING, f"{f.pattern.value}: {f.summary}"
                )
            )
    rank = {c: i for i, c in enumerate(order)}
    entries.sort(key=lambda e: (e.ts_ns, rank.get(e.service, len(rank)), e.service, e.kind.value))
    return tuple(entries[:_TIMELINE_LIMIT])


def _last_deploy_sql(ctx: Context) -> str:
    return (
        f"SELECT ts_ns, coalesce(service, '') FROM changes WHERE {ctx.when('ts_ns')} "
        "AND kind = 'deploy' AND ts_ns IS NOT NULL ORDER BY ts_ns DESC LIMIT 1"
    )


def _deploy_warning(ctx: Context, timeline: Sequence[TimelineEntry]) -> list[str]:
    """The last deploy came after the first symptom: it cannot have started the incident."""
    symptoms = [e.ts_ns for e in timeline if e.kind is not TimelineKind.CHANGE]
    last = ctx.query(_last_deploy_sql(ctx)) if symptoms and ctx.has("changes") else []
    if not last or last[0][0] <= min(symptoms):
        return []
    ts, service = last[0]
    return [
        f"the most recent deploy ({service or 'unknown service'} at {short_time(ts)}) came "
        f"after the first symptom ({short_time(min(symptoms))}): it did not start this incident"
    ]


_UNTIMED_SQL = (
    "SELECT source_file, count(*) FROM logs WHERE ts_ns IS NULL GROUP BY 1 ORDER BY 1 LIMIT 20"
)


def _inputs(ctx: Context, store: Store, warnings: list[str]) -> Inputs:
    summary = store.summary
    counts = ctx.counts
    missing = []
    if not counts["spans"]:
        missing.append(
            "no spans: the dependency graph comes from logs and latency is not measured"
            if counts["logs"]
            else "no spans: no dependency graph and no latency"
        )
    if not counts["logs"]:
        missing.append("no logs: no error templates, no log evidence")
    if not counts["samples"]:
        missing.append("no metrics: resource patterns (memory, disk, CPU, pools) rely on logs")
    if not counts["changes"]:
        missing.append("no change records (deploys, config changes, restarts)")
    for source, n in ctx.query(_UNTIMED_SQL) if counts["untimed_logs"] else []:
        missing.append(
            f"{Path(source).name}: {n} lines without timestamps (used as evidence, not timed)"
        )
    if not ctx.services:
        missing.append("no service found in the inputs: nothing to rank")
    elif len(ctx.services) == 1:
        missing.append(
            "only one service: no dependency graph, so a cause cannot be told from its callers"
        )
    if ctx.window is None and (counts["logs"] or counts["spans"]):
        missing.append("no timestamps at all: no timeline, no onsets, no baseline comparison")
    if ctx.baseline_info is not None and ctx.baseline_info.kind == "leading":
        missing.append(
            "no baseline: compared with the first quarter of the incident's own data "
            "(give --baseline or --baseline-window)"
        )
    if summary.rejected:
        warnings.append(f"{summary.rejected} input lines could not be read (--show-rejects)")
    if summary.pages:
        pages = ", ".join(Path(page).name for page in summary.pages)
        warnings.append(f"web pages, not telemetry, not read: {pages}")
    warnings.extend(f"clock: {c.detail} ({Path(c.source).name})" for c in summary.clock)
    return Inputs(
        files=len(summary.sources),
        rows={k: v for k, v in counts.items() if k != "untimed_logs"},
        rejected=summary.rejected,
        services=ctx.services,
        window=ctx.window,
        baseline=ctx.baseline_info,
        missing=tuple(missing),
        warnings=tuple(warnings),
    )

"""slow_dependency: one service's own time per request grew, and its callers slowed after it.

A service's *own* time is the time its spans spend outside their children (its code and the
I/O it does not trace further). When a dependency slows down, its own time grows; its
callers' total latency grows too, but their own time does not. Evidence: the own-time change
with its onset, the share of all request time spent in the service before and after, the few
operations that hold 80 % of its time (Pareto), the critical path of the slowest trace
through it (Jaeger's rule: at each level follow the child that finishes last), and the
callers whose latency moved after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern, Signal
from faultwise.diagnose._signals import LOGGED_DURATION, Anomaly, Profile, own_time_cte

__all__ = ["critical_path", "detect", "moved_callers", "operations_share", "time_share"]

PATTERN = Pattern.SLOW_DEPENDENCY
CAP = 0.75
_OWN = "own time per request"


def _ops_sql(ctx: Context, since: int) -> str:
    return f"""{own_time_cte(ctx.incident, f"start_ns >= {since}", peers=ctx.peer_calls)}
SELECT name, sum(own_ns) AS own, count(*) FROM x WHERE service = ?
GROUP BY 1 ORDER BY 2 DESC LIMIT 50"""


def _slowest_trace_sql(ctx: Context, since: int) -> str:
    return (
        "SELECT trace_id FROM spans WHERE service = ? AND "
        f"{ctx.when('start_ns')} AND start_ns >= {since} "
        "ORDER BY end_ns - start_ns DESC LIMIT 1"
    )


_TRACE_SQL = (
    "SELECT span_id, parent_span_id, service, name, start_ns, end_ns FROM spans "
    "WHERE trace_id = ? ORDER BY start_ns"
)


def time_share(profiles: Mapping[str, Profile], service: str, since: int | None) -> float | None:
    """The share of all request time (at the root spans) spent in ``service``'s own time."""
    total = sum(p.total("root_total", since) for p in profiles.values())
    mine = profiles.get(service)
    if not total or mine is None:
        return None
    return mine.total("own_total", since) / total


def operations_share(ctx: Context, service: str, since: int) -> tuple[list[str], int]:
    """The operations of ``service`` holding 80 % of its own time (``name share``), and how
    many operations it has in all."""
    rows = ctx.query(_ops_sql(ctx, since), [service])
    total = sum(float(r[1]) for r in rows) or 1.0
    top, acc = [], 0.0
    for name, own, _n in rows:
        top.append(f"{clip(name or '?', 60)} {100 * float(own) / total:.0f} %")
        acc += float(own) / total
        if acc >= 0.8:
            break
    return top, len(rows)


def critical_path(ctx: Context, trace_id: str) -> list[str]:
    """Jaeger's critical path of one trace: from the root, always the child ending last."""
    spans = ctx.query(_TRACE_SQL, [trace_id])
    ids = {str(r[0]) for r in spans}
    children: dict[str | None, list[tuple[str, str, str, int, int]]] = {}
    for span_id, parent, service, name, start, end in spans:
        key = parent if parent in ids else None
        children.setdefault(key, []).append((span_id, service, name or "?", start, end))
    path, level = [], children.get(None, [])
    while level:
        span_id, service, name, start, end = max(level, key=lambda r: r[4])
        path.append(f"{service} {clip(name, 40)} {(end - start) / 1e6:.0f} ms")
        level = children.get(span_id, [])
    return path


def moved_callers(ctx: Context, service: str, since: int) -> list[Anomaly]:
    """Latency anomalies of callers of ``service`` that began no earlier than ``since``
    (minus one bucket)."""
    found = []
    for caller in ctx.graph.callers(service):
        for a in ctx.anomalies.get(caller, ()):
            if a.signal is Signal.LATENCY and a.onset_ns >= since - ctx.width_ns:
                found.append(a)
                break
    return found


def _from_logs(ctx: Context) -> list[Finding]:
    """Without spans: a service whose logged durations grew while those of the services it
    calls (by the log-derived graph) did not."""
    moved = {}
    for service in ctx.services:
        a = ctx.anomaly(service, "logged p50 duration") or ctx.anomaly(
            service, "logged p95 duration"
        )
        if a is not None:
            moved[service] = a
    findings = []
    for service, a in sorted(moved.items()):
        below = [c for c in ctx.graph.callees(service) if c in moved]
        if any(moved[c].onset_ns <= a.onset_ns + ctx.width_ns for c in below):
            continue  # something it calls slowed down first
        callers = [moved[c] for c in ctx.graph.callers(service) if c in moved]
        evidence = [
            Evidence(
                EvidenceKind.LOG,
                f"{a.describe()} from {short_time(a.onset_ns)}",
                None,
                round(a.after / 1e9, 6),
            )
        ]
        evidence += [
            Evidence(EvidenceKind.LOG, f"caller {c.service}: {c.describe()}", None, c.after / 1e9)
            for c in callers[:3]
        ]
        condition = (
            f"service = ? AND ts_ns >= ? AND {ctx.dialect.matches('message', LOGGED_DURATION)}"
        )
        evidence += example_lines(ctx, condition, [service, a.onset_ns], limit=2)
        who = ", ".join(c.service for c in callers) or "its callers"
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(0.65 * min(1.0, a.strength + (0.1 if callers else 0.0)), 4),
                summary=f"{service} got slower from {short_time(a.onset_ns)} (logged "
                f"durations ×{a.ratio:.1f})",
                evidence=tuple(evidence),
                action=(
                    f"Find why {service} got slower (add spans to see which operation); "
                    f"meanwhile give {who} a timeout on calls to {service} just above its "
                    "normal p99."
                ),
                start_ns=a.onset_ns,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("spans"):
        return _from_logs(ctx) if ctx.has("logs") else []
    findings = []
    for service in ctx.services:
        own = ctx.anomaly(service, _OWN)
        if own is None:
            continue
        evidence = [
            Evidence(
                EvidenceKind.SPAN,
                f"{own.describe()} from {short_time(own.onset_ns)}",
                None,
                round(own.after / 1e9, 6),
            )
        ]
        for key in ("p50 latency", "p95 latency"):
            a = ctx.anomaly(service, key)
            if a is not None:
                evidence.append(Evidence(EvidenceKind.SPAN, a.describe(), None, a.after / 1e9))
        after = time_share(ctx.profiles, service, own.onset_ns)
        before = time_share(ctx.normal, service, None) if ctx.normal else None
        if after is not None:
            was = f"{100 * before:.0f} % -> " if before is not None else ""
            evidence.append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"share of all request time spent in {service}: {was}{100 * after:.0f} %",
                    None,
                    round(after, 4),
                )
            )
        top, n_ops = operations_share(ctx, service, own.onset_ns)
        if top:
            evidence.append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"{len(top)} of {n_ops} operations hold 80 % of its time: " + "; ".join(top),
                )
            )
        trace = ctx.query(_slowest_trace_sql(ctx, own.onset_ns), [service])
        if trace:
            path = critical_path(ctx, trace[0][0])
            evidence.append(
                Evidence(
                    EvidenceKind.SPAN,
                    "critical path of the slowest trace: " + " -> ".join(path),
                    f"trace:{trace[0][0]}",
                )
            )
        callers = moved_callers(ctx, service, own.onset_ns)
        for a in callers[:3]:
            evidence.append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"caller {a.service}: {a.describe()} from {short_time(a.onset_ns)}",
                    None,
                    a.after / 1e9,
                )
            )
        score = CAP * min(1.0, own.strength + (0.1 if callers else 0.0))
        who = ", ".join(a.service for a in callers) or "its callers"
        first = top[0] if top else "its busiest operation"
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(score, 4),
                summary=(
                    f"{service} got slower from {short_time(own.onset_ns)}: "
                    f"own time ×{own.ratio:.1f} per request"
                ),
                evidence=tuple(evidence),
                action=(
                    f"Find why {service} itself got slower ({first} first); meanwhile give "
                    f"{who} a timeout on calls to {service} just above its normal p99."
                ),
                start_ns=own.onset_ns,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

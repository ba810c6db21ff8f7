"""error_burst: a new error template, or a change point in a service's error rate.

Evidence: the error-rate change (before -> after, with its onset), the first line of each new
error template with file:line and trace id, and, when other services' new errors name this
one ("connection refused to inventory", "No instances available for payments"), those lines:
a service that has died often logs nothing itself, and its callers say who it was.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern, Signal
from faultwise.diagnose._signals import NewTemplate, error_sql

__all__ = ["detect"]

PATTERN = Pattern.ERROR_BURST
CAP = 0.75  # a generic symptom: a specific pattern on the same component outranks it


def _last_error_sql(ctx: Context) -> str:
    return (
        f"SELECT service, max(ts_ns) FROM logs WHERE {ctx.when('ts_ns')} "
        f"AND {error_sql(ctx.dialect)} GROUP BY 1"
    )


def _shape_condition(ctx: Context) -> str:
    return f"service = ? AND {ctx.dialect.shape('message')} = ?"


def detect(ctx: Context) -> list[Finding]:
    new_errors: dict[str, list[NewTemplate]] = defaultdict(list)
    for t in ctx.templates:
        if t.errors:
            new_errors[t.service].append(t)
    named = _named_by_others(ctx, new_errors)
    last = dict(ctx.query(_last_error_sql(ctx))) if ctx.has("logs") else {}
    findings = []
    for service in sorted(set(ctx.services) | set(named)):
        moved = [a for a in ctx.anomalies.get(service, ()) if a.signal is Signal.ERRORS]
        templates = new_errors.get(service, [])
        callers = named.get(service, [])
        if not moved and not templates and not callers:
            continue
        by_rate = max((a.strength for a in moved), default=0.0)
        by_new = min(1.0, sum(t.errors for t in templates) / 10)
        by_callers = min(1.0, sum(t.errors for t in callers) / 10) * 0.9
        base = max(by_rate, by_new, by_callers)
        if sum(1 for s in (by_rate, by_new, by_callers) if s > 0) > 1:
            base = min(1.0, base + 0.1)
        if base <= 0:
            continue
        evidence = [
            Evidence(
                EvidenceKind.METRIC,
                f"{a.describe()} from {short_time(a.onset_ns)}",
                None,
                round(a.after, 4),
            )
            for a in moved
        ]
        for t in templates[:3]:
            lines = example_lines(ctx, _shape_condition(ctx), [t.service, t.shape], limit=1)
            count = Evidence(
                EvidenceKind.LOG,
                f"new error template ×{t.count}: {clip(t.shape)}",
                t.source,
                float(t.count),
            )
            evidence += [count, *lines]
        for t in callers[:3]:
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{t.service} logs ×{t.count}: {clip(t.example)}",
                    t.source,
                    float(t.count),
                )
            )
        starts = [a.onset_ns for a in moved] + [t.first_ns for t in templates + callers]
        start = min((s for s in starts if s is not None), default=None)
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(CAP * base, 4),
                summary=_summary(service, moved, templates, callers, start),
                evidence=tuple(evidence),
                action=_action(service, templates, callers, start),
                start_ns=start,
                end_ns=last.get(service),
            )
        )
    return findings


def _named_by_others(
    ctx: Context, new_errors: dict[str, list[NewTemplate]]
) -> dict[str, list[NewTemplate]]:
    """New error templates of one service that name another service, by the named one."""
    named: dict[str, list[NewTemplate]] = defaultdict(list)
    patterns = {s: re.compile(rf"(?<![\w-]){re.escape(s)}(?![\w-])", re.I) for s in ctx.services}
    for service, templates in new_errors.items():
        for t in templates:
            for other, rx in patterns.items():
                if other != service and rx.search(t.example):
                    named[other].append(t)
    return named


def _summary(
    service: str,
    moved: Sequence[object],
    templates: list[NewTemplate],
    callers: list[NewTemplate],
    start: int | None,
) -> str:
    if templates:
        n = sum(t.errors for t in templates)
        what = f"{n} errors of {len(templates)} new template{'s' * (len(templates) > 1)}"
        return f"{service} started failing at {short_time(start)}: {what}"
    if moved:
        return f"{service}'s error rate jumped at {short_time(start)}"
    who = sorted({t.service for t in callers})
    return f"{', '.join(who)} report new errors naming {service} from {short_time(start)}"


def _action(
    service: str, templates: list[NewTemplate], callers: list[NewTemplate], start: int | None
) -> str:
    if templates:
        return (
            f"Find what changed in {service} just before {short_time(start)} (a deploy, a "
            f'config change, new input) that makes it log "{clip(templates[0].shape, 80)}"; '
            f"roll it back, and alert on {service}'s error rate against its normal level."
        )
    if callers:
        return (
            f"Check that {service} is up and reachable (its callers cannot reach it since "
            f"{short_time(start)}), restore it, and alert on its callers' error rate."
        )
    return (
        f"Look at {service}'s first errors after {short_time(start)} and what changed just "
        "before them; alert on its error rate against its normal level."
    )

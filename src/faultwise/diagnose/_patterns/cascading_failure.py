"""cascading_failure: a failure that climbed the dependency graph one level at a time.

Onset order along the graph (from spans, else from logs): the origin fails first; then a
caller starts failing *on its own account* (its own new error, such as an exhausted worker
pool, not just its callee's error passed through) at least one time bucket later; then its
caller, and so on. Three levels or more make a cascade; the component is the origin. An error
that passes up the call chain at the same instant is an error burst, not a cascade.
"""

from __future__ import annotations

import re

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern, Signal

__all__ = ["detect"]

PATTERN = Pattern.CASCADING_FAILURE
_MIN_LEVELS = 3


def _onsets(ctx: Context) -> dict[str, int]:
    found = {}
    for service in ctx.graph.nodes:
        t = ctx.onset(service, Signal.ERRORS)
        if t is not None:
            found[service] = t
    return found


def _own_errors(ctx: Context) -> dict[str, tuple[int | None, str, str | None]]:
    """Per service, its first new error template that does not name another service."""
    names = {s: re.compile(rf"(?<![\w-]){re.escape(s)}(?![\w-])", re.I) for s in ctx.graph.nodes}
    own: dict[str, tuple[int | None, str, str | None]] = {}
    for t in ctx.templates:
        if not t.errors or t.service in own:
            continue
        if any(rx.search(t.example) for s, rx in names.items() if s != t.service):
            continue  # its callee's error passed through
        own[t.service] = (t.first_ns, t.example, t.source)
    return own


def detect(ctx: Context) -> list[Finding]:
    onsets = _onsets(ctx)
    own = _own_errors(ctx)
    findings = []
    for origin, start in sorted(onsets.items(), key=lambda kv: kv[1]):
        if any(onsets.get(c, start + 1) <= start for c in ctx.graph.callees(origin)):
            continue  # something it calls failed first: not an origin
        levels = [[origin]]
        seen = {origin}
        when = {origin: start}
        while True:
            lower = levels[-1]
            floor = min(when[s] for s in lower) + ctx.width_ns
            upper = sorted(
                caller
                for s in lower
                for caller in ctx.graph.callers(s)
                if caller not in seen and (own.get(caller, (None,))[0] or 0) >= floor
            )
            when.update((c, own[c][0] or 0) for c in upper)
            if not upper:
                break
            levels.append(upper)
            seen.update(upper)
        if len(levels) < _MIN_LEVELS:
            continue
        evidence = [
            Evidence(
                EvidenceKind.LOG,
                f"level {i}: {s} failing from {short_time(when[s])}"
                + (f": {clip(own[s][1], 120)}" if s in own else ""),
                own[s][2] if s in own else None,
                float(i),
            )
            for i, level in enumerate(levels)
            for s in level
        ]
        path = " -> ".join("/".join(level) for level in levels)
        findings.append(
            Finding(
                pattern=PATTERN,
                component=origin,
                score=round(min(0.95, 0.75 + 0.05 * len(levels)), 4),
                summary=f"a failure of {origin} climbed {len(levels) - 1} levels: {path}",
                evidence=tuple(evidence),
                action=(
                    f"Stop the spread at the first hop: bound {', '.join(levels[1])}'s waiting "
                    f"on {origin} (short timeouts, a bulkhead per dependency, a circuit "
                    "breaker) so a failing dependency cannot take its callers' workers."
                ),
                start_ns=start,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

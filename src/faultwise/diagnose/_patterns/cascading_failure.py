"""cascading_failure: a failure that climbed the dependency graph one level at a time.

Onset order along the graph (from spans, else from logs), on errors or on latency:

* errors: the origin fails first; then a caller starts failing *on its own account* (its
  own new error, such as an exhausted worker pool, not just its callee's error passed
  through) at least one time bucket later; then its caller, and so on. An error that passes
  up the call chain at the same instant is an error burst, not a cascade.
* latency: the origin is the deepest component whose latency moved first (nothing it
  calls moved before it; a database seen only through its callers' client spans counts)
  and moved far (about ×5 or more: enough to hold its callers' workers); its callers'
  latency moves no earlier, level by level, and above the origin at least one level slowed
  *on its own account*: its own time per request grew as far (requests queueing for its
  workers, so even requests that never touch the origin wait), and the slowdown reached an
  entry point (a service nobody calls: the users see it). Callers that only wait for their
  callee keep their own time and make a slow dependency, not a cascade.

Three levels or more make a cascade; the component is the origin.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern, Signal
from faultwise.diagnose._signals import Anomaly

__all__ = ["detect"]

PATTERN = Pattern.CASCADING_FAILURE
_MIN_LEVELS = 3
_STRONG = 0.75  # a latency anomaly this strong (about ×5) can exhaust callers' workers
_OWN_TIME = ("own time per request", "logged p50 duration", "logged p95 duration")

Levels = list[list[str]]


def _onsets(ctx: Context, signal: Signal) -> dict[str, int]:
    found = {}
    for service in ctx.graph.nodes:
        t = ctx.onset(service, signal)
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


def _climb(
    ctx: Context, origin: str, start: int, joins: Callable[[str, int], int | None]
) -> Levels:
    """Levels of callers above ``origin``: a caller joins when ``joins(caller, floor)`` gives
    its onset (None: it did not join), ``floor`` being the lower level's first onset."""
    levels = [[origin]]
    seen = {origin}
    when = {origin: start}
    while True:
        floor = min(when[s] for s in levels[-1])
        upper = {}
        for s in levels[-1]:
            for caller in ctx.graph.callers(s):
                t = joins(caller, floor) if caller not in seen else None
                if t is not None:
                    upper[caller] = t
        if not upper:
            return levels
        when.update(upper)
        levels.append(sorted(upper))
        seen.update(upper)


def _own_slowdown(ctx: Context, service: str) -> Anomaly | None:
    for metric in _OWN_TIME:
        a = ctx.anomaly(service, metric)
        if a is not None and a.strength >= _STRONG:
            return a
    return None


def _by_errors(ctx: Context) -> list[tuple[str, int, Levels, list[Evidence]]]:
    onsets = _onsets(ctx, Signal.ERRORS)
    own = _own_errors(ctx)

    def joins(caller: str, floor: int) -> int | None:
        t = own.get(caller, (None,))[0]
        return t if t is not None and t >= floor + ctx.width_ns else None

    found = []
    for origin, start in sorted(onsets.items(), key=lambda kv: kv[1]):
        if any(onsets.get(c, start + 1) <= start for c in ctx.graph.callees(origin)):
            continue  # something it calls failed first: not an origin
        levels = _climb(ctx, origin, start, joins)
        if len(levels) < _MIN_LEVELS:
            continue
        evidence = [
            Evidence(
                EvidenceKind.LOG,
                f"level {i}: {s} failing from "
                f"{short_time(start if i == 0 else own[s][0])}"
                + (f": {clip(own[s][1], 120)}" if s in own else ""),
                own[s][2] if s in own else None,
                float(i),
            )
            for i, level in enumerate(levels)
            for s in level
        ]
        found.append((origin, start, levels, evidence))
    return found


def _by_latency(ctx: Context) -> list[tuple[str, int, Levels, list[Evidence]]]:
    onsets = _onsets(ctx, Signal.LATENCY)

    def joins(caller: str, floor: int) -> int | None:
        t = onsets.get(caller)
        return t if t is not None and t >= floor else None

    found = []
    for origin, start in sorted(onsets.items(), key=lambda kv: kv[1]):
        if any(onsets.get(c, start + 1) <= start for c in ctx.graph.callees(origin)):
            continue  # something it calls slowed down no later: not the deepest
        slowed = _latency(ctx, origin)
        if slowed is None or slowed.strength < _STRONG:
            continue  # a slowdown too small to take its callers' workers
        levels = _climb(ctx, origin, start, joins)
        queued = {s: a for lvl in levels[1:] for s in lvl if (a := _own_slowdown(ctx, s))}
        reached = any(not ctx.graph.callers(s) for s in levels[-1])
        if len(levels) < _MIN_LEVELS or not queued or not reached:
            continue
        evidence = []
        for i, level in enumerate(levels):
            for s in level:
                moved = _latency(ctx, s)
                own = queued.get(s)
                text = f"level {i}: {s} slower from {short_time(onsets[s])}"
                text += f": {moved.describe()}" if moved else ""
                if own is not None and own is not moved:
                    text += f"; on its own account, {own.describe()}"
                evidence.append(Evidence(EvidenceKind.SPAN, text, None, float(i)))
        found.append((origin, start, levels, evidence))
    return found


def _latency(ctx: Context, service: str) -> Anomaly | None:
    moved = [a for a in ctx.anomalies.get(service, ()) if a.signal is Signal.LATENCY]
    return max(moved, key=lambda a: a.after / max(a.before, 1.0)) if moved else None


def detect(ctx: Context) -> list[Finding]:
    findings: dict[str, Finding] = {}
    for how, cascades in (("failure", _by_errors(ctx)), ("slowdown", _by_latency(ctx))):
        for origin, start, levels, evidence in cascades:
            if origin not in findings:
                findings[origin] = _finding(
                    ctx, how=how, origin=origin, start=start, levels=levels, evidence=evidence
                )
    return list(findings.values())


def _finding(
    ctx: Context,
    *,
    how: str,
    origin: str,
    start: int,
    levels: Levels,
    evidence: list[Evidence],
) -> Finding:
    path = " -> ".join("/".join(level) for level in levels)
    return Finding(
        pattern=PATTERN,
        component=origin,
        score=round(min(0.95, 0.75 + 0.05 * len(levels)), 4),
        summary=f"a {how} of {origin} climbed {len(levels) - 1} levels: {path}",
        evidence=tuple(evidence),
        action=(
            f"Stop the spread at the first hop: bound {', '.join(levels[1])}'s waiting "
            f"on {origin} (short timeouts, a bulkhead per dependency, a circuit "
            "breaker) so a failing dependency cannot take its callers' workers."
        ),
        start_ns=start,
        end_ns=ctx.window.end_ns if ctx.window else None,
    )

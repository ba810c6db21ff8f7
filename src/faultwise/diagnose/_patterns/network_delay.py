"""network_delay: calls spend longer between the caller and the callee, not in the callee.

For every call seen from both sides (a caller's span whose child span is in another
service), the time on the wire is the caller's duration minus the callee's. When that gap
grows on the calls into one service (from all its callers) while the service's own answers
are as fast as before, the network to that service is slow (a congested node, packet loss,
a ``tc netem`` delay). When it grows on all calls out of one caller, the caller's side is.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping

from faultwise.diagnose._calls import CallSeries
from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._signals import find_onset, level_of

__all__ = ["detect"]

PATTERN = Pattern.NETWORK_DELAY
_MIN_EXTRA_NS = 20_000_000  # less than 20 ms more on the wire is not an incident
_RATIO = 2.0


Edge = tuple[str, str]


def _points(calls: Mapping[Edge, CallSeries]) -> dict[Edge, list[tuple[int, float, float]]]:
    """Per edge: (bucket, wire time p50, callee's answer p50)."""
    return {
        edge: list(zip(c.times, c.wire_p50, c.served_p50, strict=True)) for edge, c in calls.items()
    }


def _moved(
    ctx: Context, now: list[tuple[int, float, float]], before: list[tuple[int, float, float]]
) -> tuple[int, float, float, float] | None:
    """(onset, gap before, gap after, served ratio) when the wire time moved."""
    gap_level = level_of(g for _, g, _ in before)
    served_level = level_of(s for _, _, s in before)
    if gap_level is None or served_level is None:
        return None
    times = [t for t, _, _ in now]
    i = find_onset(times, [g for _, g, _ in now], gap_level, ratio=_RATIO, floor=_MIN_EXTRA_NS / 2)
    if i is None:
        return None
    after = statistics.median(g for _, g, _ in now[i:])
    served = statistics.median(s for _, _, s in now[i:])
    if after - gap_level.median < _MIN_EXTRA_NS:
        return None
    return times[i], gap_level.median, after, served / max(served_level.median, 1.0)


def detect(ctx: Context) -> list[Finding]:
    if not ctx.calls or not ctx.normal_calls:
        return []
    now = _points(ctx.calls)
    before = _points(ctx.normal_calls)
    moved = {}
    for edge, points in now.items():
        found = _moved(ctx, points, before.get(edge, []))
        if found is not None and found[3] < 1.5:  # the callee itself answers as fast
            moved[edge] = found
    if not moved:
        return []
    into: dict[str, list[Edge]] = defaultdict(list)
    out_of: dict[str, list[Edge]] = defaultdict(list)
    for edge in moved:
        into[edge[1]].append(edge)
        out_of[edge[0]].append(edge)
    findings = []
    for service in sorted(set(into) | set(out_of)):
        incoming = [e for e in now if e[1] == service]
        outgoing = [e for e in now if e[0] == service]
        if into.get(service) and len(into[service]) >= 0.6 * len(incoming):
            edges, side = into[service], f"calls into {service}"
        elif len(out_of.get(service, [])) >= 2 and len(out_of[service]) >= 0.6 * len(outgoing):
            edges, side = out_of[service], f"calls out of {service}"
        else:
            continue
        evidence = []
        for edge in edges[:4]:
            onset, was, is_now, served = moved[edge]
            evidence.append(
                Evidence(
                    EvidenceKind.SPAN,
                    f"{edge[0]} -> {edge[1]}: {is_now / 1e6:.0f} ms on "
                    f"the wire (was {was / 1e6:.1f} ms) from {short_time(onset)}; the "
                    f"callee's own answer ×{served:.1f}",
                    None,
                    round(is_now / 1e9, 4),
                )
            )
        start = min(moved[e][0] for e in edges)
        extra = statistics.median(moved[e][2] - moved[e][1] for e in edges)
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(0.95, 0.7 + 0.1 * len(edges)), 4),
                summary=f"{side} spend {extra / 1e6:.0f} ms more on the network",
                evidence=tuple(evidence),
                action=(
                    f"Check the network path of {service} (its node, retransmits, packet loss, "
                    "a noisy neighbour; move the pod), and give callers a timeout that "
                    "includes network time."
                ),
                start_ns=start,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

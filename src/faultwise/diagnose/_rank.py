"""Ranking: order components by how well they explain the incident, best first.

Timeline first, then causes. Each component's suspicion is its strongest finding (a specific
pattern with matching evidence scores higher than a generic symptom), plus a little for every
further pattern seen there. Then the dependency graph decides between a cause and its victims:
a component is *explained* when something it calls (directly or further down) was suspicious
no later than it was (a callee failing before its caller is the cause, the caller a victim);
an explained component keeps 60 % of its score. The earliest unexplained onset gets a small
bonus. Components whose signals moved without any finding follow at a low score, so AC@3 and
AC@5 still see them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import short_time
from faultwise.diagnose._model import Finding, Graph, Pattern, Ranked, RootCause

__all__ = ["rank", "root_cause"]

EXPLAINED = 0.6  # the share of its score a victim keeps
FIRST_BONUS = 0.05
EXTRA_PATTERN = 0.03
SUSPICIOUS = 0.25  # a callee this suspicious can explain its callers
MOVED_ONLY = 0.2  # the weight of a moved signal without a finding

# when two findings on one component score the same, the more specific pattern names it
SPECIFICITY: tuple[Pattern, ...] = (
    Pattern.DEADLOCK,
    Pattern.POOL_EXHAUSTION,
    Pattern.MEMORY_LEAK,
    Pattern.DISK_EXHAUSTION,
    Pattern.RACE_CONDITION,
    Pattern.CONFIG_DRIFT,
    Pattern.RETRY_STORM,
    Pattern.MISSING_TIMEOUT,
    Pattern.MISSING_CIRCUIT_BREAKER,
    Pattern.SILENT_FAILURE,
    Pattern.CPU_SATURATION,
    Pattern.NETWORK_DELAY,
    Pattern.CASCADING_FAILURE,
    Pattern.SLOW_DEPENDENCY,
    Pattern.ERROR_BURST,
)


def _best(findings: Sequence[Finding]) -> Finding:
    return max(findings, key=lambda f: (f.score, -SPECIFICITY.index(f.pattern)))


def _downstream(graph: Graph) -> dict[str, set[str]]:
    """Every component reachable from each component along calls."""
    succ: dict[str, set[str]] = defaultdict(set)
    for e in graph.edges:
        succ[e.caller].add(e.callee)
    reach: dict[str, set[str]] = {}
    for start in list(succ):
        seen: set[str] = set()
        todo = list(succ[start])
        while todo:
            node = todo.pop()
            if node in seen or node == start:
                continue
            seen.add(node)
            todo.extend(succ.get(node, ()))
        reach[start] = seen
    return reach


def rank(ctx: Context, findings: Iterable[Finding]) -> tuple[Ranked, ...]:
    """Components best first, each with its score, onset and the reasons for its place."""
    by_component: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_component[f.component].append(f)
    suspicion: dict[str, float] = {}
    onset: dict[str, int | None] = {}
    reasons: dict[str, list[str]] = defaultdict(list)
    for component, found in by_component.items():
        best = _best(found)
        patterns = {f.pattern for f in found}
        suspicion[component] = min(1.0, best.score + EXTRA_PATTERN * (len(patterns) - 1))
        reasons[component].append(f"{best.pattern.value}: {best.summary}")
        starts = [f.start_ns for f in found if f.start_ns is not None]
        moved = ctx.onset(component)
        if moved is not None:
            starts.append(moved)
        onset[component] = min(starts) if starts else None
    for component, moved_list in ctx.anomalies.items():
        if component in suspicion:
            continue
        strongest = max(moved_list, key=lambda a: a.strength)
        suspicion[component] = MOVED_ONLY * strongest.strength
        onset[component] = min(a.onset_ns for a in moved_list)
        reasons[component].append(f"moved without a known pattern: {strongest.describe()}")
    scores = _apply_graph(ctx, suspicion, onset, reasons)
    order = sorted(scores, key=lambda c: (-scores[c], onset.get(c) or 0, c))
    return tuple(
        Ranked(c, round(scores[c], 4), onset.get(c), tuple(reasons[c]))
        for c in order
        if scores[c] > 0
    )


def _apply_graph(
    ctx: Context,
    suspicion: Mapping[str, float],
    onset: Mapping[str, int | None],
    reasons: dict[str, list[str]],
) -> dict[str, float]:
    reach = _downstream(ctx.graph)
    slack = ctx.width_ns
    scores = {}
    unexplained = []
    for component, score in suspicion.items():
        mine = onset.get(component)
        culprits = sorted(
            other
            for other in reach.get(component, ())
            if suspicion.get(other, 0.0) >= SUSPICIOUS * score
            and suspicion.get(other, 0.0) >= MOVED_ONLY * 0.5
            and _not_later(onset.get(other), mine, slack)
        )
        if culprits:
            scores[component] = score * EXPLAINED
            reasons[component].append(f"explained by {', '.join(culprits[:3])} (called by it)")
        else:
            scores[component] = score
            unexplained.append(component)
    timed = [c for c in unexplained if onset.get(c) is not None]
    if len(timed) > 1:
        first = min(timed, key=lambda c: onset[c] or 0)
        scores[first] = min(1.0, scores[first] + FIRST_BONUS)
        reasons[first].append(f"first to move, at {short_time(onset[first])}")
    return scores


def _not_later(theirs: int | None, mine: int | None, slack: int) -> bool:
    if theirs is None or mine is None:
        return True
    return theirs <= mine + slack


def root_cause(ranking: Sequence[Ranked], findings: Sequence[Finding]) -> RootCause | None:
    """The top component and the pattern of its strongest finding."""
    for ranked in ranking:
        mine = [f for f in findings if f.component == ranked.component]
        if mine:
            return RootCause(ranked.component, _best(mine).pattern, ranked.score)
    return None

"""The service dependency graph: from spans, else from logs; cycles and the failing path.

From spans, an edge is a parent span in one service with a child span in another (and a
client span's ``peer_service`` when the callee is not instrumented). From logs alone two
cheaper clues are combined: a service whose messages name another service ("calling
inventory", "connection refused to payments:8080") calls it, and, within one trace or request
id, a service that finishes logging later called the one that finished just before it.
Cycles are found with Tarjan's strongly connected components ("draw the graph, find the
cycle").
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence

from faultwise.diagnose._calls import CallSeries
from faultwise.diagnose._model import Edge, Graph
from faultwise.diagnose._sql import Scope, literal

__all__ = ["build_graph", "failing_path", "find_cycles"]

_MIN_LOG_EDGE = 2  # a log-derived edge needs at least this many sightings


def _peer_edges_sql(scope: Scope) -> str:
    """Calls to services that left no spans of their own (a database, a SaaS API)."""
    return f"""
SELECT service, peer_service, count(*), sum(CASE WHEN status = 2 THEN 1 ELSE 0 END)
FROM spans WHERE {scope.when("start_ns")} AND service IS NOT NULL
  AND peer_service IS NOT NULL AND peer_service <> '' AND peer_service <> service
GROUP BY 1, 2"""


def _mention_sql(scope: Scope, services: Sequence[str]) -> str:
    names = " UNION ALL ".join(f"SELECT {literal(s)} AS name" for s in services)
    return f"""
WITH n AS ({names})
SELECT l.service, n.name, count(*)
FROM logs l JOIN n ON position(lower(n.name) IN lower(l.message)) > 0
WHERE {scope.when("l.ts_ns")} AND l.service IS NOT NULL AND l.service <> n.name
GROUP BY 1, 2"""


def _sequence_sql(scope: Scope) -> str:
    """Within one trace or request id, the service that logs last called the one that
    finished before it (a caller finishes after its callees, whether it logs at the start,
    the end or both)."""
    return f"""
WITH f AS (SELECT coalesce(trace_id, request_id) AS rid, service, max(ts_ns) AS last
           FROM logs WHERE {scope.when("ts_ns")} AND service IS NOT NULL
             AND coalesce(trace_id, request_id) IS NOT NULL
           GROUP BY 1, 2),
o AS (SELECT service, lag(service) OVER (PARTITION BY rid ORDER BY last DESC, service) AS prev
      FROM f)
SELECT prev, service, count(*) FROM o WHERE prev IS NOT NULL GROUP BY 1, 2"""


def build_graph(
    scope: Scope, services: Sequence[str], calls: Mapping[tuple[str, str], CallSeries]
) -> Graph:
    """The dependency graph of ``scope``: from the calls seen in spans when there are any,
    else from logs."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    source = "none"
    if calls:
        for pair, series in calls.items():
            counts[pair] = [int(series.total("calls")), int(series.total("failed"))]
        for caller, callee, n, errors in scope.query(_peer_edges_sql(scope)):
            known = counts[(caller, callee)]
            known[0], known[1] = max(known[0], int(n)), max(known[1], int(errors or 0))
        source = "spans"
    if not counts and len(services) > 1:
        for sql in (_mention_sql(scope, services), _sequence_sql(scope)):
            for caller, callee, n in scope.query(sql):
                counts[(caller, callee)][0] += int(n)
        counts = _dominant(counts)
        source = "logs" if counts else source
    edges = tuple(
        Edge(caller, callee, calls, errors)
        for (caller, callee), (calls, errors) in sorted(counts.items())
    )
    nodes = sorted(set(services) | {e.caller for e in edges} | {e.callee for e in edges})
    return Graph(tuple(nodes), edges, source, cycles=find_cycles(nodes, edges))


def _dominant(counts: Mapping[tuple[str, str], list[int]]) -> dict[tuple[str, str], list[int]]:
    """Log-derived edges seen often enough, keeping only the stronger of two directions."""
    kept = {}
    for (a, b), (n, errors) in counts.items():
        back = counts.get((b, a), [0, 0])[0]
        if n >= _MIN_LOG_EDGE and n > back:
            kept[(a, b)] = [n, errors]
    return kept


def find_cycles(nodes: Iterable[str], edges: Iterable[Edge]) -> tuple[tuple[str, ...], ...]:
    """Every strongly connected component with more than one node (or a self-loop),
    each as its members in order along the cycle where possible (Tarjan, iterative)."""
    succ: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        succ[e.caller].append(e.callee)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[tuple[str, ...]] = []
    counter = 0
    for root in sorted(set(nodes) | set(succ)):
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succ[node]:
                    found.append(_cycle_order(sorted(component), succ))
    return tuple(sorted(found))


def _cycle_order(members: list[str], succ: Mapping[str, list[str]]) -> tuple[str, ...]:
    """The members along one cycle through the first member (falls back to sorted order)."""
    inside = set(members)
    start = members[0]
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = next((c for c in sorted(succ.get(node, ())) if c in inside and c not in seen), None)
        if nxt is None:
            break
        path.append(nxt)
        seen.add(nxt)
        node = nxt
    return tuple(path) if len(path) == len(members) else tuple(members)


def failing_path(graph: Graph, target: str, suspicious: Iterable[str]) -> tuple[str, ...]:
    """The path from an entry point (a node nobody calls) down to ``target``, through
    suspicious nodes where there is a choice (breadth first, shortest)."""
    callers: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        callers[e.callee].append(e.caller)
    hot = set(suspicious)
    # walk upwards from the target, preferring suspicious callers
    prev: dict[str, str | None] = {target: None}
    queue = deque([target])
    end = target
    while queue:
        node = queue.popleft()
        ups = sorted(callers.get(node, ()), key=lambda c: (c not in hot, c))
        ups = [c for c in ups if c not in prev]
        if not callers.get(node):
            end = node
            break
        for c in ups:
            prev[c] = node
            queue.append(c)
        end = node
    path = [end]
    while prev.get(path[-1]) is not None:
        path.append(prev[path[-1]])  # type: ignore[arg-type]
    return tuple(path)

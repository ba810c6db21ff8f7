"""The lock-order graph: lockdep's idea applied to one test run.

Every time a thread takes lock B while holding lock A, the edge A -> B is recorded with both
acquisition stacks. A new edge that closes a cycle is a lock-order inversion: some schedule
deadlocks, even if this run did not. A cycle whose edges were all taken under a common
"gate" lock cannot deadlock and is not reported (the guard sets along a reported cycle are
pairwise disjoint, as in Goodlock).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faultwise.races._runtime import Site, ThreadState, capture

MAX_GUARDS = 4
MAX_PATHS = 16


@dataclass
class Edge:
    src: int
    dst: int
    held: str
    acquired: str
    thread: str
    held_site: Site | None
    acquire_site: Site
    guards: set[frozenset[int]] = field(default_factory=set)


class LockOrderGraph:
    """Collects edges; calls ``on_cycle(edges)`` once per new feasible cycle."""

    def __init__(self, on_cycle: Callable[[list[Edge]], None]) -> None:
        self.on_cycle = on_cycle
        self.succ: dict[int, dict[int, Edge]] = {}
        self.pred: dict[int, set[int]] = {}  # dst -> the srcs of its edges
        self.reported: set[frozenset[tuple[int, int]]] = set()
        self.signals: set[int] = set()

    def clear(self) -> None:
        self.succ.clear()
        self.pred.clear()
        self.reported.clear()

    def signal(self, serial: int) -> None:
        """This lock is used as a signal: forget its edges and never report through it.

        Both ways: a waiter's gate, taken first under the queue's lock, would otherwise leave
        one edge (with two stacks) per wait in the graph.
        """
        self.signals.add(serial)
        for dst in self.succ.pop(serial, {}):
            self.pred.get(dst, set()).discard(serial)
        for src in self.pred.pop(serial, set()):
            self.succ.get(src, {}).pop(serial, None)

    def acquiring(self, lock: Any, ts: ThreadState) -> None:
        site: Site | None = None
        if lock.signal:
            return
        held_now = list(ts.held)
        for held in held_now:
            if held is lock or held.signal:
                continue
            out = self.succ.setdefault(held.serial, {})
            edge = out.get(lock.serial)
            if edge is not None and len(edge.guards) >= MAX_GUARDS:
                continue
            guards = frozenset(h.serial for h in held_now if h is not held)
            if edge is None:
                site = site or capture()
                edge = Edge(
                    held.serial,
                    lock.serial,
                    held.name,
                    lock.name,
                    ts.name,
                    held.acquired_at(),
                    site,
                )
                out[lock.serial] = edge
                self.pred.setdefault(lock.serial, set()).add(held.serial)
            elif guards in edge.guards:
                continue
            edge.guards.add(guards)
            self._check(edge)

    def _check(self, edge: Edge) -> None:
        for path in self._paths(edge.dst, edge.src):
            cycle = [*path, edge]
            key = frozenset((e.src, e.dst) for e in cycle)
            if key in self.reported or not _feasible(cycle):
                continue
            self.reported.add(key)
            self.on_cycle(cycle)

    def _paths(self, start: int, goal: int) -> list[list[Edge]]:
        found: list[list[Edge]] = []
        stack: list[tuple[int, list[Edge]]] = [(start, [])]
        while stack and len(found) < MAX_PATHS:
            node, path = stack.pop()
            if node == goal:
                found.append(path)
                continue
            seen = {e.src for e in path}
            for nxt, e in self.succ.get(node, {}).items():
                if nxt not in seen and nxt != start and nxt not in self.signals:
                    stack.append((nxt, [*path, e]))
        return found


def _feasible(cycle: list[Edge]) -> bool:
    """Whether some choice of guard sets, one per edge, is pairwise disjoint."""
    members = {e.src for e in cycle}
    options = [[g - members for g in e.guards] for e in cycle]
    for choice in itertools.islice(itertools.product(*options), 4096):
        if all(not (a & b) for a, b in itertools.combinations(choice, 2)):
            return True
    return False

"""The lock-order graph: inversions are cycles; a common gate lock makes them harmless."""

from __future__ import annotations

from faultwise.races._lockorder import Edge, LockOrderGraph
from faultwise.races._runtime import ThreadState


class FakeLock:
    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.name = f"L{serial}"
        self.signal = False

    def acquired_at(self) -> tuple[str, tuple[()]]:
        return ("main", ())


def take(graph: LockOrderGraph, ts: ThreadState, *locks: FakeLock) -> None:
    """Acquire ``locks`` in order (recording edges), then release them all."""
    for lock in locks:
        graph.acquiring(lock, ts)
        ts.held.append(lock)
    ts.held.clear()


def graph_and_cycles() -> tuple[LockOrderGraph, list[list[Edge]]]:
    cycles: list[list[Edge]] = []
    return LockOrderGraph(cycles.append), cycles


def test_abba_is_one_cycle_of_two_edges() -> None:
    graph, cycles = graph_and_cycles()
    ts = ThreadState(1, {}, "t")
    a, b = FakeLock(1), FakeLock(2)
    take(graph, ts, a, b)
    take(graph, ts, b, a)
    take(graph, ts, b, a)
    assert [[("L1", "L2"), ("L2", "L1")]] == [[(e.held, e.acquired) for e in c] for c in cycles]


def test_a_three_lock_cycle_is_found() -> None:
    graph, cycles = graph_and_cycles()
    ts = ThreadState(1, {}, "t")
    a, b, c = FakeLock(1), FakeLock(2), FakeLock(3)
    take(graph, ts, a, b)
    take(graph, ts, b, c)
    take(graph, ts, c, a)
    assert [{"L1", "L2", "L3"}] == [{e.held for e in cycle} for cycle in cycles]


def test_a_cycle_under_a_common_gate_lock_is_not_reported() -> None:
    graph, cycles = graph_and_cycles()
    ts = ThreadState(1, {}, "t")
    gate, a, b = FakeLock(9), FakeLock(1), FakeLock(2)
    take(graph, ts, gate, a, b)
    take(graph, ts, gate, b, a)
    assert [] == cycles
    take(graph, ts, b, a)  # the same inversion once without the gate: now it can deadlock
    assert 1 == len(cycles)


def test_consistent_order_is_not_a_cycle() -> None:
    graph, cycles = graph_and_cycles()
    ts = ThreadState(1, {}, "t")
    a, b, c = FakeLock(1), FakeLock(2), FakeLock(3)
    for _ in range(3):
        take(graph, ts, a, b, c)
        take(graph, ts, a, c)
    assert [] == cycles


def test_a_lock_that_turns_out_to_be_a_signal_leaves_no_edge_either_way() -> None:
    graph, cycles = graph_and_cycles()
    ts = ThreadState(1, {}, "t")
    queue_lock, gate, other = FakeLock(1), FakeLock(2), FakeLock(3)
    take(graph, ts, queue_lock, gate, other)  # a waiter's gate, taken under the queue's lock
    take(graph, ts, queue_lock, other)
    graph.signal(gate.serial)  # released by another thread: a signal, not a mutex
    edges = [(e.held, e.acquired) for out in graph.succ.values() for e in out.values()]
    assert ([("L1", "L3")], []) == (edges, cycles)

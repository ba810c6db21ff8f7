"""The lockset mode (Eraser): locations written by several threads with no lock in common.

Ownership passes from thread to thread through happens-before without locks (thread start and
join, queues, events, semaphores, futures), so initialisation before a thread starts, a read
after a join and a hand-off are not violations. Locks order nothing in this mode: two accesses
that a lock happened to order in this run, with no lock held at either, are still reported,
where the happens-before mode is blind to them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from faultwise.races import Mode, RaceDetector, RacesConfig

Loader = Callable[[str, str], ModuleType]

HANDOFFS = """
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor


class Box:
    pass


def _pair(first, second):
    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start(); t2.start(); t1.join(); t2.join()


def start_and_join():
    box = Box()
    box.value = 0
    def work():
        box.value += 1
    for _ in range(3):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    box.value += 1
    return box.value


def through_a_queue():
    q = queue.Queue()
    out = []
    def produce():
        for i in range(20):
            box = Box()
            box.value = i
            q.put(box)
    def consume():
        for _ in range(20):
            box = q.get()
            box.value += 1
            out.append(box.value)
    _pair(produce, consume)
    return sum(out)


def event():
    box, ready = Box(), threading.Event()
    def produce():
        box.value = 1
        ready.set()
    def consume():
        ready.wait()
        box.value += 1
    _pair(consume, produce)
    return box.value


def futures():
    box = Box()
    box.value = 0
    def task():
        box.value += 1
        return box.value
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(5):
            pool.submit(task).result()
    return box.value


def condition():
    box, cond = Box(), threading.Condition()
    box.value = None
    def produce():
        with cond:
            box.value = 1
            cond.notify()
    def consume():
        with cond:
            while box.value is None:
                cond.wait()
            box.value += 1
    _pair(consume, produce)
    return box.value


def ordered_by_an_unrelated_lock():
    # the writes are ordered in this run only because both threads happen to take `turn`
    box, turn = Box(), threading.Lock()
    box.value = 0
    done = []
    def first():
        box.value = 1
        with turn:
            done.append(True)
    def second():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with turn:
                if done:
                    break
            time.sleep(0.001)  # sleeping orders nothing
        box.value = 2
    _pair(first, second)
    return box.value
"""


@pytest.fixture
def handoffs(load_module: Loader, tmp_path: Path) -> ModuleType:
    config = RacesConfig(roots=(str(tmp_path),), hang_timeout=0, mode=Mode.LOCKSET)
    with RaceDetector(config):
        return load_module("lockset_handoffs", HANDOFFS)  # imported under a detector: instrumented


def _findings(tmp_path: Path, mode: Mode, run: Callable[[], object]) -> tuple[object, list[str]]:
    config = RacesConfig(roots=(str(tmp_path),), hang_timeout=0, mode=mode)
    with RaceDetector(config) as detector:
        result = run()
    return result, sorted(f"{r.kind.value} {r.location}" for r in detector.report().races)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("start_and_join", 4),
        ("through_a_queue", sum(range(1, 21))),
        ("event", 2),
        ("futures", 5),
        ("condition", 2),
    ],
)
def test_a_location_handed_from_thread_to_thread_is_not_a_lockset_violation(
    handoffs: ModuleType, tmp_path: Path, name: str, expected: object
) -> None:
    module = handoffs
    assert (expected, []) == _findings(tmp_path, Mode.LOCKSET, getattr(module, name))


def test_writes_ordered_only_by_an_unrelated_lock_are_a_lockset_violation_not_an_hb_race(
    handoffs: ModuleType, tmp_path: Path
) -> None:
    module = handoffs
    run = module.ordered_by_an_unrelated_lock
    assert (2, ["lockset-violation lockset_handoffs.Box.value"]) == _findings(
        tmp_path, Mode.LOCKSET, run
    )
    assert (2, []) == _findings(tmp_path, Mode.HB, run)


def test_a_lockset_violation_names_a_write_by_another_thread_as_the_previous_access(
    handoffs: ModuleType, tmp_path: Path
) -> None:
    module = handoffs
    config = RacesConfig(roots=(str(tmp_path),), hang_timeout=0, mode=Mode.LOCKSET)
    with RaceDetector(config) as detector:
        module.ordered_by_an_unrelated_lock()
    (race,) = detector.report().races
    assert ("write", "write") == (race.current.op, race.previous.op)
    assert race.current.thread != race.previous.thread
    assert {"box.value = 1", "box.value = 2"} == {
        race.current.stack[0].source,
        race.previous.stack[0].source,
    }

"""Synchronisation that orders threads is not reported; unordered accesses are."""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from faultwise.races import RaceDetector, RacesConfig, detect_races

Loader = Callable[[str, str], ModuleType]

ORDERED = """
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor


class Box:
    def __init__(self):
        self.value = None
        self.lock = threading.Lock()

    @property
    def guarded(self):
        with self.lock:
            return self.value

    @guarded.setter
    def guarded(self, v):
        with self.lock:
            self.value = v


def _pair(first, second):
    t1 = threading.Thread(target=first)
    t2 = threading.Thread(target=second)
    t1.start(); t2.start(); t1.join(); t2.join()


def event():
    box, ready = Box(), threading.Event()
    def produce():
        box.value = 1
        ready.set()
    def consume():
        ready.wait()
        box.value += 1
    _pair(produce, consume)
    return box.value


def condition():
    box, cond = Box(), threading.Condition()
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


def semaphore():
    box, sem = Box(), threading.Semaphore(0)
    def produce():
        box.value = 1
        sem.release()
    def consume():
        sem.acquire()
        box.value += 1
    _pair(produce, consume)
    return box.value


def barrier():
    slots, gate = [0, 0], threading.Barrier(2)
    seen = []
    def worker(i):
        slots[i] = i + 1
        gate.wait()
        seen.append(slots[1 - i])
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    return sorted(seen)


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


def start_join_and_property():
    box = Box()
    box.value = 0
    def work():
        box.value += 1
        box.guarded = 5
    for _ in range(3):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    def other():
        box.guarded = 7
    _pair(other, other)
    return box.guarded


def thread_local_state():
    local = threading.local()
    out = []
    def work():
        local.n = 0
        for _ in range(100):
            local.n += 1
        out.append(local.n)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    return out


def fresh_objects():
    def work():
        for i in range(2000):
            b = Box()
            b.value = i
            b.value += 1
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    return True


async def loop_handoffs():
    box = Box()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    def in_thread():
        box.value = 1
        loop.call_soon_threadsafe(done.set)
    t = threading.Thread(target=in_thread)
    t.start()
    await done.wait()
    box.value += 1
    def bump():
        box.value += 1
    await asyncio.to_thread(bump)
    t.join()
    return box.value
"""


@pytest.fixture
def ordered(load_module: Loader, tmp_path: Path) -> tuple[RaceDetector, ModuleType]:
    detector = RaceDetector(RacesConfig(roots=(str(tmp_path),), hang_timeout=0)).start()
    try:
        return detector, load_module("hb_ordered", ORDERED)
    except BaseException:
        detector.stop()
        raise


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("event", 2),
        ("condition", 2),
        ("semaphore", 2),
        ("barrier", [1, 2]),
        ("futures", 5),
        ("start_join_and_property", 7),
        ("thread_local_state", [100, 100, 100, 100]),
        ("fresh_objects", True),
    ],
)
def test_ordered_accesses_are_not_reported(
    ordered: tuple[RaceDetector, ModuleType], name: str, expected: object
) -> None:
    detector, module = ordered
    try:
        assert expected == getattr(module, name)()
    finally:
        report = detector.stop()
    assert [] == list(report.findings)


def test_call_soon_threadsafe_and_to_thread_order_the_loop_and_the_thread(
    ordered: tuple[RaceDetector, ModuleType],
) -> None:
    detector, module = ordered
    try:
        assert 3 == asyncio.run(module.loop_handoffs())
    finally:
        report = detector.stop()
    assert [] == list(report.findings)


UNORDERED = """
import threading, time

class Box:
    value = 0

box = Box()

def run():
    def work():
        box.value = 1
    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.05)  # waiting by sleeping orders nothing
    seen = box.value
    t.join()
    return seen
"""


def test_a_write_read_after_a_sleep_instead_of_a_join_is_reported(
    load_module: Loader, tmp_path: Path
) -> None:
    with detect_races(roots=[tmp_path], hang_timeout=0) as detector:
        module = load_module("hb_unordered", UNORDERED)
        assert 1 == module.run()
    assert ["hb_unordered.Box.value"] == [str(r.location) for r in detector.report().races]


def test_everything_is_restored_after_stop_and_tracked_locks_keep_working(
    load_module: Loader, tmp_path: Path
) -> None:
    # compared with the state before (itself patched when this suite runs under --races)
    def state() -> tuple[object, ...]:
        finders = [f for f in sys.meta_path if "faultwise" in type(f).__module__]
        return (
            threading.Lock,
            threading.Thread.start,
            queue.Queue.get,
            threading.Event.set,
            finders,
        )

    before = state()
    with detect_races(roots=[tmp_path], hang_timeout=0):
        module = load_module("hb_lock", "import threading\nLOCK = threading.Lock()\n")
    assert before == state()
    with module.LOCK:
        assert module.LOCK.locked()
    assert not module.LOCK.locked()


def test_locks_created_before_the_detector_still_work_while_it_runs(tmp_path: Path) -> None:
    lock, rlock, cond = threading.Lock(), threading.RLock(), threading.Condition()
    with detect_races(roots=[tmp_path], hang_timeout=0), lock, rlock, rlock, cond:
        cond.notify_all()
        assert lock.locked()
    assert not lock.locked()


def test_an_inner_detector_hands_the_runtime_back_to_the_outer_one(
    load_module: Loader, tmp_path: Path
) -> None:
    config = RacesConfig(roots=(str(tmp_path),), hang_timeout=0)
    with RaceDetector(config) as outer:
        counter = load_module("hb_nested", UNORDERED)
        with RaceDetector(config) as inner:
            counter.run()
        counter.run()
    assert 1 == len(inner.report().races)
    assert 1 == len(outer.report().races)


QUEUE_SUBCLASS = """
import queue, threading

class LastItemQueue(queue.Queue):
    def _init(self, maxsize):
        super()._init(maxsize)
        self.last = None

    def _put(self, item):
        self.last = item
        super()._put(item)

    def _get(self):
        self.last = None
        return super()._get()

def run():
    q = LastItemQueue()
    got = []
    t = threading.Thread(target=lambda: got.extend(q.get() for _ in range(50)))
    t.start()
    for i in range(50):
        q.put(i)
    t.join()
    return len(got)
"""


def test_a_queue_subclass_hooks_run_under_the_queue_mutex_and_are_not_reported(
    load_module: Loader, tmp_path: Path
) -> None:
    with detect_races(roots=[tmp_path], hang_timeout=0) as detector:
        assert 50 == load_module("hb_queue_subclass", QUEUE_SUBCLASS).run()
    assert [] == list(detector.report().findings)


READERS = """
import threading

class Settings:
    level = 3

def run():
    seen = []
    def read():
        total = 0
        for _ in range(3000):
            total += Settings.level
        seen.append(total)
    ts = [threading.Thread(target=read) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return seen
"""


def test_many_threads_reading_one_location_concurrently_is_neither_a_race_nor_an_error(
    load_module: Loader, tmp_path: Path
) -> None:
    with detect_races(roots=[tmp_path], hang_timeout=0) as detector:
        assert [9000] * 8 == load_module("hb_readers", READERS).run()
    report = detector.report()
    assert ((), ()) == (report.findings, report.internal_errors)


SIGNAL_LOCK = """
import threading

guard = threading.Lock()

class Waiter:
    def __init__(self):
        self.wake = threading.Lock()
        self.wake.acquire()  # held until another thread releases it: a signal, not a mutex

def run():
    with guard:
        waiter = Waiter()  # guard -> wake
    t = threading.Thread(target=waiter.wake.release)
    t.start()
    waiter.wake.acquire(timeout=5)
    with guard:  # wake (still "held") -> guard
        pass
    t.join()
"""


def test_a_lock_used_as_a_signal_between_threads_is_not_a_lock_order_inversion(
    load_module: Loader, tmp_path: Path
) -> None:
    with detect_races(roots=[tmp_path], hang_timeout=0) as detector:
        load_module("hb_signal_lock", SIGNAL_LOCK).run()
    assert [] == list(detector.report().findings)


GATES = """
import threading

class Waiter:
    def __init__(self):
        self.wake = threading.Lock()
        self.wake.acquire()

def run(n):
    for _ in range(n):  # a bulkhead's waiters: each waits on its own gate, granted by another
        waiter = Waiter()
        t = threading.Thread(target=waiter.wake.release)
        t.start()
        waiter.wake.acquire(timeout=5)
        t.join()
"""


def test_gates_released_by_another_thread_are_not_held_for_good(
    load_module: Loader, tmp_path: Path
) -> None:
    from faultwise.races._runtime import thread_state

    with detect_races(roots=[tmp_path], hang_timeout=0) as detector:
        load_module("hb_gates", GATES).run(200)
        held = list(thread_state().held)
    assert ([], ()) == (held, detector.report().findings)


GATE_KEPT = """
import threading
import weakref

class Payload:
    pass

def wait_at(gate):
    payload = Payload()  # a local of the frame that ends up holding the gate
    t = threading.Thread(target=gate.release)
    t.start()
    gate.acquire(timeout=5)  # granted by another thread: held for good from now on, a signal
    t.join()
    return payload

def run():
    gate = threading.Lock()
    gate.acquire()
    return weakref.ref(wait_at(gate)), gate
"""


def test_a_signal_held_for_good_keeps_no_frame_and_its_locals_alive(
    load_module: Loader, tmp_path: Path
) -> None:
    with detect_races(roots=[tmp_path], hang_timeout=0) as detector:
        payload, gate = load_module("hb_gate_kept", GATE_KEPT).run()
        alive = payload() is not None
    assert (False, True, ()) == (alive, gate.locked(), detector.report().findings)

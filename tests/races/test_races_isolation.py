"""Findings depend on the code under test only: not on what ran earlier in the process.

Three ways earlier work could leak into a detector's verdict: a thread left running keeps the
recorders on (where a lone thread would run uninstrumented), a dead object's access history is
inherited by a new object at the same address, and a nested detector's bookkeeping lands in
the outer detector's tables.
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from faultwise.races import Mode, RaceDetector, RacesConfig, _runtime

Loader = Callable[[str, str], ModuleType]

ACCOUNT = """
import threading

class Account:
    def __init__(self):
        self.lock = threading.Lock()

def run(locked, threads=4, n=50):
    account = Account()
    account.balance = 0  # before any thread starts: ordered before all of them
    def work():
        for _ in range(n):
            if locked:
                with account.lock:
                    account.balance += 1
            else:
                account.balance += 1
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return account.balance  # after joining every writer
"""


@pytest.fixture
def thread_left_running() -> Iterator[threading.Thread]:
    """A thread started before the detector and still alive: the recorders stay on."""
    gate = _thread.allocate_lock()  # a raw lock: orders nothing for the detector
    gate.acquire()
    thread = threading.Thread(target=gate.acquire, name="left-running", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        gate.release()
        thread.join(5)


def _config(tmp_path: Path, mode: Mode) -> RacesConfig:
    return RacesConfig(roots=(str(tmp_path),), hang_timeout=0, mode=mode)


@pytest.mark.parametrize("mode", [Mode.LOCKSET, Mode.HB])
def test_locked_writes_then_a_read_after_join_are_not_reported_while_a_stray_thread_runs(
    load_module: Loader, tmp_path: Path, thread_left_running: threading.Thread, mode: Mode
) -> None:
    with RaceDetector(_config(tmp_path, mode)) as detector:
        module = load_module(f"iso_account_{mode}", ACCOUNT)
        assert 200 == module.run(locked=True)
    assert [] == [str(f) for f in detector.report().findings]


@pytest.mark.parametrize("stray_thread", [False, True])
def test_lockset_verdicts_are_the_same_with_and_without_a_stray_thread(
    load_module: Loader, tmp_path: Path, stray_thread: bool, request: pytest.FixtureRequest
) -> None:
    with RaceDetector(_config(tmp_path, Mode.LOCKSET)):
        module = load_module(f"iso_verdicts_{stray_thread}", ACCOUNT)  # instrumented
    if stray_thread:
        request.getfixturevalue("thread_left_running")
    verdicts = []
    for locked in (False, True):
        with RaceDetector(_config(tmp_path, Mode.LOCKSET)) as detector:
            module.run(locked=locked)
        verdicts.append(sorted({(r.kind.value, str(r.location)) for r in detector.report().races}))
    lost_update = [("lockset-violation", f"iso_verdicts_{stray_thread}.Account.balance")]
    assert [lost_update, []] == verdicts


BOX = """
class Box:
    pass

def put(box, value):
    box.value = value
"""


def _write_in_a_thread_that_stays(module: ModuleType, box: Any) -> tuple[threading.Thread, Any]:
    """A thread writes ``box.value`` and stays alive; nothing orders the write for the caller.

    The thread keeps no reference to ``box``: it lives as long as the caller holds it.
    """
    gate = _thread.allocate_lock()
    gate.acquire()
    wrote: list[bool] = []
    handed = [box]
    del box

    def work() -> None:
        module.put(handed.pop(), 1)
        wrote.append(True)
        gate.acquire()

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 5
    while not wrote and time.monotonic() < deadline:
        time.sleep(0.001)  # polling an uninstrumented list: no happens-before edge
    assert [True] == wrote
    return thread, gate


def _box_at(module: ModuleType, address: int, cls: Any = None, *, required: bool = True) -> Any:
    """A new ``Box`` at ``address`` (CPython hands a freed block to the next allocation)."""
    spare = []
    for _ in range(10_000):
        box = (cls or module.Box)()
        if id(box) == address:
            return box
        spare.append(box)
    if not required:
        return None
    raise AssertionError(f"no new Box at the freed address {address:#x}")


@pytest.mark.parametrize("mode", [Mode.HB, Mode.LOCKSET])
def test_a_new_object_at_a_dead_objects_address_starts_with_no_history(
    load_module: Loader, tmp_path: Path, mode: Mode
) -> None:
    with RaceDetector(_config(tmp_path, mode)) as detector:
        module = load_module(f"iso_reuse_{mode}", BOX)
        box = module.Box()
        thread, gate = _write_in_a_thread_that_stays(module, box)
        address = id(box)
        del box
        module.put(_box_at(module, address), 2)
        gate.release()
        thread.join()
    assert [] == [str(f) for f in detector.report().findings]


@pytest.mark.parametrize("mode", [Mode.HB, Mode.LOCKSET])
def test_an_object_that_dies_under_a_nested_detector_leaves_no_history_in_the_outer_one(
    load_module: Loader, tmp_path: Path, mode: Mode
) -> None:
    config = _config(tmp_path, mode)
    with RaceDetector(config) as outer:
        module = load_module(f"iso_nested_{mode}", BOX)
        box = module.Box()
        thread, gate = _write_in_a_thread_that_stays(module, box)
        address = id(box)
        with RaceDetector(config) as inner:
            del box  # dies while the inner detector's tables are in place
            reborn = _box_at(module, address)
        module.put(reborn, 2)
        gate.release()
        thread.join()
    assert ([], []) == (
        [str(f) for f in outer.report().findings],
        [str(f) for f in inner.report().findings],
    )


@pytest.mark.parametrize("mode", [Mode.HB, Mode.LOCKSET])
def test_the_same_object_written_by_two_unordered_threads_is_still_reported(
    load_module: Loader, tmp_path: Path, mode: Mode
) -> None:
    # the control for the two tests above: without the address change, it is a race
    with RaceDetector(_config(tmp_path, mode)) as detector:
        module = load_module(f"iso_same_{mode}", BOX)
        box = module.Box()
        thread, gate = _write_in_a_thread_that_stays(module, box)
        module.put(box, 2)
        gate.release()
        thread.join()
    assert [f"iso_same_{mode}.Box.value"] == [str(r.location) for r in detector.report().races]


SLOT_BOXES = """
dropped = []

class SlotBox:  # no __weakref__: the detector can only hold it strongly
    __slots__ = ("value", "a", "b", "c", "d")  # a block size the detector's own data rarely has

class Mortal:
    __slots__ = ("value", "a", "b", "c", "d", "e", "f")  # not a SlotBox's size: no reuse

    def __del__(self):
        dropped.append(1)

def put(box, value):
    box.value = value

def churn(n):
    for i in range(n):
        put(Mortal(), i)
"""


@pytest.mark.parametrize("mode", [Mode.HB, Mode.LOCKSET])
def test_objects_without_weak_references_are_let_go_when_the_code_drops_them(
    load_module: Loader, tmp_path: Path, mode: Mode
) -> None:
    with RaceDetector(_config(tmp_path, mode)):
        module = load_module(f"iso_mortal_{mode}", SLOT_BOXES)
        thread, gate = _write_in_a_thread_that_stays(module, module.SlotBox())  # recording on
        try:
            module.churn(4000)
            dropped = len(module.dropped)  # while the detector runs, not when the test ends
        finally:
            gate.release()
            thread.join()
    assert dropped >= 2000


@pytest.mark.parametrize("mode", [Mode.HB, Mode.LOCKSET])
def test_a_new_object_at_a_dropped_slots_objects_address_starts_with_no_history(
    load_module: Loader, tmp_path: Path, mode: Mode
) -> None:
    with RaceDetector(_config(tmp_path, mode)) as detector:
        module = load_module(f"iso_slots_reuse_{mode}", SLOT_BOXES)
        box = module.SlotBox()
        thread, gate = _write_in_a_thread_that_stays(module, box)
        address = id(box)
        del box
        try:
            module.churn(4000)  # the dead box is let go at one of the scans, with its history
            kept = [address in table for table in (_runtime._keep, _runtime._attrs)]
            # where the allocator hands the block out again (not promised: another test
            # runner, or a detector watching this run, may take it first), a new box there
            # must not race with the dead one's write
            reused = _box_at(module, address, module.SlotBox, required=False)
            if reused is not None:
                module.put(reused, 2)
        finally:
            gate.release()
            thread.join()
    assert [False, False] == kept
    assert [] == [str(f) for f in detector.report().findings]


@pytest.mark.parametrize("mode", [Mode.HB, Mode.LOCKSET])
def test_a_live_slots_object_keeps_its_history_while_dropped_ones_are_let_go(
    load_module: Loader, tmp_path: Path, mode: Mode
) -> None:
    with RaceDetector(_config(tmp_path, mode)) as detector:
        module = load_module(f"iso_slots_live_{mode}", SLOT_BOXES)
        box = module.SlotBox()
        thread, gate = _write_in_a_thread_that_stays(module, box)
        try:
            module.churn(4000)
            module.put(box, 2)
        finally:
            gate.release()
            thread.join()
    races = detector.report().races
    assert [f"iso_slots_live_{mode}.SlotBox.value"] == [str(r.location) for r in races]
    assert [("put", "put")] == [
        (r.current.stack[0].function, r.previous.stack[0].function) for r in races
    ]

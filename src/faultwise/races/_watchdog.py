"""The hang watchdog: reports threads that wait on each other longer than a limit.

A background thread (started with ``_thread`` so it is invisible to ``threading`` and to the
detector) looks at what every tracked thread is blocked on. It reports when the lock waits
form a cycle (a deadlock) and one has lasted longer than the limit, or when every tracked
thread has been waiting for longer than the limit (nothing can make progress), with every
thread's stack at that moment.
"""

from __future__ import annotations

import _thread
import sys
import time
from collections.abc import Callable
from typing import Any

from faultwise.races import _runtime

Dump = list[tuple[int, str, str | None, Any]]  # ident, name, waiting for, frame


class Watchdog:
    def __init__(self, limit: float, on_hang: Callable[[float, list[str], Dump], None]) -> None:
        self.limit = limit
        self.on_hang = on_hang
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        self._done = _thread.allocate_lock()
        self._seen: set[frozenset[tuple[int, float]]] = set()

    def start(self) -> None:
        self._done.acquire()
        _thread.start_new_thread(self._run, ())

    def stop(self) -> None:
        self._stop.release()
        self._done.acquire()  # wait until the loop has left
        self._done.release()

    def _run(self) -> None:
        try:
            interval = max(0.05, self.limit / 4)
            while not self._stop.acquire(True, interval):
                try:
                    self.check(time.monotonic())
                except Exception:  # the watchdog must never take the run down
                    continue
        finally:
            self._done.release()

    def check(self, now: float) -> None:
        states = dict(_runtime._threads)
        alive = sys._current_frames()
        tracked = {i: ts for i, ts in states.items() if i in alive}
        waits = {i: ts.waiting for i, ts in tracked.items() if ts.waiting is not None}
        overdue = {i: w for i, w in waits.items() if now - w[1] >= self.limit}
        if not overdue:
            return
        # every thread stuck for the whole limit (short waits are progress), or a lock cycle
        if not (_lock_cycle(tracked) or len(overdue) == len(tracked)):
            return
        key = frozenset((i, w[1]) for i, w in waits.items())
        if key in self._seen:
            return
        self._seen.add(key)
        me = _thread.get_ident()
        dump: Dump = []
        for ident, frame in alive.items():
            if ident == me:
                continue
            ts = tracked.get(ident)
            name = ts.name if ts is not None else f"thread {ident}"
            wait = waits.get(ident)
            dump.append((ident, name, wait[0] if wait else None, frame))
        longest = max(now - w[1] for w in overdue.values())
        self.on_hang(longest, [tracked[i].name for i in overdue], dump)


def _lock_cycle(tracked: dict[int, _runtime.ThreadState]) -> bool:
    """Whether the tracked threads wait for locks held by each other in a cycle."""
    for start in tracked.values():
        seen: set[int] = set()
        ts: _runtime.ThreadState | None = start
        while ts is not None and ts.waiting is not None and ts.waiting[2] is not None:
            if id(ts) in seen:
                return True
            seen.add(id(ts))
            ts = ts.waiting[2]._owner
    return False

"""Happens-before from the synchronisation that really orders threads.

While a detector is active, ``threading.Lock``/``RLock`` called from instrumented code return
tracked locks, and the methods of ``Thread``, ``Event``, ``Condition``, ``Semaphore``,
``Barrier``, ``queue.Queue``, ``concurrent.futures`` and the asyncio loop are wrapped to add
the edges they imply (release -> acquire, start -> first step, last step -> join,
put -> get, set_result -> result, submit -> task, call_soon_threadsafe -> callback).
Everything is restored when the detector stops; tracked locks keep working as plain locks.
"""

from __future__ import annotations

import _thread
import itertools
import os
import sys
import sysconfig
import time
from collections.abc import Callable
from typing import Any, Protocol

from faultwise.races import _runtime
from faultwise.races._runtime import ThreadState, thread_state

_serials = itertools.count(1)
_G = globals()
_raw_lock = _thread.allocate_lock
_raw_rlock = _thread.RLock


class Hooks(Protocol):
    """What the tracked primitives tell the active detector."""

    def recording(self) -> None: ...

    def maybe_fast(self) -> None: ...

    def lock_acquiring(self, lock: TrackedLock, ts: ThreadState) -> None: ...

    def thread_started(self, thread: Any) -> None: ...

    def thread_joined(self, thread: Any) -> None: ...

    def lock_is_signal(self, lock: TrackedLock) -> None: ...


_active: Hooks | None = None


def set_active(hooks: Hooks | None) -> Hooks | None:
    global _active
    previous, _active = _active, hooks
    return previous


def _site_name(depth: int) -> str:
    f = sys._getframe(depth)
    return f"{f.f_code.co_filename}:{f.f_lineno}"


class TrackedLock:
    """A ``threading.Lock`` that carries a vector clock and takes part in the lock-order graph."""

    __slots__ = ("__weakref__", "_acq", "_lock", "_owner", "_vc", "name", "serial", "signal")
    _kind = "Lock"

    def __init__(self, raw: Any = None, site: str = "") -> None:
        self._lock: Any = raw if raw is not None else _raw_lock()
        self._vc: dict[int, int] | None = None
        self._owner: ThreadState | None = None
        self._acq: tuple[Any, int] | None = None  # (frame, line) of the holder's acquire
        self.serial = next(_serials)
        # A lock released by another thread, or taken again by its holder, is a signal
        # (a binary semaphore), not mutual exclusion: it takes no part in the lock order.
        self.signal = False
        self.name = f"{self._kind}#{self.serial} created at {site or _site_name(2)}"

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<faultwise tracked {self._kind} {state} #{self.serial}>"

    def locked(self) -> bool:
        return bool(self._lock.locked())

    def _enter(self, ts: ThreadState) -> None:
        if _runtime.lock_edges:
            ts.join(self._vc)
        self._owner = ts
        if self.signal:  # not mutual exclusion: it guards nothing and takes no part in the order
            return
        # Only the acquiring frame is kept: while the lock is held, that frame and its callers
        # are still on the stack, so the full stack can be read when an edge needs it. (A
        # signal may stay taken for good, a waiter's gate: its frame would keep every caller's
        # frame and locals alive.)
        f = sys._getframe(2)
        while f.f_globals is _G and f.f_back is not None:
            f = f.f_back
        self._acq = (f, f.f_lineno or 0)
        ts.held.append(self)

    def acquired_at(self) -> _runtime.Site | None:
        """Where the holder took this lock: its thread and stack (while it is held)."""
        acq, owner = self._acq, self._owner
        if acq is None:
            return None
        frame, line = acq
        rest = _runtime.walk(frame.f_back, _runtime.STACK_DEPTH - 1)
        return (owner.name if owner is not None else "?", ((frame.f_code, line), *rest))

    def _leave(self) -> None:
        ts = thread_state()
        if _runtime.lock_edges:
            self._vc = ts.release_copy()
        owner = self._owner or ts
        if owner is not ts:
            self._signals()
        if self in owner.held:
            owner.held.remove(self)
        self._owner = None
        self._acq = None

    def _signals(self) -> None:
        if not self.signal and _active is not None:
            self.signal = True
            _active.lock_is_signal(self)
        owner = self._owner
        self._acq = None
        if self.signal and owner is not None and self in owner.held:
            # held as a signal (a waiter's gate, released by another thread) would stay in
            # its holder's held list for good, one entry per wait, and guard later accesses
            owner.held.remove(self)

    def _acquire_raw(self, blocking: bool, timeout: float) -> bool:
        if self._lock.acquire(False):
            return True
        if not blocking:
            return False
        ts = thread_state()
        ts.waiting = (self.name, time.monotonic(), self)
        try:
            return bool(self._lock.acquire(True, timeout))
        finally:
            ts.waiting = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        hooks = _active
        if hooks is None:
            return bool(self._lock.acquire(blocking, timeout))
        ts = thread_state()
        if blocking and ts.held:
            if self._owner is ts and type(self) is TrackedLock:
                self._signals()  # waiting for another thread to release it
            hooks.lock_acquiring(self, ts)
        if not self._acquire_raw(blocking, timeout):
            return False
        self._enter(ts)
        return True

    def release(self) -> None:
        if _active is not None:
            self._leave()
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()
        self._owner = None


class TrackedRLock(TrackedLock):
    """A ``threading.RLock``: only the outermost acquire and release are synchronisation."""

    __slots__ = ("_depth",)
    _kind = "RLock"

    def __init__(self, site: str = "") -> None:
        super().__init__(_raw_rlock(), site or _site_name(2))
        self._depth = 0

    def locked(self) -> bool:
        return self._depth > 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._depth and self._lock._is_owned():
            self._lock.acquire()
            self._depth += 1
            return True
        if not super().acquire(blocking, timeout):
            return False
        self._depth = 1
        return True

    __enter__ = acquire

    def release(self) -> None:
        if not self._lock._is_owned():
            raise RuntimeError("cannot release un-acquired lock")
        self._depth -= 1
        if self._depth == 0 and _active is not None:
            self._leave()
        self._lock.release()

    # what threading.Condition uses when waiting
    def _is_owned(self) -> bool:
        return bool(self._lock._is_owned())

    def _release_save(self) -> tuple[Any, int]:
        depth, self._depth = self._depth, 0
        if _active is not None:
            self._leave()
        return self._lock._release_save(), depth

    def _acquire_restore(self, saved: tuple[Any, int]) -> None:
        self._lock._acquire_restore(saved[0])
        self._depth = saved[1]
        if _active is not None:
            self._enter(thread_state())


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({os.path.join(os.path.realpath(paths[k]), "") for k in ("stdlib", "platstdlib")})


_STDLIB = _stdlib_dirs()
_origins: dict[str, bool] = {}


def user_code(frame: Any) -> bool:
    """Whether ``frame`` runs instrumented or third-party code (not the standard library).

    Primitives the standard library creates for its own bookkeeping (the thread pool's idle
    semaphore, ``Thread``'s start event) would order threads by accident of the schedule;
    only those created by user code count. Queues, futures, thread start and join are
    modelled at their API instead.
    """
    from faultwise.races._hook import MARKER

    if MARKER in frame.f_globals:
        return True
    name = frame.f_code.co_filename
    known = _origins.get(name)
    if known is None:
        real = os.path.realpath(name)
        library = real.startswith(_STDLIB) and "site-packages" not in real
        known = _origins[name] = not (library or name.startswith("<"))
    return known


class _LockFactory:
    """``threading.Lock``/``RLock`` while active: tracked when user code creates the lock.

    An instance, not a function, so that ``lock_class = threading.Lock`` as a class attribute
    does not turn into a bound method (the builtin it replaces does not bind either).
    """

    def __init__(self, raw: Callable[..., Any], tracked: type[TrackedLock]) -> None:
        self.raw = raw
        self.tracked = tracked

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _active is not None and user_code(sys._getframe(1)):
            return self.tracked(site=_site_name(2))
        return self.raw(*args, **kwargs)


make_lock = _LockFactory(_raw_lock, TrackedLock)
make_rlock = _LockFactory(_raw_rlock, TrackedRLock)


# ---- sync objects that carry a clock in their __dict__ ----
_VC = "_faultwise_vc"
_TRACKED = "_faultwise_tracked"


def _vc_of(obj: Any, name: str = _VC) -> dict[int, int]:
    d = obj.__dict__.get(name)
    if d is None:
        d = obj.__dict__.setdefault(name, {})
    return d  # type: ignore[no-any-return]


def _counts(obj: Any) -> bool:
    """Queues and futures always order threads; other primitives when user code made them."""
    return _active is not None and bool(obj.__dict__.get(_TRACKED, True))


def _release(obj: Any, name: str = _VC) -> None:
    if _counts(obj):
        thread_state().release_into(_vc_of(obj, name))


def _acquire(obj: Any, name: str = _VC) -> None:
    if _counts(obj):
        thread_state().join(obj.__dict__.get(name))


def _remember_origin(orig: Any) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        orig(self, *args, **kwargs)
        self.__dict__[_TRACKED] = _active is not None and user_code(sys._getframe(1))

    return wrapper


def _waiting(what: str, call: Callable[[], Any]) -> Any:
    if _active is None:
        return call()
    ts = thread_state()
    ts.waiting = (what, time.monotonic(), None)
    try:
        return call()
    finally:
        ts.waiting = None


class Patches:
    """Wraps methods while active and puts every original back on :meth:`restore`."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)


def install(patches: Patches) -> None:
    """Apply every happens-before patch, unless an outer detector already did.

    The wrappers ask :data:`_active` which detector to inform, so one set serves nested
    detectors; wrapping twice would run each edge twice (and a thread would start twice).
    """
    import asyncio.base_events
    import concurrent.futures
    import queue
    import threading

    if threading.Lock is make_lock:
        return
    patches.set(threading, "Lock", make_lock)
    patches.set(threading, "RLock", make_rlock)
    _patch_thread(patches, threading.Thread)
    _patch_primitives(patches, threading)
    _patch_queue(patches, queue.Queue)
    _patch_futures(patches, concurrent.futures)
    _patch_loop(patches, asyncio.base_events.BaseEventLoop)


def _patch_thread(p: Patches, thread: Any) -> None:
    def start(orig: Any) -> Any:
        def wrapper(self: Any) -> None:
            hooks = _active
            if hooks is not None:
                hooks.recording()
                self.__dict__["_faultwise_start"] = thread_state().release_copy()
                hooks.thread_started(self)
            orig(self)

        return wrapper

    def bootstrap(orig: Any) -> Any:
        def wrapper(self: Any) -> None:
            vc = self.__dict__.pop("_faultwise_start", None)
            tracked = _active is not None
            if tracked:
                _runtime.begin_thread(vc or {}, self.name)
            try:
                orig(self)
            finally:
                if tracked:
                    self.__dict__["_faultwise_end"] = _runtime.end_thread()

        return wrapper

    def join(orig: Any) -> Any:
        def wrapper(self: Any, timeout: float | None = None) -> None:
            _waiting(f"join {self.name}", lambda: orig(self, timeout))
            if _active is not None and not self.is_alive():
                _joined(self)

        return wrapper

    def is_alive(orig: Any) -> Any:
        def wrapper(self: Any) -> bool:
            alive = bool(orig(self))
            if not alive and _active is not None and "_faultwise_end" in self.__dict__:
                _joined(self)
            return alive

        return wrapper

    p.wrap(thread, "start", start)
    p.wrap(thread, "_bootstrap_inner", bootstrap)
    p.wrap(thread, "join", join)
    p.wrap(thread, "is_alive", is_alive)


def _joined(thread: Any) -> None:
    thread_state().join(thread.__dict__.get("_faultwise_end"))
    if _active is not None:
        _active.thread_joined(thread)


def _release_then(orig: Any) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _release(self)
        return orig(self, *args, **kwargs)

    return wrapper


def _then_acquire(orig: Any, what: str, only_if_true: bool = False) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = _waiting(what, lambda: orig(self, *args, **kwargs))
        except BaseException:
            if not only_if_true:
                _acquire(self)
            raise
        if result or not only_if_true:
            _acquire(self)
        return result

    return wrapper


def _patch_primitives(p: Patches, threading: Any) -> None:
    for cls in (threading.Event, threading.Semaphore, threading.BoundedSemaphore):
        p.wrap(cls, "__init__", _remember_origin)
    p.wrap(threading.Barrier, "__init__", _remember_origin)
    p.wrap(threading.Event, "set", _release_then)
    p.wrap(threading.Event, "wait", lambda o: _then_acquire(o, "Event.wait", only_if_true=True))
    p.wrap(threading.Event, "is_set", lambda o: _then_acquire(o, "", only_if_true=True))
    p.wrap(threading.Semaphore, "release", _release_then)
    p.wrap(threading.BoundedSemaphore, "release", _release_then)
    p.wrap(
        threading.Semaphore, "acquire", lambda o: _then_acquire(o, "Semaphore", only_if_true=True)
    )

    def barrier_wait(orig: Any) -> Any:
        return _release_then(_then_acquire(orig, "Barrier.wait"))

    p.wrap(threading.Barrier, "wait", barrier_wait)

    def condition_init(orig: Any) -> Any:
        def wrapper(self: Any, lock: Any = None) -> None:
            if lock is None and _active is not None and user_code(sys._getframe(1)):
                lock = TrackedRLock(site=_site_name(2))
            orig(self, lock)

        return wrapper

    p.wrap(threading.Condition, "__init__", condition_init)


def _patch_queue(p: Patches, q: Any) -> None:
    def init(orig: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
            orig(self, *args, **kwargs)
            if _active is None:
                return
            # a tracked mutex orders what subclasses do in _put/_get/_qsize under it
            import threading

            self.mutex = TrackedLock(site=_site_name(2))
            self.not_empty = threading.Condition(self.mutex)
            self.not_full = threading.Condition(self.mutex)
            self.all_tasks_done = threading.Condition(self.mutex)

        return wrapper

    p.wrap(q, "__init__", init)
    p.wrap(q, "put", _release_then)
    p.wrap(q, "get", lambda o: _then_acquire(o, "Queue.get"))

    def task_done(orig: Any) -> Any:
        def wrapper(self: Any) -> None:
            _release(self, "_faultwise_done")
            orig(self)

        return wrapper

    def join(orig: Any) -> Any:
        def wrapper(self: Any) -> None:
            _waiting("Queue.join", lambda: orig(self))
            _acquire(self, "_faultwise_done")

        return wrapper

    p.wrap(q, "task_done", task_done)
    p.wrap(q, "join", join)


def _patch_futures(p: Patches, futures: Any) -> None:
    future = futures.Future
    p.wrap(future, "set_result", _release_then)
    p.wrap(future, "set_exception", _release_then)
    p.wrap(future, "result", lambda o: _then_acquire(o, "Future.result"))
    p.wrap(future, "exception", lambda o: _then_acquire(o, "Future.exception"))

    def submit(orig: Any) -> Any:
        def wrapper(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            hooks = _active
            if hooks is None:
                return orig(self, fn, *args, **kwargs)
            hooks.recording()
            return orig(self, _after(thread_state().release_copy(), fn), *args, **kwargs)

        return wrapper

    p.wrap(futures.ThreadPoolExecutor, "submit", submit)


def _after(vc: dict[int, int], fn: Any) -> Any:
    """``fn`` that first acquires ``vc`` (the submitter's clock) in the thread that runs it."""

    def run(*args: Any, **kwargs: Any) -> Any:
        if _active is not None:
            thread_state().join(vc)
        return fn(*args, **kwargs)

    return run


def _patch_loop(p: Patches, loop: Any) -> None:
    def run_forever(orig: Any) -> Any:
        def wrapper(self: Any) -> None:
            hooks = _active
            if hooks is None:
                return orig(self)  # type: ignore[no-any-return]
            hooks.recording()
            ts = thread_state()
            previous, ts.aio = ts.aio, True
            try:
                return orig(self)  # type: ignore[no-any-return]
            finally:
                ts.aio = previous
                hooks.maybe_fast()

        return wrapper

    def call_soon_threadsafe(orig: Any) -> Any:
        def wrapper(self: Any, callback: Any, *args: Any, context: Any = None) -> Any:
            if _active is not None:
                callback = _after(thread_state().release_copy(), callback)
            return orig(self, callback, *args, context=context)

        return wrapper

    p.wrap(loop, "run_forever", run_forever)
    p.wrap(loop, "call_soon_threadsafe", call_soon_threadsafe)

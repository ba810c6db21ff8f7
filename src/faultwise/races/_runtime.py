"""The hot path: what instrumented code calls on every access to shared state.

Rewritten modules call the ``_fw_*`` functions bound in their globals. While no second thread
and no event loop runs, those names are bound to the plain builtins (``getattr``,
``operator.setitem`` ...): every access by the only thread happens before anything a thread
started later does, so nothing needs recording. Once a second thread starts, the recording
functions below are bound instead.

The happens-before check is FastTrack (Flanagan and Freund, PLDI 2009): every location keeps
the epoch ``(thread slot, clock)`` of its last write and of its last read (a read vector clock
only while reads are shared), so the common access costs a compare of two epochs. The lockset
check is Eraser's (Savage et al., SOSP 1997), with ownership passed on by happens-before as in
Helgrind's thread segments: a location is exclusive again once every earlier access happens
before the current one through thread start and join or a hand-off (not through locks, whose
part is the lockset).

This module is shared by every detector; its state lives in module globals so that the
recorders stay cheap, and :func:`snapshot`/:func:`restore` let detectors nest.
"""

from __future__ import annotations

import _thread
import itertools
import operator
import sys
import weakref
from _thread import get_ident
from collections.abc import Callable
from typing import Any, Protocol

__tracebackhide__ = True  # pytest hides these frames from user tracebacks

Frames = tuple[tuple[Any, int], ...]  # (code object, line number), innermost first
Site = tuple[str, Frames]  # (thread name, frames)

STACK_DEPTH = 8
_getframe = sys._getframe
_G = globals()

# Cell layout for the happens-before mode.
W, R, WSITE, RSITE, AW, AR = range(6)
# Eraser states.
EXCLUSIVE, SHARED, SHARED_MODIFIED = 1, 2, 3

ATTR, ITEM = 0, 1


class Sink(Protocol):
    """Receives what the recorders find (the detector; cold path only)."""

    def race(  # noqa: PLR0917 - called positionally from the hot path
        self, obj: object, key: object, table: int, prev: Site, prev_write: bool, write: bool
    ) -> None: ...

    def async_race(self, obj: object, key: object, table: int, read: Site, other: Site) -> None: ...

    def lockset_race(  # noqa: PLR0917 - called positionally from the hot path
        self, obj: object, key: object, table: int, prev: Site, prev_write: bool, write: bool
    ) -> None: ...

    def internal_error(self, error: Exception) -> None: ...


class ThreadState:
    """A thread's vector clock and what it holds; touched only by its own thread."""

    __slots__ = ("aio", "epoch", "held", "name", "slot", "vc", "waiting")

    def __init__(self, slot: int, vc: dict[int, int], name: str) -> None:
        self.slot = slot
        vc[slot] = vc.get(slot, 0) + 1
        self.vc = vc
        self.epoch = (slot, vc[slot])
        self.name = name
        self.held: list[Any] = []
        self.aio = False
        self.waiting: tuple[str, float, Any] | None = None

    def tick(self) -> None:
        c = self.vc[self.slot] + 1
        self.vc[self.slot] = c
        self.epoch = (self.slot, c)

    def join(self, other: dict[int, int] | None) -> None:
        """Acquire: everything before ``other``'s release happens before what follows."""
        if not other:
            return
        vc = self.vc
        for s, c in other.items():
            if c > vc.get(s, 0):
                vc[s] = c

    def release_into(self, target: dict[int, int]) -> None:
        """Release into an accumulating clock (events, queues, semaphores, futures)."""
        for s, c in self.vc.items():
            if c > target.get(s, 0):
                target[s] = c
        self.tick()

    def release_copy(self) -> dict[int, int]:
        """Release of a lock: the lock's clock becomes a copy of this thread's."""
        vc = self.vc.copy()
        self.tick()
        return vc


# ---- state (swapped as a unit by snapshot/restore) ----
_threads: dict[int, ThreadState] = {}
_attrs: dict[int, dict[Any, list[Any]]] = {}
_items: dict[int, dict[Any, list[Any]]] = {}
_keep: dict[int, object] = {}
_pinned: list[int] = []  # ids of objects in _keep held strongly (no weak reference possible)
_slots = itertools.count(1)
_sink: Sink | None = None
_aseq = itertools.count(1)
_plain_types: dict[tuple[type, str], bool] = {}
# Whether lock release -> acquire is a happens-before edge (not in the lockset mode, where
# locks are judged by the locksets and only hand-offs pass a location to another thread).
lock_edges = True
_STATE_NAMES = (
    "_threads",
    "_attrs",
    "_items",
    "_keep",
    "_pinned",
    "_slots",
    "_sink",
    "_aseq",
    "_access",
    "lock_edges",
)


def snapshot() -> tuple[Any, ...]:
    return tuple(_G[n] for n in _STATE_NAMES)


def restore(state: tuple[Any, ...]) -> None:
    for name, value in zip(_STATE_NAMES, state, strict=True):
        _G[name] = value


def fresh(sink: Sink, lockset: bool) -> None:
    """Start an empty state for a new detector."""
    access = _lockset if lockset else _hb
    restore(({}, {}, {}, {}, [], itertools.count(1), sink, itertools.count(1), access, not lockset))


def clear_shadow() -> None:
    """Forget every recorded access (between tests); live threads keep their clocks.

    A thread that ended without going through the patched ``Thread`` (one started before the
    detector) is forgotten too, so a new thread that gets its identifier starts afresh.
    """
    _attrs.clear()
    _items.clear()
    _keep.clear()
    _pinned.clear()
    _G["_sweep_at"] = _SWEEP_MIN
    running = sys._current_frames().keys()
    for ident in [i for i in _threads if i not in running]:
        _threads.pop(ident, None)
    live = {ts.slot for ts in _threads.values()}
    for ts in _threads.values():
        for s in [s for s in ts.vc if s not in live]:
            del ts.vc[s]


def thread_state() -> ThreadState:
    ts = _threads.get(get_ident())
    if ts is None:
        ts = _threads[get_ident()] = ThreadState(next(_slots), {}, _thread_name())
    return ts


def begin_thread(vc: dict[int, int], name: str) -> ThreadState:
    ts = _threads[get_ident()] = ThreadState(next(_slots), vc, name)
    return ts


def end_thread() -> dict[int, int]:
    ts = _threads.pop(get_ident(), None)
    return {} if ts is None else ts.vc


def _thread_name() -> str:
    import threading

    return threading.current_thread().name


def capture() -> Site:
    """The current thread's name and the innermost frames outside this module."""
    f: Any = _getframe(1)
    while f is not None and f.f_globals is _G:
        f = f.f_back
    ts = _threads.get(get_ident())
    return (ts.name if ts is not None else _thread_name(), walk(f, STACK_DEPTH))


def walk(f: Any, depth: int) -> Frames:
    """``(code, line)`` of ``f`` and its callers, at most ``depth`` of them."""
    out: list[tuple[Any, int]] = []
    while f is not None and len(out) < depth:
        out.append((f.f_code, f.f_lineno or 0))
        f = f.f_back
    return tuple(out)


# ---- shadow cells ----
_IGNORED: list[Any] = []  # a cell that is never checked (descriptors, thread-locals)
_ALLOWED_SETATTR = (object.__setattr__, type.__setattr__, type(sys).__setattr__)
_ALLOWED_GETATTR = (
    object.__getattribute__,
    type.__getattribute__,
    type(sys).__getattribute__,
)
_CONTAINERS: dict[type, bool] = {}


def _forget(oid: int) -> Callable[[object], None]:
    """Drop a dead object's history, so that a new object at its address starts afresh.

    The tables are bound now: the object may die while a nested detector's tables are the
    module's, and its history is in the tables it was recorded in.
    """
    attrs, items, keep = _attrs, _items, _keep

    def callback(_ref: object) -> None:
        attrs.pop(oid, None)
        items.pop(oid, None)
        keep.pop(oid, None)

    return callback


def _record_of(table: dict[int, dict[Any, list[Any]]], o: object) -> dict[Any, list[Any]]:
    oid = id(o)
    if oid not in _keep:
        try:
            ref: object = weakref.ref(o, _forget(oid))
        except TypeError:
            ref = o  # not weak-referenceable: keep it alive so its id is not reused
        if _keep.setdefault(oid, ref) is o:
            _pin(oid)
    return table.setdefault(oid, {})


# Objects that cannot have a weak reference (``__slots__`` without ``__weakref__``, dicts,
# lists) are kept alive by ``_keep``: one made per call (a waiter, a request's dict) would keep
# its history, and everything it holds, until the next test. Once ``_keep`` holds the only
# reference, the object is dead for the code under test and is let go with its history, as a
# weak reference's callback does; unreachable objects cannot be reached again, so nothing
# alive loses its history. The scan runs when the pinned objects have doubled since the last.
_SWEEP_MIN = 1024
_sweep_at = _SWEEP_MIN
_sweeping = _thread.allocate_lock()


def _refs(keep: dict[int, object], oid: int) -> int:
    ref = keep.get(oid)
    if ref is None or type(ref) is weakref.ref:
        return sys.maxsize  # gone, or a weakly held object: not this scan's business
    return sys.getrefcount(ref)


def _alone_refs() -> int:
    """What :func:`_refs` counts for an object only ``keep`` holds (measured, not assumed)."""
    return _refs({0: object()}, 0)


_ALONE = _alone_refs()


def _pin(oid: int) -> None:
    pinned = _pinned
    pinned.append(oid)
    if len(pinned) < _sweep_at or not _sweeping.acquire(False):
        return
    try:
        keep, attrs, items = _keep, _attrs, _items
        alive = []
        for o in pinned.copy():
            if _refs(keep, o) <= _ALONE:
                attrs.pop(o, None)
                items.pop(o, None)
                keep.pop(o, None)  # last: the object dies here, its history already gone
            elif o in keep:
                alive.append(o)
        # a pin added by another thread meanwhile is lost: its object stays until the next test
        pinned[:] = alive
        _G["_sweep_at"] = max(_SWEEP_MIN, 2 * len(alive))
    finally:
        _sweeping.release()


def _plain_attribute(o: object, name: str) -> bool:
    """Whether ``o.name`` is plain data (not a property, proxy or thread-local)."""
    cls = type(o)
    key = (cls, name)
    known = _plain_types.get(key)
    if known is None:
        known = cls.__setattr__ in _ALLOWED_SETATTR and cls.__getattribute__ in _ALLOWED_GETATTR
        if known:
            for base in cls.__mro__:
                d = base.__dict__.get(name)
                if d is not None:
                    known = (
                        not (hasattr(type(d), "__set__") or hasattr(type(d), "__delete__"))
                        or type(d).__name__ == "member_descriptor"
                    )
                    break
        _plain_types[key] = known
    return known


def _container(o: object) -> bool:
    """Whether ``o[k]`` is a plain item of a builtin container (not user ``__getitem__``)."""
    cls = type(o)
    known = _CONTAINERS.get(cls)
    if known is None:
        get = getattr(cls, "__getitem__", None)
        known = any(get is getattr(b, "__getitem__", 0) for b in _BUILTIN_CONTAINERS)
        _CONTAINERS[cls] = known
    return known


def _builtin_containers() -> tuple[type, ...]:
    import collections

    return (dict, list, bytearray, collections.OrderedDict, collections.deque)


_BUILTIN_CONTAINERS = _builtin_containers()


def _cell(o: object, key: Any, table: int) -> list[Any]:
    if table == ATTR:
        rec = _attrs.get(id(o))
        if rec is None:
            rec = _record_of(_attrs, o)
        cell = rec.get(key)
        if cell is None:
            plain = isinstance(key, str) and _plain_attribute(o, key)
            cell = rec.setdefault(key, [None, None, None, None, None, None] if plain else _IGNORED)
        return cell
    rec = _items.get(id(o))
    if rec is None:
        if not _container(o):
            return _IGNORED
        rec = _record_of(_items, o)
    try:
        cell = rec.get(key)
    except TypeError:  # unhashable key (a slice of a list): one location for all of them
        key = "<slice>"
        cell = rec.get(key)
    if cell is None:
        cell = rec.setdefault(key, [None, None, None, None, None, None])
    return cell


# ---- happens-before (FastTrack) ----
def _hb(o: object, key: Any, table: int, write: bool) -> None:
    rec = (_items if table else _attrs).get(id(o))
    try:
        cell = None if rec is None else rec.get(key)
    except TypeError:
        cell = None
    if cell is None:
        cell = _cell(o, key, table)
    if cell is _IGNORED:
        return
    ts = _threads.get(get_ident())
    if ts is None:
        ts = thread_state()
    if ts.aio:
        _aio(cell, o, key, table, write)
    if write:
        if cell[W] is ts.epoch:
            return
        _write(cell, ts, o, key, table)
    else:
        if cell[R] is ts.epoch or cell[W] is ts.epoch:
            return
        _read(cell, ts, o, key, table)


def _read(cell: list[Any], ts: ThreadState, o: object, key: Any, table: int) -> None:
    # Concurrent reads update this cell from several threads without a common lock, so the
    # shared-read state lives in one field (a dict slot -> (clock, site)) replaced or updated
    # by single assignments: a lost update can hide a race, never corrupt the cell.
    vc = ts.vc
    slot = ts.slot
    w = cell[W]
    if w is not None and w[0] != slot and w[1] > vc.get(w[0], 0) and _sink is not None:
        _sink.race(o, key, table, cell[WSITE], True, False)
    r = cell[R]
    clock = ts.epoch[1]
    if type(r) is dict:
        known = r.get(slot)
        if known is None or known[0] != clock:
            r[slot] = (clock, capture())
        return
    if r is None or r[0] == slot or r[1] <= vc.get(r[0], 0):
        cell[RSITE] = capture()
        cell[R] = ts.epoch
    else:
        cell[R] = {r[0]: (r[1], cell[RSITE]), slot: (clock, capture())}


def _write(cell: list[Any], ts: ThreadState, o: object, key: Any, table: int) -> None:
    vc = ts.vc
    slot = ts.slot
    w = cell[W]
    sink = _sink
    if w is not None and w[0] != slot and w[1] > vc.get(w[0], 0) and sink is not None:
        sink.race(o, key, table, cell[WSITE], True, True)
    r = cell[R]
    if r is not None and sink is not None:
        if type(r) is dict:
            for s, (c, site) in list(r.items()):
                if s != slot and c > vc.get(s, 0):
                    sink.race(o, key, table, site, False, True)
        elif r[0] != slot and r[1] > vc.get(r[0], 0):
            sink.race(o, key, table, cell[RSITE], False, True)
    cell[WSITE] = capture()
    cell[W] = ts.epoch
    cell[R] = None
    cell[RSITE] = None


# ---- asyncio: read-modify-write across an await ----
def _aio(cell: list[Any], o: object, key: Any, table: int, write: bool) -> None:
    import asyncio

    try:
        task = asyncio.current_task()
    except RuntimeError:
        return
    if task is None:
        return
    reads = cell[AR]
    if not write:
        if reads is None:
            reads = cell[AR] = {}
        elif len(reads) > 256:
            reads.clear()
        seq = cell[AW][0] if cell[AW] is not None else 0
        prior = reads.get(task)
        if prior is None or prior[0] != seq:
            reads[task] = (seq, _task_site(task))
        return
    last = cell[AW]
    if reads is not None:
        mine = reads.pop(task, None)
        if (
            mine is not None
            and last is not None
            and last[1] is not task
            and last[0] > mine[0]
            and _sink is not None
        ):
            _sink.async_race(o, key, table, mine[1], last[2])
    cell[AW] = (next(_aseq), task, _task_site(task))


def _task_site(task: Any) -> Site:
    name, frames = capture()
    return (f"task {task.get_name()} in {name}", frames)


# ---- lockset (Eraser, with ownership passed on by happens-before) ----
# Cell: [state, owner slot, candidate lockset, accesses, -, reported]. ``accesses`` holds each
# thread's latest access since the location last became exclusive: slot -> (clock, site,
# write). Clocks here have no lock edges (see ``lock_edges``): a location passes to another
# thread only through thread start and join, queues, futures, events, semaphores, barriers.
def _held(ts: ThreadState) -> frozenset[int]:
    return frozenset(lock.serial for lock in ts.held)


def _lockset(o: object, key: Any, table: int, write: bool) -> None:
    cell = _cell(o, key, table)
    if cell is _IGNORED:
        return
    ts = _threads.get(get_ident())
    if ts is None:
        ts = thread_state()
    slot = ts.slot
    clock = ts.epoch[1]
    seen: dict[int, tuple[int, Site, bool]] | None = cell[3]
    if seen is None:
        cell[0], cell[1], cell[3] = EXCLUSIVE, slot, {slot: (clock, capture(), write)}
        return
    mine = seen.get(slot)
    fresh = mine is None or mine[0] != clock or (write and not mine[2])
    if cell[0] == EXCLUSIVE and cell[1] == slot:
        if fresh:
            seen[slot] = (clock, capture(), write)
        return
    vc = ts.vc
    # one copy (atomic), not a live iteration: other threads add their own entries meanwhile
    unordered = [a for s, a in seen.copy().items() if s != slot and a[0] > vc.get(s, 0)]
    if not unordered:
        # every earlier access happens before this one: the location is this thread's now
        cell[0], cell[1], cell[2] = EXCLUSIVE, slot, None
        cell[3] = {slot: (clock, capture(), write)}
        return
    if cell[0] == EXCLUSIVE:
        cell[0] = SHARED_MODIFIED if write else SHARED
        cell[2] = _held(ts)
    else:
        cell[2] = cell[2] & _held(ts)
        if write:
            cell[0] = SHARED_MODIFIED
    if cell[0] == SHARED_MODIFIED and not cell[2] and cell[5] is None and _sink is not None:
        cell[5] = True  # report a location once
        _clock, site, was_write = max(unordered, key=operator.itemgetter(2))  # a write first
        _sink.lockset_race(o, key, table, site, was_write, write)
    if fresh:
        seen[slot] = (clock, capture(), write)


_access: Callable[[object, Any, int, bool], None] = _hb


# ---- what rewritten code calls (recording versions) ----
def _record(o: object, key: Any, table: int, write: bool) -> None:
    """Record one access; a failure inside the detector never reaches the code under test."""
    try:
        _access(o, key, table, write)
    except Exception as e:  # counted and shown in the report instead
        if _sink is not None:
            _sink.internal_error(e)


def read(o: Any, n: str) -> Any:
    """``o`` itself, after recording a read of ``o.n`` (the access stays in the caller)."""
    _record(o, n, ATTR, False)
    return o


def write(o: Any, n: str) -> Any:
    _record(o, n, ATTR, True)
    return o


def read_write(o: Any, n: str) -> Any:
    _record(o, n, ATTR, False)
    _record(o, n, ATTR, True)
    return o


def passthrough(o: Any, n: str) -> Any:
    """The uninstrumented twin of :func:`read`, :func:`write` and :func:`read_write`."""
    return o


def gi(o: Any, k: Any) -> Any:
    v = o[k]
    _record(o, k, ITEM, False)
    return v


def si(o: Any, k: Any, v: Any) -> None:
    o[k] = v
    _record(o, k, ITEM, True)


def di(o: Any, k: Any) -> None:
    del o[k]
    _record(o, k, ITEM, True)


def contains(o: Any, k: Any) -> bool:
    found = k in o
    if type(o) is dict:
        _record(o, k, ITEM, False)
    return found


# In-place operators by the code the rewriter emits (see _rewrite.AUG_OPS).
INPLACE: tuple[Callable[[Any, Any], Any], ...] = (
    operator.iadd,
    operator.isub,
    operator.imul,
    operator.itruediv,
    operator.ifloordiv,
    operator.imod,
    operator.ipow,
    operator.ilshift,
    operator.irshift,
    operator.iand,
    operator.ixor,
    operator.ior,
    operator.imatmul,
)


def aug_item(o: Any, k: Any, op: int, v: Any) -> None:
    cur = o[k]
    _record(o, k, ITEM, False)
    o[k] = INPLACE[op](cur, v)
    _record(o, k, ITEM, True)


def fast_aug_item(o: Any, k: Any, op: int, v: Any) -> None:
    o[k] = INPLACE[op](o[k], v)


def global_ops(module: Any) -> tuple[Callable[..., Any], ...]:
    """Recorders for one module's globals: read, write, read-modify-write (recording, fast)."""
    g = module.__dict__
    builtins = g.get("__builtins__", {})
    if not isinstance(builtins, dict):
        builtins = builtins.__dict__

    def fast_read(n: str) -> Any:
        try:
            return g[n]
        except KeyError:
            if n in builtins:
                return builtins[n]
            raise NameError(f"name {n!r} is not defined") from None

    def read(n: str) -> Any:
        v = fast_read(n)
        _record(module, n, ATTR, False)
        return v

    def write(n: str) -> None:
        _record(module, n, ATTR, True)

    def rmw(n: str) -> None:
        _record(module, n, ATTR, False)
        _record(module, n, ATTR, True)

    def nothing(n: str) -> None:
        return None

    return read, write, rmw, fast_read, nothing

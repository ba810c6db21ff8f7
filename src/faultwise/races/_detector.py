"""The detector: installs the import hook and the patches, collects and deduplicates findings."""

from __future__ import annotations

import asyncio
import fnmatch
import linecache
import os
import sys
import threading
import types
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from faultwise.races import _runtime, _sync
from faultwise.races._config import Mode, RacesConfig
from faultwise.races._hook import REGISTRY, RewritingFinder, Selector
from faultwise.races._lockorder import Edge, LockOrderGraph
from faultwise.races._model import (
    Access,
    Finding,
    Frame,
    Hang,
    Kind,
    Location,
    LockEdge,
    LockOrderCycle,
    Race,
    Report,
    Stack,
    ThreadDump,
)
from faultwise.races._rewrite import IGNORE_COMMENT
from faultwise.races._runtime import ATTR, Frames, Site
from faultwise.races._watchdog import Dump, Watchdog

_OP = {True: "write", False: "read"}


class RaceDetector:
    """Finds data races, async read-modify-write races, lock-order inversions and hangs.

    Modules imported while it runs (from ``config.roots``, or named by ``config.include``)
    are instrumented; modules imported earlier in an earlier run stay instrumented. Use it as a
    context manager, or through ``pytest --races``::

        with RaceDetector() as detector:
            import myapp.worker
            myapp.worker.run_threads()
        for finding in detector.report().findings: ...
    """

    def __init__(self, config: RacesConfig | None = None) -> None:
        self.config = config or RacesConfig()
        self.current_test: str | None = None
        self._findings: dict[Any, Finding] = {}
        self._suppressed = 0
        self._errors: dict[str, int] = {}
        self._lock = _sync._raw_lock()
        self._graph = LockOrderGraph(self._on_cycle)
        self._patches = _sync.Patches()
        self._unjoined: weakref.WeakSet[Any] = weakref.WeakSet()
        self._finder: RewritingFinder | None = None
        self._watchdog: Watchdog | None = None
        self._saved: tuple[Any, ...] = ()
        self._active = False
        roots = self.config.roots or (os.getcwd(),)
        self._root = os.path.join(os.path.realpath(roots[0]), "")
        self._selector = Selector(roots, self.config.include, self.config.exclude)

    # ---- lifecycle ----
    def start(self) -> RaceDetector:
        if self._active:
            return self
        self._saved = (_runtime.snapshot(), _sync.set_active(self), REGISTRY.recording)
        _runtime.fresh(self, self.config.mode is Mode.LOCKSET)
        _sync.install(self._patches)
        self._finder = RewritingFinder(self._selector, REGISTRY)
        sys.meta_path.insert(0, self._finder)
        _runtime.thread_state()
        REGISTRY.set_recording(False)
        self._active = True
        if self.config.hang_timeout > 0:
            self._watchdog = Watchdog(self.config.hang_timeout, self._on_hang)
            self._watchdog.start()
        return self

    def stop(self) -> Report:
        if not self._active:
            return self.report()
        self._active = False
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._patches.restore()
        runtime, hooks, recording = self._saved
        _sync.set_active(hooks)
        _runtime.restore(runtime)
        REGISTRY.set_recording(recording)
        return self.report()

    def __enter__(self) -> RaceDetector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget recorded accesses and lock-order edges (findings are kept)."""
        _runtime.clear_shadow()
        self._graph.clear()
        self.maybe_fast()

    def report(self) -> Report:
        with self._lock:
            findings = tuple(self._findings.values())
            errors = tuple(f"{text} (x{n})" for text, n in self._errors.items())
        modules = sorted({m.__name__ for m in REGISTRY.modules})
        return Report(findings, self._suppressed, tuple(modules), errors)

    # ---- hooks called by the tracked primitives ----
    def recording(self) -> None:
        if not REGISTRY.recording:
            REGISTRY.set_recording(True)

    def maybe_fast(self) -> None:
        """Back to uninstrumented speed once this is the only thread and all were joined."""
        others = [t for t in threading.enumerate() if t is not threading.current_thread()]
        ts = _runtime.thread_state()
        if not others and not ts.aio and not len(self._unjoined):
            REGISTRY.set_recording(False)

    def thread_started(self, thread: Any) -> None:
        self._unjoined.add(thread)

    def thread_joined(self, thread: Any) -> None:
        self._unjoined.discard(thread)
        if not len(self._unjoined):
            self.maybe_fast()

    def lock_acquiring(self, lock: _sync.TrackedLock, ts: _runtime.ThreadState) -> None:
        self._graph.acquiring(lock, ts)

    def lock_is_signal(self, lock: _sync.TrackedLock) -> None:
        self._graph.signal(lock.serial)

    # ---- sink: findings from the recorders ----
    def race(  # noqa: PLR0917 - called positionally from the hot path
        self, obj: object, key: object, table: int, prev: Site, prev_write: bool, write: bool
    ) -> None:
        cur = _runtime.capture()
        kind = Kind.DATA_RACE
        self._add_race(kind, obj, key, table, (cur, write), (prev, prev_write), None)

    def async_race(self, obj: object, key: object, table: int, read: Site, other: Site) -> None:
        cur = _runtime._task_site(asyncio.current_task())
        self._add_race(Kind.ASYNC_RACE, obj, key, table, (cur, True), (read, False), other)

    def lockset_race(  # noqa: PLR0917 - called positionally from the hot path
        self, obj: object, key: object, table: int, prev: Site, prev_write: bool, write: bool
    ) -> None:
        cur = _runtime.capture()
        self._add_race(Kind.LOCKSET, obj, key, table, (cur, write), (prev, prev_write), None)

    def internal_error(self, error: Exception) -> None:
        """A failure inside the detector: counted and shown, never raised into the test."""
        with self._lock:
            self._errors[f"{type(error).__name__}: {error}"] = (
                self._errors.get(f"{type(error).__name__}: {error}", 0) + 1
            )

    def _add_race(  # noqa: PLR0917
        self,
        kind: Kind,
        obj: object,
        key: object,
        table: int,
        cur: tuple[Site, bool],
        prev: tuple[Site, bool],
        other: Site | None,
    ) -> None:
        sites = [cur[0], prev[0], *([other] if other else [])]
        tops = [self._top(s[1]) for s in sites]
        owner = _owner_name(obj)
        name = key if table == ATTR else "[]"
        dedup = (kind, table, owner, name, frozenset(tops[:2]), tuple(tops[2:]))
        with self._lock:
            known = self._findings.get(dedup)
            if known is not None:
                self._findings[dedup] = _bump(known)
                return
        if any(self._comment_ignored(t) for t in tops):
            self._suppressed += 1
            return
        location = self._locate(obj, key, table)
        if any(fnmatch.fnmatchcase(str(location), p) for p in self.config.ignore):
            self._suppressed += 1
            return
        race = Race(
            kind,
            location,
            self._access(cur[0], _OP[cur[1]]),
            self._access(prev[0], _OP[prev[1]]),
            self._access(other, "write") if other else None,
            self.current_test,
        )
        with self._lock:
            self._findings.setdefault(dedup, race)

    def _on_cycle(self, edges: list[Edge]) -> None:
        cycle = LockOrderCycle(
            tuple(e.held for e in edges),
            tuple(
                LockEdge(
                    e.held,
                    e.acquired,
                    e.thread,
                    self._stack(e.held_site[1]) if e.held_site else (),
                    self._stack(e.acquire_site[1]),
                )
                for e in edges
            ),
            self.current_test,
        )
        dedup = (Kind.LOCK_ORDER, frozenset(_unnumbered(e.held) for e in edges))
        with self._lock:
            known = self._findings.get(dedup)
            self._findings[dedup] = cycle if known is None else _bump(known)

    def _on_hang(self, waited: float, waiting: list[str], dump: Dump) -> None:
        threads = tuple(
            ThreadDump(name, what, self._stack(_walk(frame), keep_library=True))
            for _ident, name, what, frame in dump
        )
        hang = Hang(round(waited, 3), tuple(waiting), threads, self.current_test)
        with self._lock:
            self._findings[(Kind.HANG, len(self._findings))] = hang

    # ---- describing what was found ----
    def _top(self, frames: Frames) -> tuple[str, int]:
        for code, line in frames:
            if code.co_filename in REGISTRY.files:
                return (code.co_filename, line)
        return (frames[0][0].co_filename, frames[0][1]) if frames else ("?", 0)

    @staticmethod
    def _comment_ignored(top: tuple[str, int]) -> bool:
        return bool(IGNORE_COMMENT.search(linecache.getline(top[0], top[1])))

    def _access(self, site: Site, op: str) -> Access:
        return Access(site[0], op, self._stack(site[1]))

    def _stack(self, frames: Frames, keep_library: bool = False) -> Stack:
        user = [(c, n) for c, n in frames if c.co_filename in REGISTRY.files]
        chosen = user if user and not keep_library else list(frames[: 3 if not user else 12])
        return tuple(
            Frame(
                self._relative(code.co_filename),
                line,
                code.co_qualname,
                linecache.getline(code.co_filename, line).strip(),
            )
            for code, line in chosen
        )

    def _relative(self, path: str) -> str:
        real = os.path.realpath(path)
        return real[len(self._root) :] if real.startswith(self._root) else path

    def _locate(self, obj: object, key: object, table: int) -> Location:
        if table == ATTR:
            if isinstance(obj, types.ModuleType):
                return Location("global", obj.__name__, str(key))
            if isinstance(obj, type):
                return Location("class attribute", f"{obj.__module__}.{obj.__qualname__}", str(key))
            cls = type(obj)
            return Location("attribute", f"{cls.__module__}.{cls.__qualname__}", str(key))
        text = repr(key)
        return Location(
            "item", self._container_name(obj), text if len(text) < 80 else text[:77] + "..."
        )

    @staticmethod
    def _container_name(obj: object) -> str:
        for module in list(REGISTRY.modules):
            for name, value in list(vars(module).items()):
                if value is obj:
                    return f"{module.__name__}.{name}"
        return f"<{type(obj).__qualname__}>"


def _owner_name(obj: object) -> str:
    """The module or class a location belongs to, by name: not ``id()``, which a class that a
    finished test dropped may leave to another."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _bump(finding: Finding) -> Finding:
    return replace(finding, count=finding.count + 1)


def _unnumbered(name: str) -> str:
    kind, _, rest = name.partition("#")
    return f"{kind} {rest.partition(' ')[2]}"


def _walk(frame: Any) -> Frames:
    out: list[tuple[Any, int]] = []
    while frame is not None and len(out) < 40:
        out.append((frame.f_code, frame.f_lineno or 0))
        frame = frame.f_back
    return tuple(out)


@contextmanager
def detect_races(config: RacesConfig | None = None, **options: Any) -> Iterator[RaceDetector]:
    """Run the detector for the duration of a ``with`` block.

    Keyword options replace fields of ``config`` (``roots=["src"]``, ``mode="lockset"``...)::

        with detect_races(roots=[Path(__file__).parent]) as detector:
            import myapp.jobs
            myapp.jobs.run_all()
        assert detector.report().races == ()
    """
    cfg = RacesConfig.from_mapping({}) if config is None else config
    if options:
        cfg = replace(cfg, **_normalised(options))
    detector = RaceDetector(cfg)
    detector.start()
    try:
        yield detector
    finally:
        detector.stop()


def _normalised(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    for name in ("roots", "include", "exclude", "ignore"):
        if name in out:
            out[name] = tuple(str(v) for v in out[name])
    if "mode" in out:
        out["mode"] = Mode(out["mode"])
    return out

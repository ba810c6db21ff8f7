"""Connection-pool gauges and the "pinned at max" leak rule, for SQLAlchemy and psycopg_pool.

Pool exhaustion is the slow outage: a code path that forgets to return a connection takes the
pool to its maximum, and every request after that waits for ``pool_timeout`` and fails. The
early sign is a pool whose used connections equal its maximum for a long time, which a
healthy, merely busy pool almost never shows. :class:`PoolWatch` exports OTel's
``db.client.connection.*`` metrics and raises a :class:`PoolPinned` event and a warning log
line when a pool stays at its maximum for ``pinned_after`` seconds (default 30).

>>> watch = PoolWatch()
>>> watch.sqlalchemy(engine, name="orders-db")      # doctest: +SKIP
>>> watch.psycopg(pool)                             # doctest: +SKIP
>>> watch.start()                                   # polls every 5 s in a daemon thread
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry

from faultwise import _fork
from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.observe._metrics import DbClientMetrics, PoolMetrics, metric_set

__all__ = ["PoolPinned", "PoolReleased", "PoolState", "PoolWatch"]

POOL_LOGGER: Final = "faultwise.pool"


@dataclass(frozen=True, slots=True)
class PoolState:
    """A pool at one instant. ``max`` is None when the pool has no upper bound."""

    used: int
    idle: int
    max: int | None
    pending: int


@dataclass(frozen=True, slots=True)
class PoolPinned:
    """A pool has had every connection in use for ``seconds``: a leak or an undersized pool."""

    pool: str
    used: int
    max: int
    seconds: float


@dataclass(frozen=True, slots=True)
class PoolReleased:
    """A pinned pool has a free connection again, after ``seconds`` at its maximum."""

    pool: str
    seconds: float


PoolEvent = PoolPinned | PoolReleased


class _Pool:
    """What the watch keeps per pool: how to read it, and the leak rule's state."""

    __slots__ = ("alerted", "name", "pending", "pinned_since", "read")

    def __init__(self, name: str, read: Callable[[], PoolState]) -> None:
        self.name = name
        self.read = read
        self.pending = 0  # callers waiting inside the wrapped acquire
        self.pinned_since: float | None = None
        self.alerted = False


class PoolWatch:
    """Exports pool metrics and applies the leak rule to every pool it watches.

    Gauges are refreshed on every checkout and checkin and by :meth:`poll`; the leak rule is
    evaluated by :meth:`poll` (call :meth:`start` for a background thread, or call ``poll``
    from your own scheduler). Events go to ``on_event`` listeners; the warning goes to the
    ``faultwise.pool`` logger.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        pinned_after: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        on_event: Callable[[PoolEvent], None] | None = None,
    ) -> None:
        self._metrics = metric_set(PoolMetrics, registry)
        self._db = metric_set(DbClientMetrics, registry)
        self.pinned_after = pinned_after
        self._clock = clock
        self._listeners: list[Callable[[PoolEvent], None]] = [on_event] if on_event else []
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self._log = logging.getLogger(POOL_LOGGER)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval = 5.0

    def on_event(self, listener: Callable[[PoolEvent], None]) -> None:
        self._listeners.append(listener)

    # ---------------------------------------------------------------------- adapters

    def sqlalchemy(self, engine: Any, *, name: str | None = None, operations: bool = True) -> str:
        """Watch a SQLAlchemy ``Engine``/``AsyncEngine`` (or a bare ``Pool``); returns the name.

        Uses the pool's checkout/checkin events, times waits by wrapping ``pool.connect``, and
        with ``operations`` records ``db_client_operation_duration_seconds`` per statement.
        """
        from sqlalchemy import event, exc

        sync_engine = getattr(engine, "sync_engine", engine)
        pool = getattr(sync_engine, "pool", sync_engine)
        label = name or _sqlalchemy_name(sync_engine)

        def read() -> PoolState:
            # QueuePool knows its size and overflow; other pools (NullPool, StaticPool) report
            # what they can and no maximum.
            checked_out = getattr(pool, "checkedout", None)
            size = getattr(pool, "size", None)
            overflow: int | None = getattr(pool, "_max_overflow", None)
            limit = None
            if size is not None and overflow is not None and overflow >= 0:
                limit = size() + overflow
            return PoolState(
                used=checked_out() if checked_out else 0,
                idle=pool.checkedin() if hasattr(pool, "checkedin") else 0,
                max=limit,
                pending=entry.pending,
            )

        entry = self._add(label, read)
        use_time = self._metrics.use_time.labels(label)

        def on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
            record.info["faultwise.checkout"] = time.perf_counter()
            self._refresh(entry)

        def on_checkin(dbapi_conn: Any, record: Any) -> None:
            started = record.info.pop("faultwise.checkout", None)
            if started is not None:
                use_time.observe(time.perf_counter() - started)
            # SQLAlchemy fires checkin just before it puts the connection back: count it
            # returned already (kept idle if the pool has room, else closed as overflow).
            state = read()
            size = pool.size() if hasattr(pool, "size") else state.idle + 1
            idle = state.idle + 1 if state.idle < size else state.idle
            self._refresh(entry, PoolState(max(state.used - 1, 0), idle, state.max, state.pending))

        event.listen(pool, "checkout", on_checkout)
        event.listen(pool, "checkin", on_checkin)
        pool.connect = self._timed_acquire(entry, pool.connect, exc.TimeoutError)
        if operations and hasattr(sync_engine, "dialect"):
            self._sqlalchemy_operations(sync_engine)
        self._refresh(entry)
        return label

    def psycopg(self, pool: Any, *, name: str | None = None) -> str:
        """Watch a psycopg ``ConnectionPool`` or ``AsyncConnectionPool``; returns the name.

        Reads ``get_stats()`` and times waits by wrapping ``getconn`` and ``putconn``.
        """
        from psycopg_pool import PoolTimeout

        label = name or str(pool.name)

        def read() -> PoolState:
            stats = pool.get_stats()
            size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
            return PoolState(
                used=size - available,
                idle=available,
                max=stats.get("pool_max", pool.max_size),
                # our own count: psycopg keeps a timed-out waiter listed until it is woken
                pending=entry.pending,
            )

        entry = self._add(label, read)
        borrowed: dict[int, float] = {}
        use_time = self._metrics.use_time.labels(label)
        acquire = self._timed_acquire(entry, pool.getconn, PoolTimeout)

        if inspect.iscoroutinefunction(pool.getconn):
            put_async = pool.putconn

            async def getconn_async(timeout: float | None = None) -> Any:  # noqa: ASYNC109
                conn = await acquire(timeout=timeout)
                borrowed[id(conn)] = time.perf_counter()
                self._refresh(entry)
                return conn

            async def putconn_async(conn: Any) -> None:
                self._returned(borrowed, conn, use_time)
                await put_async(conn)
                self._refresh(entry)

            pool.getconn, pool.putconn = getconn_async, putconn_async
        else:
            put = pool.putconn

            def getconn(timeout: float | None = None) -> Any:
                conn = acquire(timeout=timeout)
                borrowed[id(conn)] = time.perf_counter()
                self._refresh(entry)
                return conn

            def putconn(conn: Any) -> None:
                self._returned(borrowed, conn, use_time)
                put(conn)
                self._refresh(entry)

            pool.getconn, pool.putconn = getconn, putconn
        self._refresh(entry)
        return label

    @staticmethod
    def _returned(borrowed: dict[int, float], conn: Any, use_time: Any) -> None:
        started = borrowed.pop(id(conn), None)
        if started is not None:
            use_time.observe(time.perf_counter() - started)

    def _add(self, name: str, read: Callable[[], PoolState]) -> _Pool:
        with self._lock:
            if name in self._pools:
                raise ValueError(f"a pool named {name!r} is already watched")
            entry = self._pools[name] = _Pool(name, read)
        return entry

    def _timed_acquire(self, entry: _Pool, acquire: Any, timeout_error: type[BaseException]) -> Any:
        """``acquire`` (sync or async) timed into the wait-time histogram, timeouts counted."""
        wait_time = self._metrics.wait_time.labels(entry.name)
        timeouts = self._metrics.timeouts.labels(entry.name)
        pending = self._metrics.pending.labels(entry.name)

        def enter() -> float:
            with self._lock:
                entry.pending += 1
                pending.set(entry.pending)
            return time.perf_counter()

        def leave(started: float, error: BaseException | None) -> None:
            wait_time.observe(time.perf_counter() - started)
            if isinstance(error, timeout_error):
                timeouts.inc()
            with self._lock:
                entry.pending -= 1
                pending.set(entry.pending)

        if inspect.iscoroutinefunction(acquire):

            async def acquire_async(*args: Any, **kwargs: Any) -> Any:
                started = enter()
                try:
                    conn = await acquire(*args, **kwargs)
                except BaseException as error:
                    leave(started, error)
                    raise
                leave(started, None)
                return conn

            return acquire_async

        def acquire_sync(*args: Any, **kwargs: Any) -> Any:
            started = enter()
            try:
                conn = acquire(*args, **kwargs)
            except BaseException as error:
                leave(started, error)
                raise
            leave(started, None)
            return conn

        return acquire_sync

    def _sqlalchemy_operations(self, engine: Any) -> None:
        from sqlalchemy import event

        system = engine.dialect.name
        duration = self._db.duration

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("faultwise.started", []).append(time.perf_counter())

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            started = conn.info["faultwise.started"].pop()
            duration.labels(system, _operation(statement), "").observe(
                time.perf_counter() - started
            )

        def on_error(context: Any) -> None:
            stack = context.connection.info.get("faultwise.started") if context.connection else None
            if stack:
                started = stack.pop()
                error = type(context.original_exception).__qualname__
                duration.labels(system, _operation(context.statement or ""), error).observe(
                    time.perf_counter() - started
                )

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        event.listen(engine, "handle_error", on_error)

    # ----------------------------------------------------------------- gauges and rule

    def _refresh(self, entry: _Pool, state: PoolState | None = None) -> PoolState:
        if state is None:
            state = entry.read()
        m = self._metrics
        m.count.labels(entry.name, "used").set(state.used)
        m.count.labels(entry.name, "idle").set(state.idle)
        if state.max is not None:
            m.max.labels(entry.name).set(state.max)
        m.pending.labels(entry.name).set(state.pending)
        return state

    def poll(self) -> list[PoolEvent]:
        """Refresh every pool's gauges and apply the leak rule; returns the events raised."""
        now = self._clock.now()
        events: list[PoolEvent] = []
        with self._lock:
            pools = list(self._pools.values())
        for entry in pools:
            state = self._refresh(entry)
            pinned = state.max is not None and state.used >= state.max
            if pinned and entry.pinned_since is None:
                entry.pinned_since = now
            elif pinned and not entry.alerted and entry.pinned_since is not None:
                seconds = now - entry.pinned_since
                if seconds >= self.pinned_after:
                    entry.alerted = True
                    assert state.max is not None
                    events.append(PoolPinned(entry.name, state.used, state.max, seconds))
            elif not pinned and entry.pinned_since is not None:
                if entry.alerted:
                    events.append(PoolReleased(entry.name, now - entry.pinned_since))
                entry.pinned_since, entry.alerted = None, False
        for ev in events:
            self._emit(ev)
        return events

    def _emit(self, ev: PoolEvent) -> None:
        if isinstance(ev, PoolPinned):
            self._log.warning(
                "pool %s pinned at its maximum (%d of %d connections in use) for %.0f s: "
                "a connection leak or an undersized pool",
                ev.pool,
                ev.used,
                ev.max,
                ev.seconds,
                extra={
                    "db.client.connection.pool.name": ev.pool,
                    "db.client.connection.count": ev.used,
                    "db.client.connection.max": ev.max,
                    "event.name": "pool.pinned",
                },
            )
        else:
            self._log.info(
                "pool %s has free connections again after %.0f s at its maximum",
                ev.pool,
                ev.seconds,
                extra={"db.client.connection.pool.name": ev.pool, "event.name": "pool.released"},
            )
        for listener in self._listeners:
            listener(ev)

    def start(self, interval: float = 5.0) -> None:
        """Poll every ``interval`` seconds in a daemon thread until :meth:`stop` (a worker
        forked from this process, as gunicorn ``--preload`` forks, polls in its own)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._interval = interval
        _fork.track(self)

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll()
                except Exception:
                    self._log.exception("pool poll failed")

        self._thread = threading.Thread(target=loop, name="faultwise-pool-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        _fork.untrack(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _forked(self) -> None:
        """In a forked child: the parent's poller thread is not here; poll in a new one (the
        locks are new too: the parent's may have been held at the fork)."""
        self._lock, self._stop, self._thread = threading.Lock(), threading.Event(), None
        self.start(self._interval)


_OPERATIONS: Final = frozenset(
    {
        *("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "CALL", "COPY", "EXPLAIN"),
        *("BEGIN", "COMMIT", "ROLLBACK", "SET", "SHOW", "CREATE", "DROP", "ALTER", "TRUNCATE"),
    }
)


def _operation(statement: str) -> str:
    """The statement's first keyword (a bounded label), else ``_OTHER``."""
    head = statement.lstrip()[:12].split(None, 1)
    word = head[0].upper() if head else ""
    return word if word in _OPERATIONS else "_OTHER"


def _sqlalchemy_name(engine: Any) -> str:
    url = getattr(engine, "url", None)
    if url is None:
        return "pool"
    return f"{url.host or 'local'}:{url.port or ''}/{url.database or ''}".replace(":/", "/")

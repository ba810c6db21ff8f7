"""Metric families, named as OpenTelemetry's semantic conventions in Prometheus form.

Seconds everywhere, explicit buckets (OTel's advisory HTTP and DB boundaries: the SDK's default
buckets are shaped for milliseconds and would put every fast call in one bucket), route
templates and never raw paths. Families are created once per registry and shared, so two
middlewares or two pools on one registry do not collide; tests pass a fresh
``CollectorRegistry``.

Multiprocess mode (gunicorn): set ``PROMETHEUS_MULTIPROC_DIR`` before the workers start and
prometheus_client writes every value to a per-process file; :func:`scrape_registry` then
aggregates those files at scrape time, and :func:`mark_process_dead` (call it from gunicorn's
``child_exit`` hook) drops a dead worker's live gauges.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Final, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import metrics as _prometheus_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = [
    "DB_BUCKETS",
    "HTTP_BUCKETS",
    "KNOWN_METHODS",
    "DbClientMetrics",
    "HttpClientMetrics",
    "HttpServerMetrics",
    "PoolMetrics",
    "mark_process_dead",
    "metric_set",
    "normalize_method",
    "scrape_registry",
]

_INF: Final = float("inf")
HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
DB_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)

# OTel: a method outside the known set is recorded as _OTHER, so clients cannot mint labels.
KNOWN_METHODS: Final = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
)


def normalize_method(method: str) -> str:
    return method if method in KNOWN_METHODS else "_OTHER"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """The registry to expose: ``registry``, or in multiprocess mode one that merges workers."""
    directory = multiprocess_dir()
    if directory is None:
        return registry if registry is not None else REGISTRY
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
    return merged


def mark_process_dead(pid: int) -> None:
    """Forget a dead worker's live gauges (gunicorn: call from the ``child_exit`` hook)."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class HttpServerMetrics:
    """``http.server.request.duration``, errors and in-flight requests."""

    LABELS: Final = ("http_request_method", "http_route", "http_response_status_code")

    def __init__(self, registry: CollectorRegistry) -> None:
        # once per request: in one process, a histogram whose observations take no lock
        self.duration: CellHistogram | Histogram
        name, doc = "http_server_request_duration_seconds", "Duration of HTTP server requests."
        if multiprocess_dir() is None:
            self.duration = CellHistogram(name, doc, self.LABELS, HTTP_BUCKETS, registry)
        else:
            self.duration = Histogram(
                name, doc, self.LABELS, buckets=HTTP_BUCKETS, registry=registry
            )
        self.errors = Counter(
            "http_server_request_errors",
            "HTTP server requests that ended in a 5xx status or an unhandled exception.",
            ("http_request_method", "http_route", "error_type"),
            registry=registry,
        )
        # enter()/leave() run twice per request: a lock-free pair of counters in one process,
        # prometheus' shared-file gauge (summed over live workers) in multiprocess mode.
        self.enter: Callable[[], object]
        self.leave: Callable[[], object]
        if multiprocess_dir() is None:
            started, finished = itertools.count(), itertools.count()
            self.enter, self.leave = started.__next__, finished.__next__
            registry.register(_InFlight(started, finished))
        else:
            gauge = Gauge(_ACTIVE[0], _ACTIVE[1], registry=registry, multiprocess_mode="livesum")
            self.enter, self.leave = gauge.inc, gauge.dec
        self.observers: dict[tuple[str, str, int], Callable[[float], None]] = {}

    def observer(self, method: str, route: str, status: int) -> Callable[[float], None]:
        """Records a duration for one label set: the child is bound once, then reused."""
        key = (method, route, status)
        observe = self.observers.get(key)
        if observe is None:
            duration = self.duration
            if isinstance(duration, CellHistogram):
                observe = duration.observer(method, route, str(status))
            else:
                observe = fast_observe(duration.labels(method, route, str(status)))
            self.observers[key] = observe
        return observe


class CellHistogram(Collector):
    """A histogram family whose observations take no lock (one process; not multiprocess mode).

    Each thread adds to its own cell per label set (the bucket counts, then the sum), which no
    other thread writes: an observation is a bisect and two in-place additions, 0.13 µs
    against 0.34 µs for a ``prometheus_client`` child under its two value locks, and threads
    never wait on each other. A scrape sums the cells under the family's lock (an element read
    while its owner adds to it is the old or the new value: never torn). The cells of threads
    that ended are folded into one, so a server that starts a thread per request does not keep
    a cell per request. Exposed exactly as ``prometheus_client.Histogram`` exposes itself.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        buckets: tuple[float, ...],
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = labelnames
        bounds = [float(b) for b in buckets]
        if bounds[-1] != _INF:
            bounds.append(_INF)
        self._bounds = bounds
        self._le: list[str] = [floatToGoString(b) for b in bounds]  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], _Cells] = {}
        registry.register(self)

    def observer(self, *labelvalues: str) -> Callable[[float], None]:
        """Records an observation for one label set (the calling thread's cell)."""
        with self._lock:
            child = self._children.get(labelvalues)
            if child is None:
                child = self._children[labelvalues] = _Cells(len(self._bounds) + 1, self._lock)
        local, new_cell, bounds = child.local, child.new_cell, self._bounds

        def observe(amount: float) -> None:
            try:
                cell: list[float] = local.cell
            except AttributeError:
                cell = new_cell()
            cell[bisect_left(bounds, amount)] += 1  # bucket i: bounds[i-1] < amount <= bounds[i]
            cell[-1] += amount

        return observe

    def describe(self) -> list[Metric]:
        return [Metric(self._name, self._documentation, "histogram")]

    def collect(self) -> list[Metric]:
        metric = Metric(self._name, self._documentation, "histogram")
        created = getattr(_prometheus_metrics, "_use_created", True)
        with self._lock:
            children = [
                (values, child.totals(), child.created) for values, child in self._children.items()
            ]
        for values, totals, when in children:
            labels = dict(zip(self._labelnames, values, strict=True))
            acc = 0.0
            for le, count in zip(self._le, totals, strict=False):
                acc += count
                metric.add_sample(f"{self._name}_bucket", {**labels, "le": le}, acc)
            metric.add_sample(f"{self._name}_count", labels, acc)
            metric.add_sample(f"{self._name}_sum", labels, totals[-1])
            if created:
                metric.add_sample(f"{self._name}_created", labels, when)
        return [metric]


class _Cells:
    """One label set of a :class:`CellHistogram`: the live threads' cells and the folded rest."""

    __slots__ = ("_fold_at", "_live", "_lock", "_retired", "created", "local")

    def __init__(self, width: int, lock: threading.Lock) -> None:
        self.local = threading.local()
        self.created = time.time()
        self._lock = lock  # the family's
        self._live: list[tuple[threading.Thread, list[float]]] = []
        self._retired: list[float] = [0.0] * width
        self._fold_at = 16

    def new_cell(self) -> list[float]:
        """The calling thread's first observation: its cell, registered for scrapes."""
        cell = [0.0] * len(self._retired)
        thread = threading.current_thread()
        with self._lock:
            if len(self._live) >= self._fold_at:
                self._fold_ended()
            self._live.append((thread, cell))
        self.local.cell = cell
        return cell

    def _fold_ended(self) -> None:
        """Add the cells of threads that ended into the retired one (the lock is held)."""
        live = []
        for thread, cell in self._live:
            if thread.is_alive():
                live.append((thread, cell))
            else:  # no thread writes this cell any more
                for i, value in enumerate(cell):
                    self._retired[i] += value
        self._live = live
        self._fold_at = max(16, 2 * len(live))

    def totals(self) -> list[float]:
        """Bucket counts, then the sum, over every cell (the lock is held)."""
        return [
            sum(column) for column in zip(self._retired, *(c for _, c in self._live), strict=True)
        ]


def fast_observe(child: Any) -> Callable[[float], None]:
    """``child.observe`` without its per-call checks (multiprocess mode, where
    :class:`CellHistogram` does not apply): a binary search for the bucket, then the same two
    value increments, so the per-process files are written as usual. ``Histogram.observe``
    re-checks the labels and scans the buckets linearly. Falls back to ``observe`` if
    prometheus_client's histogram ever changes shape."""
    bounds: Any = getattr(child, "_upper_bounds", None)
    buckets: Any = getattr(child, "_buckets", None)
    total: Any = getattr(child, "_sum", None)
    shaped = isinstance(bounds, list) and isinstance(buckets, list) and total is not None
    if not shaped or len(bounds) != len(buckets) or bounds[-1] != float("inf"):
        observed: Callable[[float], None] = child.observe
        return observed
    inc_sum = total.inc

    def observe(amount: float) -> None:
        buckets[bisect_left(bounds, amount)].inc(1)  # bucket i: bounds[i-1] < amount <= bounds[i]
        inc_sum(amount)

    return observe


_ACTIVE: Final = ("http_server_active_requests", "HTTP server requests in flight.")


class _InFlight(Collector):
    """``http_server_active_requests`` from two ``itertools.count`` objects.

    ``next()`` on a count is atomic under the GIL and takes no lock. Reading a count advances
    it, so a scrape advances both and reports the difference.
    """

    def __init__(self, started: itertools.count[int], finished: itertools.count[int]) -> None:
        self._started = started
        self._finished = finished

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(*_ACTIVE)]

    def collect(self) -> list[Metric]:
        started = next(self._started)
        finished = next(self._finished)
        return [GaugeMetricFamily(*_ACTIVE, value=max(started - finished, 0))]


class HttpClientMetrics:
    """``http.client.request.duration`` by method, server and outcome."""

    LABELS: Final = (
        "http_request_method",
        "server_address",
        "server_port",
        "http_response_status_code",
        "error_type",
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "http_client_request_duration_seconds",
            "Duration of HTTP client requests.",
            self.LABELS,
            buckets=HTTP_BUCKETS,
            registry=registry,
        )


class DbClientMetrics:
    """``db.client.operation.duration`` by database system and operation."""

    LABELS: Final = ("db_system_name", "db_operation_name", "error_type")

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "db_client_operation_duration_seconds",
            "Duration of database client operations.",
            self.LABELS,
            buckets=DB_BUCKETS,
            registry=registry,
        )


class PoolMetrics:
    """OTel's ``db.client.connection.*`` pool metrics (one label set per pool).

    Gauges keep one value per worker process in multiprocess mode (``liveall``): a pool
    belongs to one process, and "used == max" is a per-pool condition.
    """

    POOL: Final = "db_client_connection_pool_name"

    def __init__(self, registry: CollectorRegistry) -> None:
        pool = (self.POOL,)
        self.count = Gauge(
            "db_client_connection_count",
            "Connections in the pool, by state (idle or used).",
            (self.POOL, "db_client_connection_state"),
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.max = Gauge(
            "db_client_connection_max",
            "Maximum number of connections the pool allows.",
            pool,
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.pending = Gauge(
            "db_client_connection_pending_requests",
            "Requests waiting for a connection from the pool.",
            pool,
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.timeouts = Counter(
            "db_client_connection_timeouts",
            "Connection requests that timed out waiting for the pool.",
            pool,
            registry=registry,
        )
        self.wait_time = Histogram(
            "db_client_connection_wait_time_seconds",
            "Time spent waiting for a connection from the pool.",
            pool,
            buckets=DB_BUCKETS,
            registry=registry,
        )
        self.use_time = Histogram(
            "db_client_connection_use_time_seconds",
            "Time between borrowing a connection and returning it.",
            pool,
            buckets=DB_BUCKETS,
            registry=registry,
        )


M = TypeVar("M")
_sets: weakref.WeakKeyDictionary[CollectorRegistry, dict[Callable[..., Any], Any]] = (
    weakref.WeakKeyDictionary()
)
_sets_lock = threading.Lock()


def metric_set(kind: Callable[[CollectorRegistry], M], registry: CollectorRegistry | None) -> M:
    """The one instance of a metric family set for ``registry`` (default: prometheus' global)."""
    reg = registry if registry is not None else REGISTRY
    with _sets_lock:
        per_registry = _sets.setdefault(reg, {})
        found: M | None = per_registry.get(kind)
        if found is None:
            found = kind(reg)
            per_registry[kind] = found
        return found

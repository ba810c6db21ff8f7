"""Golden incidents: realistic multi-service telemetry for every failure pattern.

Each generator simulates a small service graph under steady traffic, injects one fault about
halfway through, and writes what such an incident leaves behind, in the formats real systems
use: JSON-lines logs with OTel, ECS and ad-hoc field names, logfmt, plain-text logs (Spring
Boot, Python logging, PostgreSQL, JVM GC), CSV span exports in two spellings, Prometheus text
samples, Kubernetes events and configuration files. Each returns the expected root cause
(component and pattern). Deterministic for a seed. Used by ``tests/diagnose/test_golden.py``
and ``bench/diagnose.py``; run it to write the folders for a look::

    python tests/diagnose/incidents.py /tmp/golden
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

__all__ = ["GOLDEN", "Expected", "LogFormat", "SpanFormat", "World"]

START = dt.datetime(2026, 3, 4, 9, 0, 0, tzinfo=dt.UTC)
START_NS = int(START.timestamp()) * 1_000_000_000
MS = 1_000_000
S = 1_000_000_000
FAULT_S = 180  # the fault starts here, halfway through six minutes


@dataclass(frozen=True)
class Expected:
    component: str
    pattern: str


class LogFormat(Enum):
    OTEL_JSON = "otel-json"  # OTel log data model names, nested resource
    ECS_JSON = "ecs-json"  # Elastic Common Schema, nested objects
    ADHOC_JSON = "adhoc-json"  # epoch ms, lvl, msg, app, correlation_id
    LOGFMT = "logfmt"
    SPRING_TEXT = "spring-text"  # Spring Boot's default console pattern
    PYTHON_TEXT = "python-text"  # logging's "%(asctime)s %(levelname)s %(name)s: %(message)s"
    POSTGRES_TEXT = "postgres-text"  # log_line_prefix = '%m [%p] '


class SpanFormat(Enum):
    JAEGER_CSV = "jaeger-csv"  # TraceID,SpanID,ParentID,PodName,OperationName,...
    OTEL_CSV = "otel-csv"  # trace_id,span_id,parent_span_id,service.name,name,kind,...


@dataclass
class Line:
    ts_ns: int
    level: str
    message: str
    trace_id: str | None = None
    span_id: str | None = None
    thread: str | None = None


@dataclass
class SpanRow:
    trace_id: str
    span_id: str
    parent: str | None
    service: str
    pod: str
    name: str
    kind: str  # server, client, internal
    start_ns: int
    end_ns: int
    error: bool
    peer: str | None = None
    statement: str | None = None


@dataclass
class Call:
    """How one service behaves for one request (faults change it)."""

    own_ms: float  # median own processing time
    error: str | None = None  # the error it fails with, if any
    error_rate: float = 0.0
    hang_ms: float = 0.0  # extra time spent before answering or failing


Behave = Callable[["World", str, str, int], Call | None]  # world, service, pod, ts


@dataclass
class World:
    """The simulated system: a call graph, how each service behaves, what it writes."""

    rng: random.Random
    graph: dict[str, list[str]]
    own_ms: dict[str, float]
    formats: dict[str, LogFormat]
    duration_s: int = 360
    rps: float = 3.0
    behave: Behave | None = None
    replicas: dict[str, int] = field(default_factory=dict)
    retries: dict[tuple[str, str], int] = field(default_factory=dict)  # (caller, callee): n
    backoff_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    jitter_retries: bool = True
    timeouts_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    internal_ops: dict[str, list[str]] = field(default_factory=dict)
    network: Callable[[World, str, str, int], float] | None = None  # extra ms each way
    entry: str = "frontend"
    fault_at_ns: int = START_NS + FAULT_S * S
    logs: dict[str, list[Line]] = field(default_factory=lambda: defaultdict(list))  # by pod
    spans: list[SpanRow] = field(default_factory=list)
    samples: list[tuple[int, str, str, str, dict[str, str], float]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    arrivals: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _pods: dict[str, list[str]] = field(default_factory=dict)
    _owner: dict[str, str] = field(default_factory=dict)
    _ids: int = 0

    # -- naming ------------------------------------------------------------------------------

    def pods(self, service: str) -> list[str]:
        if service not in self._pods:
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            rs = "".join(self.rng.choice(alphabet) for _ in range(10))
            names = []
            for _ in range(self.replicas.get(service, 1)):
                suffix = "".join(self.rng.choice(alphabet) for _ in range(5))
                names.append(f"{service}-{rs}-{suffix}")
            self._pods[service] = names
            self._owner.update(dict.fromkeys(names, service))
        return self._pods[service]

    def pod(self, service: str) -> str:
        return self.pods(service)[0]

    def new_id(self, width: int) -> str:
        self._ids += 1
        return f"{self.rng.getrandbits(width * 4) ^ self._ids:0{width}x}"

    def log(
        self,
        pod_or_service: str,
        ts: int,
        level: str,
        message: str,
        *,
        trace: str | None = None,
        span: str | None = None,
        thread: str | None = None,
    ) -> None:
        pod = pod_or_service if pod_or_service in self._owner else self.pod(pod_or_service)
        self.logs[pod].append(Line(ts, level, message, trace, span, thread))

    def sample(self, ts: int, service: str, name: str, value: float, **labels: str) -> None:
        pod = labels.pop("pod", None) or self.pod(service)
        self.samples.append((ts, service, pod, name, labels, value))

    def event(self, ts: int, pod: str, reason: str, message: str, *, count: int = 1) -> None:
        self.events.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "type": "Warning",
                "reason": reason,
                "message": message,
                "count": count,
                "lastTimestamp": _iso(ts, digits=0),
                "metadata": {"name": f"{pod}.{ts:x}", "namespace": "shop"},
                "involvedObject": {"kind": "Pod", "name": pod, "namespace": "shop"},
                "source": {"component": "kubelet"},
            }
        )

    def rate(self, service: str, ts: int, window_s: float = 1.0) -> float:
        """Calls per second that reached ``service`` in the ``window_s`` before ``ts``."""
        times = self.arrivals[service]
        lo = bisect.bisect_left(times, ts - int(window_s * S))
        hi = bisect.bisect_left(times, ts)
        return (hi - lo) / window_s

    def jitter(self, ms: float) -> int:
        return int(ms * self.rng.lognormvariate(0, 0.25) * MS)

    def after_fault(self, ts: int, delay_s: float = 0.0) -> bool:
        return ts >= self.fault_at_ns + int(delay_s * S)

    # -- a request through the graph ---------------------------------------------------------

    def serve(
        self, service: str, ts: int, trace: str, parent: str | None, route: str
    ) -> tuple[int, str | None]:
        """One server span of ``service`` from ``ts``; returns (end, error or None)."""
        pod = self.rng.choice(self.pods(service))
        bisect.insort(self.arrivals[service], ts)
        how = (self.behave(self, service, pod, ts) if self.behave else None) or Call(
            self.own_ms[service]
        )
        span = self.new_id(16)
        thread = f"http-nio-8080-exec-{self.rng.randint(1, 20)}"
        t = ts + int(how.hang_ms * MS)
        for op in self.internal_ops.get(service, []):
            took = self.jitter(how.own_ms * 0.3 / len(self.internal_ops[service]))
            self.spans.append(
                SpanRow(
                    trace, self.new_id(16), span, service, pod, op, "internal", t, t + took, False
                )
            )
            t += took
        if not self.internal_ops.get(service):
            t += self.jitter(how.own_ms * 0.3)
        error = how.error if how.error and self.rng.random() < how.error_rate else None
        if error is None:
            for callee in self.graph.get(service, []):
                t, error = self.call(service, pod, callee, t, trace=trace, parent=span)
                if error is not None:
                    break
        t += self.jitter(how.own_ms * 0.7)
        self.spans.append(
            SpanRow(trace, span, parent, service, pod, route, "server", ts, t, error is not None)
        )
        if error is None:
            message, level = f"{route} completed status=200 in {(t - ts) / MS:.0f} ms", "INFO"
        else:
            message, level = f"{route} failed status=500: {error}", "ERROR"
        self.log(pod, t, level, message, trace=trace, span=span, thread=thread)
        return t, error

    def call(
        self, caller: str, pod: str, callee: str, ts: int, *, trace: str, parent: str
    ) -> tuple[int, str | None]:
        """Client spans of ``caller`` to ``callee``: retries, backoff and a timeout."""
        attempts = 1 + self.retries.get((caller, callee), 0)
        timeout = self.timeouts_ms.get((caller, callee))
        t = ts
        error: str | None = None
        for attempt in range(1, attempts + 1):
            span = self.new_id(16)
            delay = int((self.network(self, caller, callee, t) if self.network else 0.0) * MS)
            end, error = self.serve(callee, t + delay, trace, span, f"/api/{callee}")
            end += delay
            if timeout is not None and end - t > timeout * MS:
                end, error = t + int(timeout * MS), f"timed out after {timeout:.0f} ms"
            self.spans.append(
                SpanRow(
                    trace,
                    span,
                    parent,
                    caller,
                    pod,
                    f"POST /api/{callee}",
                    "client",
                    t,
                    end,
                    error is not None,
                    callee,
                )
            )
            t = end
            if error is None:
                break
            if attempt < attempts:
                wait = self.backoff_ms.get((caller, callee), 100.0) * 2 ** (attempt - 1)
                if self.jitter_retries:
                    wait = self.rng.uniform(0, wait)
                self.log(
                    pod,
                    t,
                    "WARN",
                    f"retrying POST /api/{callee} (attempt {attempt + 1} of "
                    f"{attempts}) in {wait:.0f} ms after: {error}",
                    trace=trace,
                    span=parent,
                )
                t += int(wait * MS)
        if error is not None:
            error = f"call to {callee} failed: {error}"
        return t, error

    def run(self) -> None:
        gap = 1 / self.rps
        t = 0.0
        while t < self.duration_s:
            self.serve(self.entry, START_NS + int(t * S), self.new_id(32), None, "/checkout")
            t += self.rng.expovariate(1 / gap)

    def scrape(self, every_s: int, emit: Callable[[int], None]) -> None:
        """Call ``emit(ts)`` at each scrape of a Prometheus server."""
        for t in range(0, self.duration_s, every_s):
            emit(START_NS + t * S)


# -- writers ----------------------------------------------------------------------------------


def _iso(ns: int, *, sep: str = "T", digits: int = 9, zone: str = "Z") -> str:
    seconds, frac = divmod(ns, S)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        stamp += f".{frac:09d}"[: digits + 1]
    return stamp + zone


def format_line(fmt: LogFormat, service: str, pod: str, line: Line) -> str:
    """One log line of ``service`` as ``fmt`` writes it."""
    if fmt is LogFormat.OTEL_JSON:
        return json.dumps(
            {
                "timestamp": _iso(line.ts_ns),
                "severity_text": line.level,
                "body": line.message,
                "trace_id": line.trace_id,
                "span_id": line.span_id,
                "resource": {"service.name": service, "k8s.pod.name": pod},
                "attributes": {"thread.name": line.thread},
            }
        )
    if fmt is LogFormat.ECS_JSON:
        return json.dumps(
            {
                "@timestamp": _iso(line.ts_ns, digits=3),
                "log": {"level": line.level.lower()},
                "message": line.message,
                "service": {"name": service},
                "trace": {"id": line.trace_id},
                "span": {"id": line.span_id},
                "host": {"name": pod},
                "process": {"thread": {"name": line.thread}},
                "ecs": {"version": "8.11.0"},
            }
        )
    if fmt is LogFormat.ADHOC_JSON:
        return json.dumps(
            {
                "ts": line.ts_ns // MS,
                "lvl": line.level.lower(),
                "msg": line.message,
                "app": service,
                "correlation_id": line.trace_id,
                "pod": pod,
            }
        )
    if fmt is LogFormat.LOGFMT:
        msg = line.message.replace('"', "'")
        trace = f" trace_id={line.trace_id}" if line.trace_id else ""
        return (
            f"ts={_iso(line.ts_ns, digits=6)} level={line.level.lower()} service={service} "
            f'pod={pod} msg="{msg}"{trace}'
        )
    if fmt is LogFormat.SPRING_TEXT:
        thread = (line.thread or "main")[-15:]
        return (
            f"{_iso(line.ts_ns, digits=3)} {line.level:>5} 1 --- [{thread:>15}] "
            f"c.e.{service}.Handler : {line.message}"
        )
    if fmt is LogFormat.PYTHON_TEXT:
        stamp = _iso(line.ts_ns, sep=" ", digits=3, zone="").replace(".", ",")
        level = {"WARN": "WARNING"}.get(line.level, line.level)
        return f"{stamp} {level} {service}: {line.message}"
    stamp = _iso(line.ts_ns, sep=" ", digits=3, zone=" UTC")
    level = {"INFO": "LOG", "WARN": "WARNING"}.get(line.level, line.level)
    return f"{stamp} [{line.thread or 4000}] {level}:  {line.message}"


_SUFFIX = {
    LogFormat.OTEL_JSON: ".jsonl",
    LogFormat.ECS_JSON: ".json",
    LogFormat.ADHOC_JSON: ".log",
    LogFormat.LOGFMT: ".log",
    LogFormat.SPRING_TEXT: ".log",
    LogFormat.PYTHON_TEXT: ".log",
    LogFormat.POSTGRES_TEXT: ".log",
}


def write_logs(world: World, out: Path) -> None:
    (out / "logs").mkdir(parents=True, exist_ok=True)
    for pod, lines in sorted(world.logs.items()):
        service = world._owner[pod]
        fmt = world.formats[service]
        lines.sort(key=lambda ln: ln.ts_ns)
        with (out / "logs" / f"{pod}{_SUFFIX[fmt]}").open("w") as f:
            f.writelines(format_line(fmt, service, pod, ln) + "\n" for ln in lines)


def write_spans(world: World, out: Path, fmt: SpanFormat) -> None:
    (out / "traces").mkdir(parents=True, exist_ok=True)
    rows = sorted(world.spans, key=lambda s: s.start_ns)
    with (out / "traces" / "spans.csv").open("w", newline="") as f:
        w = csv.writer(f)
        if fmt is SpanFormat.JAEGER_CSV:
            w.writerow(
                [
                    "TraceID",
                    "SpanID",
                    "ParentID",
                    "PodName",
                    "OperationName",
                    "StartTimeUnixNano",
                    "EndTimeUnixNano",
                    "Duration",
                    "StatusCode",
                ]
            )
            for s in rows:
                w.writerow(
                    [
                        s.trace_id,
                        s.span_id,
                        s.parent or "root",
                        s.pod,
                        s.name,
                        s.start_ns,
                        s.end_ns,
                        (s.end_ns - s.start_ns) // 1000,
                        "STATUS_CODE_ERROR" if s.error else "STATUS_CODE_UNSET",
                    ]
                )
            return
        w.writerow(
            [
                "trace_id",
                "span_id",
                "parent_span_id",
                "service.name",
                "name",
                "kind",
                "start_time_unix_nano",
                "duration_ms",
                "status_code",
                "peer.service",
                "db.statement",
            ]
        )
        for s in rows:
            w.writerow(
                [
                    s.trace_id,
                    s.span_id,
                    s.parent or "",
                    s.service,
                    s.name,
                    f"SPAN_KIND_{s.kind.upper()}",
                    s.start_ns,
                    f"{(s.end_ns - s.start_ns) / MS:.3f}",
                    "ERROR" if s.error else "OK",
                    s.peer or "",
                    s.statement or "",
                ]
            )


def write_metrics(world: World, out: Path) -> None:
    """Prometheus text exposition with timestamps, one file per service."""
    by_service: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ts, service, pod, name, labels, value in sorted(world.samples, key=lambda r: r[0]):
        tags = {"namespace": "shop", "pod": pod, "container": service, **labels}
        text = ",".join(f'{k}="{v}"' for k, v in tags.items())
        by_service[service][name].append(f"{name}{{{text}}} {value:.6g} {ts // MS}")
    if by_service:
        (out / "metrics").mkdir(parents=True, exist_ok=True)
    for service, series in by_service.items():
        with (out / "metrics" / f"{service}.prom").open("w") as f:
            for name, lines in series.items():
                typ = "counter" if name.endswith("_total") else "gauge"
                f.write(f"# HELP {name} {name.replace('_', ' ')}\n# TYPE {name} {typ}\n")
                f.writelines(line + "\n" for line in lines)


def write_events(world: World, out: Path) -> None:
    if world.events:
        doc = {"apiVersion": "v1", "kind": "List", "items": world.events}
        (out / "events.json").write_text(json.dumps(doc, indent=2) + "\n")


def write_all(world: World, out: Path, spans: SpanFormat | None) -> None:
    write_logs(world, out)
    if spans is not None:
        write_spans(world, out, spans)
    write_metrics(world, out)
    write_events(world, out)


# -- the shop every incident runs in ----------------------------------------------------------

SHOP = {"frontend": ["checkout"], "checkout": ["payments", "inventory"]}
SHOP_OWN_MS = {"frontend": 8.0, "checkout": 12.0, "inventory": 9.0, "payments": 15.0}
SHOP_FORMATS = {
    "frontend": LogFormat.OTEL_JSON,
    "checkout": LogFormat.ECS_JSON,
    "payments": LogFormat.LOGFMT,
    "inventory": LogFormat.SPRING_TEXT,
}
TIMEOUTS = {
    ("frontend", "checkout"): 5000.0,
    ("checkout", "payments"): 2000.0,
    ("checkout", "inventory"): 2000.0,
}


def shop(seed: int, behave: Behave | None = None, **kw: object) -> World:
    world = World(
        random.Random(seed),
        dict(SHOP),
        dict(SHOP_OWN_MS),
        dict(SHOP_FORMATS),
        behave=behave,
        timeouts_ms=dict(TIMEOUTS),
    )
    for key, value in kw.items():
        setattr(world, key, value)
    return world


def resource_metrics(world: World, *, extra: Callable[[int], None] | None = None) -> None:
    """Steady CPU and memory gauges for every service (what cAdvisor always exports)."""

    def emit(ts: int) -> None:
        for service in world.own_ms:
            for pod in world.pods(service):
                base = 180e6 + 20e6 * world.rng.random()
                world.sample(ts, service, "container_memory_working_set_bytes", base, pod=pod)
                world.sample(ts, service, "container_spec_memory_limit_bytes", 512e6, pod=pod)
        if extra is not None:
            extra(ts)

    world.scrape(15, emit)


def healthy(out: Path, seed: int = 20) -> None:
    """The shop on a normal day: a baseline for ``--baseline``."""
    world = shop(seed)
    world.run()
    resource_metrics(world)
    write_all(world, out, SpanFormat.OTEL_CSV)


# -- one generator per pattern ----------------------------------------------------------------


def error_burst(out: Path, seed: int = 1) -> Expected:
    """A deploy of payments brings a new exception on one code path (a third of the calls)."""

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service == "payments" and world.after_fault(ts):
            return Call(15.0, "NullPointerException in CardTokenizer.tokenize (brand is null)", 0.3)
        return None

    world = shop(seed, behave)
    world.run()
    world.log(
        "payments",
        world.fault_at_ns - 20 * S,
        "INFO",
        "Started PaymentsApplication version=2.14.0 in 4.2 seconds",
    )
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("payments", "error_burst")


def slow_dependency(out: Path, seed: int = 2) -> Expected:
    """inventory's own work slows down ×12 (a query lost its index): callers slow down too."""

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service == "inventory" and world.after_fault(ts):
            return Call(9.0 * 12)
        return None

    world = shop(seed, behave)
    world.run()
    write_all(world, out, SpanFormat.JAEGER_CSV)
    return Expected("inventory", "slow_dependency")


def pool_exhaustion(out: Path, seed: int = 3) -> Expected:
    """checkout leaks a database connection on an error path: the pool of 10 fills up, then
    requests wait 30 s for a connection and fail."""
    leaked: list[int] = []

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service != "checkout" or not world.after_fault(ts):
            return None
        if len(leaked) < 10:
            if world.rng.random() < 0.05:
                leaked.append(ts)
            return None
        return Call(
            12.0,
            "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
            1.0,
            hang_ms=30_000,
        )

    world = shop(seed, behave, rps=2.0)
    world.timeouts_ms = {}
    world.run()

    def pool(ts: int) -> None:
        used = 2 + sum(1 for t in leaked if t <= ts)
        waiting = 0 if used < 10 else (ts - leaked[-1]) // (2 * S)
        world.sample(
            ts, "checkout", "hikaricp_connections_active", min(used, 10), pool="HikariPool-1"
        )
        world.sample(ts, "checkout", "hikaricp_connections_max", 10, pool="HikariPool-1")
        world.sample(ts, "checkout", "hikaricp_connections_pending", waiting, pool="HikariPool-1")
        if ts % (30 * S) == 0:  # the housekeeper's DEBUG line every 30 s
            world.log(
                "checkout",
                ts,
                "DEBUG",
                f"HikariPool-1 - Pool stats (total=10, active="
                f"{min(used, 10)}, idle={10 - min(used, 10)}, waiting={waiting})",
            )

    resource_metrics(world, extra=pool)
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("checkout", "pool_exhaustion")


def memory_leak(out: Path, seed: int = 4) -> Expected:
    """inventory keeps every response in an unbounded cache: its memory climbs to the 512 MB
    limit, it is OOM-killed (exit 137) and restarted, and climbs again; calls fail while it
    restarts."""
    pod_restarts: list[int] = []

    def memory(ts: int) -> float:
        since = [t for t in [START_NS + FAULT_S * S, *pod_restarts] if t <= ts]
        if not since:
            return 200e6
        return 200e6 + (ts - since[-1]) / S * 2.6e6

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service != "inventory":
            return None
        if pod_restarts and ts < pod_restarts[-1]:
            return Call(1.0, "connection refused", 1.0)  # being restarted
        if memory(ts) >= 512e6:
            pod_restarts.append(ts + 12 * S)  # killed now, back in 12 s
            world.event(
                ts,
                pod,
                "OOMKilled",
                "Container inventory was OOMKilled (exit code 137, limit 512Mi)",
            )
            world.event(
                ts + 2 * S,
                pod,
                "BackOff",
                "Back-off restarting failed container inventory",
                count=len(pod_restarts),
            )
            world.log(pod, ts - 2 * S, "ERROR", "java.lang.OutOfMemoryError: Java heap space")
            return Call(1.0, "connection refused", 1.0)
        pressure = max(0.0, memory(ts) - 350e6) / 162e6  # GC works harder near the limit
        return Call(9.0 * (1 + 4 * pressure))

    world = shop(seed, behave)
    world.run()

    def mem(ts: int) -> None:
        pod = world.pod("inventory")
        world.sample(
            ts, "inventory", "jvm_memory_used_bytes", memory(ts) * 0.8, pod=pod, area="heap"
        )

    resource_metrics(world, extra=mem)
    world.samples = [
        (
            ts,
            svc,
            pod,
            name,
            labels,
            memory(ts)
            if (svc, name) == ("inventory", "container_memory_working_set_bytes")
            else value,
        )
        for ts, svc, pod, name, labels, value in world.samples
    ]
    write_all(world, out, SpanFormat.JAEGER_CSV)
    return Expected("inventory", "memory_leak")


def disk_exhaustion(out: Path, seed: int = 5) -> Expected:
    """payments writes a debug dump of every request to its volume after a logging change;
    the 2 GiB volume fills and every write fails with ENOSPC."""
    capacity = 2 * 1024**3
    full_at = START_NS + (FAULT_S + 100) * S

    def used(ts: int) -> float:
        base = 0.55 * capacity
        if ts < START_NS + FAULT_S * S:
            return base
        return min(capacity, base + (ts - START_NS - FAULT_S * S) / S * 0.45 * capacity / 100)

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service == "payments" and ts >= full_at:
            return Call(
                15.0,
                "OSError: [Errno 28] No space left on device: "
                "'/var/lib/payments/receipts/r-2026.json'",
                0.9,
            )
        return None

    world = shop(seed, behave)
    world.run()

    def disk(ts: int) -> None:
        for name, value in (
            ("kubelet_volume_stats_used_bytes", used(ts)),
            ("kubelet_volume_stats_capacity_bytes", capacity),
            ("kubelet_volume_stats_available_bytes", capacity - used(ts)),
        ):
            world.sample(ts, "payments", name, value, persistentvolumeclaim="receipts")

    resource_metrics(world, extra=disk)
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("payments", "disk_exhaustion")


def cpu_saturation(out: Path, seed: int = 6) -> Expected:
    """A new promo-code rule sends checkout's regular expression into catastrophic
    backtracking: its one CPU is pinned and throttled, and every operation slows down."""

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service == "checkout" and world.after_fault(ts):
            return Call(12.0 * 6)
        return None

    world = shop(
        seed,
        behave,
        internal_ops={"checkout": ["validate cart", "apply promotions", "render receipt"]},
    )
    world.run()
    cpu_used = {"checkout": 0.0}

    def cpu(ts: int) -> None:
        busy = 0.98 if world.after_fault(ts) else 0.25 + 0.05 * world.rng.random()
        cpu_used["checkout"] += busy * 15
        world.sample(ts, "checkout", "container_cpu_usage_seconds_total", cpu_used["checkout"])
        world.sample(ts, "checkout", "container_spec_cpu_quota", 100000)
        world.sample(ts, "checkout", "container_spec_cpu_period", 100000)
        periods = ts // S // 15 * 150
        throttled = max(0, (ts - world.fault_at_ns) // S) * 6 if world.after_fault(ts) else 0
        world.sample(ts, "checkout", "container_cpu_cfs_periods_total", periods)
        world.sample(ts, "checkout", "container_cpu_cfs_throttled_periods_total", throttled)

    resource_metrics(world, extra=cpu)
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("checkout", "cpu_saturation")


def network_delay(out: Path, seed: int = 7) -> Expected:
    """The node under payments drops and delays packets: every call into payments takes
    about 400 ms longer on the wire, while payments itself answers as fast as ever."""

    def network(world: World, caller: str, callee: str, ts: int) -> float:
        if callee == "payments" and world.after_fault(ts):
            return 200.0 * world.rng.lognormvariate(0, 0.2)
        return 0.3

    world = shop(seed, network=network)
    world.run()
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("payments", "network_delay")


def retry_storm(out: Path, seed: int = 8) -> Expected:
    """A 20 s database failover makes payments fail; checkout retries 3 times at a fixed
    100/200/400 ms with no jitter, the retries keep payments over its capacity of 8 calls/s,
    and it keeps failing long after the failover ended."""

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service != "payments" or not world.after_fault(ts):
            return None
        failover = ts < world.fault_at_ns + 20 * S
        if failover or world.rate("payments", ts) > 8:
            return Call(
                15.0, "503 Service Unavailable: too many requests in flight", 0.9, hang_ms=150
            )
        return None

    world = shop(
        seed,
        behave,
        rps=6.0,
        retries={("checkout", "payments"): 3},
        backoff_ms={("checkout", "payments"): 100.0},
        jitter_retries=False,
    )
    world.run()
    write_all(world, out, SpanFormat.JAEGER_CSV)
    return Expected("payments", "retry_storm")


def missing_timeout(out: Path, seed: int = 9) -> Expected:
    """inventory starts waiting on a partner API that never answers; checkout calls
    inventory without a timeout, so its requests pile up for a minute each, and the
    frontend's own 5 s timeout turns them into errors."""

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service == "inventory" and world.after_fault(ts) and world.rng.random() < 0.7:
            return Call(9.0, hang_ms=world.rng.uniform(30_000, 90_000))
        return None

    world = shop(seed, behave)
    world.timeouts_ms = {("frontend", "checkout"): 5000.0}
    world.run()
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("inventory", "missing_timeout")


def missing_circuit_breaker(out: Path, seed: int = 10) -> Expected:
    """payments loses its database and answers every call with a fast 503 for three
    minutes; checkout keeps calling it at full rate (no breaker), so every checkout fails."""

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service == "payments" and world.after_fault(ts):
            return Call(2.0, "503 Service Unavailable: database connection refused", 1.0)
        return None

    world = shop(seed, behave)
    world.run()
    write_all(world, out, SpanFormat.JAEGER_CSV)
    return Expected("payments", "missing_circuit_breaker")


def cascading_failure(out: Path, seed: int = 11) -> Expected:
    """catalog fails; inventory's workers block on it until its pool rejects everything;
    then checkout's workers block on inventory, and the frontend fails last: the failure
    climbs the dependency graph one level at a time."""
    graph = {
        "frontend": ["checkout"],
        "checkout": ["payments", "inventory"],
        "inventory": ["catalog"],
    }
    own = {**SHOP_OWN_MS, "catalog": 6.0}
    failures = {
        "catalog": (0, "500 Internal Server Error: catalog index unavailable", 5.0),
        "inventory": (
            25,
            "RejectedExecutionException: worker pool exhausted (200 of 200 busy)",
            1.0,
        ),
        "checkout": (50, "503 Service Unavailable: request queue full (512 waiting)", 1.0),
    }

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service not in failures:
            return None
        after, error, hang = failures[service]
        if world.after_fault(ts, after):
            return Call(own[service], error, 0.9, hang_ms=hang)
        return None

    world = shop(
        seed,
        behave,
        graph=graph,
        own_ms=own,
        formats={**SHOP_FORMATS, "catalog": LogFormat.PYTHON_TEXT},
    )
    world.timeouts_ms[("inventory", "catalog")] = 2000.0
    world.run()
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("catalog", "cascading_failure")


def silent_failure(out: Path, seed: int = 12) -> Expected:
    """notifications consumes order events from RabbitMQ, acks each message first, and
    after an SMTP credential rotation swallows every send failure: orders complete, no error
    is logged, no confirmation e-mail is sent."""
    world = shop(
        seed,
        formats={**SHOP_FORMATS, "notifications": LogFormat.PYTHON_TEXT},
        own_ms={**SHOP_OWN_MS, "notifications": 5.0},
    )
    world.run()
    for n, root in enumerate(s for s in world.spans if s.service == "checkout" and not s.error):
        if root.kind != "server":
            continue
        order = 10_000 + n
        t = root.end_ns + world.jitter(40)
        world.log(
            "checkout",
            root.end_ns,
            "INFO",
            f"published order.created order_id={order}",
            trace=root.trace_id,
        )
        world.log(
            "notifications", t, "INFO", f"received order.created order_id={order} delivery_tag={n}"
        )
        world.log("notifications", t + MS, "INFO", f"acked delivery_tag={n} order_id={order}")
        if world.after_fault(t):
            world.log(
                "notifications",
                t + 30 * MS,
                "WARN",
                f"could not send confirmation for "
                f"order_id={order}: SMTPAuthenticationError(535, 'authentication failed') "
                "- ignoring",
            )
        else:
            world.log(
                "notifications", t + 30 * MS, "INFO", f"sent confirmation for order_id={order}"
            )
        world.log(
            "notifications",
            t + 31 * MS,
            "INFO",
            f"processed delivery_tag={n} order_id={order} status=ok",
        )
    write_all(world, out, SpanFormat.JAEGER_CSV)
    return Expected("notifications", "silent_failure")


def race_condition(out: Path, seed: int = 13) -> Expected:
    """A deploy drops the version check from inventory's stock update: its two replicas read
    the same row, both write version n+1, and one decrement is lost (lost update)."""
    skus = [f"SKU-{n}" for n in (1042, 1043, 2001, 2002, 3100)]
    stock = dict.fromkeys(skus, (500, 1))  # qty, version
    pending: list[tuple[int, int, str, str, str, int, int]] = []

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service != "inventory":
            return None
        sku = world.rng.choice(skus)
        thread = f"http-nio-8080-exec-{world.rng.randint(1, 20)}"
        work = 250 if world.after_fault(ts) else 8  # the new code calls pricing in between
        pending.append((ts, ts + work * MS, pod, thread, sku, 0, 0))
        return Call(9.0, hang_ms=work)

    world = shop(seed, behave, replicas={"inventory": 2})
    world.run()
    pending.sort()
    writes: list[tuple[int, int, str, str, str, int, int]] = []
    for read_ts, write_ts, pod, thread, sku, _, _ in pending:
        # settle writes that finished before this read
        for w in [w for w in writes if w[0] <= read_ts]:
            stock[w[4]] = (w[5], w[6])
            writes.remove(w)
        qty, version = stock[sku]
        world.log(
            pod,
            read_ts,
            "DEBUG",
            f"read stock sku={sku} qty={qty} version={version}",
            thread=thread,
        )
        protected = read_ts < world.fault_at_ns
        if protected:
            stock[sku] = (qty - 1, version + 1)
            world.log(
                pod,
                write_ts,
                "DEBUG",
                f"updated stock sku={sku} qty={qty - 1} version={version + 1}",
                thread=thread,
            )
        else:
            writes.append((write_ts, read_ts, pod, thread, sku, qty - 1, version + 1))
            world.log(
                pod,
                write_ts,
                "DEBUG",
                f"updated stock sku={sku} qty={qty - 1} version={version + 1}",
                thread=thread,
            )
    for t in range(FAULT_S + 60, world.duration_s, 60):
        ts = START_NS + t * S
        world.log(
            world.pods("inventory")[0],
            ts,
            "WARN",
            "stock reconciliation: sku=SKU-1042 sold units exceed the stock decrease by 7",
        )
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("inventory", "race_condition")


def deadlock(out: Path, seed: int = 14) -> Expected:
    """A deploy of orders locks the two accounts of a transfer in request order instead of
    id order: concurrent transfers deadlock in PostgreSQL, which aborts one of each pair."""
    graph = {"frontend": ["checkout"], "checkout": ["orders"]}
    own = {"frontend": 8.0, "checkout": 12.0, "orders": 20.0}
    formats = {
        "frontend": LogFormat.OTEL_JSON,
        "checkout": LogFormat.ECS_JSON,
        "orders": LogFormat.ADHOC_JSON,
        "postgres": LogFormat.POSTGRES_TEXT,
    }
    pids = iter(range(4100, 9999))

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if service != "orders" or not world.after_fault(ts) or world.rng.random() > 0.35:
            return None
        a, b = next(pids), next(pids)
        xa, xb = 880_000 + a, 880_000 + b
        when = ts + 1000 * MS
        world.log(
            "postgres",
            ts + 1000 * MS,
            "LOG",
            f"process {a} still waiting for ShareLock on transaction {xb} after 1000.052 ms",
            thread=str(a),
        )
        world.log(
            "postgres",
            ts + 1000 * MS,
            "DETAIL",
            f"Process holding the lock: {b}. Wait queue: {a}.",
            thread=str(a),
        )
        world.log("postgres", when, "ERROR", "deadlock detected", thread=str(a))
        world.log(
            "postgres",
            when,
            "DETAIL",
            f"Process {a} waits for ShareLock on transaction "
            f"{xb}; blocked by process {b}. Process {b} waits for ShareLock on transaction "
            f"{xa}; blocked by process {a}.",
            thread=str(a),
        )
        world.log(
            "postgres",
            when,
            "STATEMENT",
            "UPDATE accounts SET balance = balance - 25 WHERE id = 7",
            thread=str(a),
        )
        return Call(
            20.0,
            "could not execute statement; SQL [n/a]; nested exception is "
            "org.hibernate.exception.LockAcquisitionException: ERROR: deadlock detected",
            1.0,
            hang_ms=1000,
        )

    world = shop(seed, behave, graph=graph, own_ms=own, formats=formats)
    world.timeouts_ms = {("frontend", "checkout"): 5000.0}
    world.pods("postgres")
    world.run()
    write_all(world, out, SpanFormat.OTEL_CSV)
    return Expected("orders", "deadlock")


def config_drift(out: Path, seed: int = 15) -> Expected:
    """A ConfigMap edit reaches one of payments' two pods: its card-gateway timeout drops
    from 2000 ms to 40 ms, and most payments it handles fail."""
    world = shop(seed, replicas={"payments": 2})
    good, bad = world.pods("payments")

    def behave(world: World, service: str, pod: str, ts: int) -> Call | None:
        if pod == bad and world.after_fault(ts):
            return Call(15.0, "card gateway call timed out after 40 ms", 0.7)
        return None

    world.behave = behave
    world.run()
    world.log(
        bad,
        world.fault_at_ns - 5 * S,
        "INFO",
        "configuration reloaded from /etc/payments/application.yaml",
    )
    write_all(world, out, SpanFormat.OTEL_CSV)
    config = out / "config"
    config.mkdir(parents=True, exist_ok=True)
    for pod, timeout in ((good, 2000), (bad, 40)):
        (config / f"{pod}.yaml").write_text(
            "server:\n  port: 8080\n"
            f"  hostname: {pod}.payments.shop.svc.cluster.local\n"
            "gateway:\n  url: https://cards.example.net/v2\n"
            f"  timeout_ms: {timeout}\n  retries: 1\n"
            "database:\n  pool_size: 10\n"
        )
    return Expected("payments", "config_drift")


GOLDEN: dict[str, Callable[[Path], Expected]] = {
    "config_drift": config_drift,
    "pool_exhaustion": pool_exhaustion,
    "memory_leak": memory_leak,
    "disk_exhaustion": disk_exhaustion,
    "cpu_saturation": cpu_saturation,
    "race_condition": race_condition,
    "deadlock": deadlock,
    "retry_storm": retry_storm,
    "cascading_failure": cascading_failure,
    "missing_timeout": missing_timeout,
    "missing_circuit_breaker": missing_circuit_breaker,
    "slow_dependency": slow_dependency,
    "error_burst": error_burst,
    "silent_failure": silent_failure,
    "network_delay": network_delay,
}


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "golden")
    names = argv[1:] or list(GOLDEN)
    for name in names:
        expected = GOLDEN[name](root / name)
        (root / f"{name}.expected.json").write_text(
            json.dumps({"component": expected.component, "pattern": expected.pattern}) + "\n"
        )
        print(f"{root / name}: {expected.component} {expected.pattern}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

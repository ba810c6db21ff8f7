"""Golden incidents: realistic multi-service telemetry for every failure pattern.

Each generator simulates a small service graph under steady traffic, injects one fault
halfway through, and writes what such an incident leaves behind, in the formats real systems
use: JSON-lines logs with OTel, ECS and ad-hoc field names, logfmt, plain-text logs (Spring
Boot, Python logging, PostgreSQL), CSV span exports in two spellings, and configuration
files. Each returns the expected root cause (component and pattern). Deterministic for a
seed. Used by ``tests/diagnose/test_golden.py`` and ``bench/diagnose.py``; run it to write
the folders for a look::

    python tests/diagnose/incidents.py /tmp/golden
"""

from __future__ import annotations

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

__all__ = ["GOLDEN", "Expected", "LogFormat", "SpanFormat", "World", "write_incident"]

START = dt.datetime(2026, 3, 4, 9, 0, 0, tzinfo=dt.UTC)
START_NS = int(START.timestamp()) * 1_000_000_000
MS = 1_000_000
S = 1_000_000_000


@dataclass(frozen=True)
class Expected:
    component: str
    pattern: str


class LogFormat(Enum):
    OTEL_JSON = "otel-json"  # OTel log data model names, nested resource
    ECS_JSON = "ecs-json"  # Elastic Common Schema, nested objects
    ADHOC_JSON = "adhoc-json"  # epoch ms, lvl, msg, correlation_id
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


@dataclass
class Call:
    """How one service behaves at one moment (faults change it)."""

    own_ms: float  # median own processing time
    error: str | None = None  # the error it raises, if any
    error_rate: float = 0.0
    hang_ms: float = 0.0  # extra time before the error or answer


@dataclass
class World:
    """The simulated system: a call graph, how each service behaves, what it writes."""

    rng: random.Random
    graph: dict[str, list[str]]
    own_ms: dict[str, float]
    formats: dict[str, LogFormat]
    duration_s: int = 360
    rps: float = 3.0
    behave: Callable[[World, str, int], Call] | None = None
    retries: dict[tuple[str, str], int] = field(default_factory=dict)  # caller,callee -> n
    backoff_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    timeouts_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    logs: dict[str, list[Line]] = field(default_factory=lambda: defaultdict(list))
    spans: list[SpanRow] = field(default_factory=list)
    pods: dict[str, str] = field(default_factory=dict)
    entry: str = "frontend"
    fault_at_ns: int = START_NS + 180 * S
    _ids: int = 0

    def pod(self, service: str) -> str:
        if service not in self.pods:
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            rs = "".join(self.rng.choice(alphabet) for _ in range(10))
            suffix = "".join(self.rng.choice(alphabet) for _ in range(5))
            self.pods[service] = f"{service}-{rs}-{suffix}"
        return self.pods[service]

    def new_id(self, width: int) -> str:
        self._ids += 1
        return f"{self.rng.getrandbits(width * 4) ^ self._ids:0{width}x}"

    def log(
        self,
        service: str,
        ts: int,
        level: str,
        message: str,
        *,
        trace: str | None = None,
        span: str | None = None,
        thread: str | None = None,
    ) -> None:
        self.logs[service].append(Line(ts, level, message, trace, span, thread))

    def behaviour(self, service: str, ts: int) -> Call:
        normal = Call(self.own_ms[service])
        if self.behave is None:
            return normal
        return self.behave(self, service, ts)

    def jitter(self, ms: float) -> int:
        return int(ms * self.rng.lognormvariate(0, 0.25) * MS)

    # -- a request through the graph ---------------------------------------------------------

    def serve(
        self, service: str, ts: int, trace: str, parent: str | None, route: str
    ) -> tuple[int, str | None]:
        """One server span of ``service`` from ``ts``; returns (end, error or None)."""
        span = self.new_id(16)
        how = self.behaviour(service, ts)
        t = ts + self.jitter(how.own_ms * 0.3) + int(how.hang_ms * MS)
        error = None
        if how.error and self.rng.random() < how.error_rate:
            error = how.error
        thread = f"exec-{self.rng.randint(1, 20)}"
        if error is None:
            for callee in self.graph.get(service, []):
                t, error = self.call(service, callee, t, trace=trace, parent=span, thread=thread)
                if error is not None:
                    break
        t += self.jitter(how.own_ms * 0.7)
        pod = self.pod(service)
        self.spans.append(
            SpanRow(trace, span, parent, service, pod, route, "server", ts, t, error is not None)
        )
        took = (t - ts) / MS
        if error is None:
            message, level = f"{route} completed status=200 in {took:.0f} ms", "INFO"
        else:
            message, level = f"{route} failed status=500: {error}", "ERROR"
        self.log(service, t, level, message, trace=trace, span=span, thread=thread)
        return t, error

    def call(
        self, caller: str, callee: str, ts: int, *, trace: str, parent: str, thread: str
    ) -> tuple[int, str | None]:
        """A client span of ``caller`` to ``callee`` with its retries and timeout."""
        attempts = 1 + self.retries.get((caller, callee), 0)
        timeout = self.timeouts_ms.get((caller, callee))
        t = ts
        error: str | None = None
        for attempt in range(1, attempts + 1):
            span = self.new_id(16)
            end, error = self.serve(callee, t, trace, span, f"/api/{callee}")
            if timeout is not None and end - t > timeout * MS:
                end, error = (
                    t + int(timeout * MS),
                    f"call to {callee} timed out after {timeout:.0f} ms",
                )
            self.spans.append(
                SpanRow(
                    trace,
                    span,
                    parent,
                    caller,
                    self.pod(caller),
                    f"POST {callee}",
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
                self.log(
                    caller,
                    t,
                    "WARN",
                    f"retrying call to {callee} (attempt "
                    f"{attempt + 1}/{attempts}) in {wait:.0f} ms: {error}",
                    trace=trace,
                    span=parent,
                    thread=thread,
                )
                t += int(wait * MS)
        if error is not None:
            error = f"{callee} returned an error: {error}" if callee not in error else error
        return t, error

    def run(self) -> None:
        gap = 1 / self.rps
        t = 0.0
        while t < self.duration_s:
            ts = START_NS + int(t * S)
            self.serve(self.entry, ts, self.new_id(32), None, "/checkout")
            t += self.rng.expovariate(1 / gap)


# -- writers ----------------------------------------------------------------------------------


def _iso(ns: int, *, sep: str = "T", digits: int = 9, zone: str = "Z") -> str:
    seconds, frac = divmod(ns, S)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    return f"{stamp}.{frac:09d}"[: 20 + digits] + zone


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
            f"ts={_iso(line.ts_ns, digits=6)} level={line.level.lower()} service={service}"
            f' msg="{msg}"{trace}'
        )
    if fmt is LogFormat.SPRING_TEXT:
        level = {"WARN": "WARN", "ERROR": "ERROR"}.get(line.level, line.level)
        stamp = _iso(line.ts_ns, digits=3, zone="Z")
        thread = (line.thread or "main")[-15:]
        return f"{stamp} {level:>5} 1 --- [{thread:>15}] c.e.{service}.Handler : {line.message}"
    if fmt is LogFormat.PYTHON_TEXT:
        stamp = _iso(line.ts_ns, sep=" ", digits=3, zone="").replace(".", ",")
        level = {"WARN": "WARNING"}.get(line.level, line.level)
        return f"{stamp} {level} {service}: {line.message}"
    stamp = _iso(line.ts_ns, sep=" ", digits=3, zone=" UTC")
    level = {"INFO": "LOG", "WARN": "WARNING", "ERROR": "ERROR"}.get(line.level, line.level)
    return f"{stamp} [{4000 + len(service)}] {level}:  {line.message}"


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
    for service, lines in sorted(world.logs.items()):
        fmt = world.formats[service]
        pod = world.pod(service)
        name = pod if fmt in {LogFormat.SPRING_TEXT, LogFormat.PYTHON_TEXT} else service
        lines.sort(key=lambda ln: ln.ts_ns)
        with (out / "logs" / f"{name}{_SUFFIX[fmt]}").open("w") as f:
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
        else:
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
                    ]
                )


def write_incident(world: World, out: Path, spans: SpanFormat | None) -> None:
    world.run()
    write_logs(world, out)
    if spans is not None:
        write_spans(world, out, spans)


# -- the shop every incident runs in ----------------------------------------------------------

SHOP = {
    "frontend": ["checkout"],
    "checkout": ["payments", "inventory"],
    "inventory": [],
    "payments": [],
}
SHOP_OWN_MS = {"frontend": 8.0, "checkout": 12.0, "inventory": 9.0, "payments": 15.0}
SHOP_FORMATS = {
    "frontend": LogFormat.OTEL_JSON,
    "checkout": LogFormat.ECS_JSON,
    "payments": LogFormat.LOGFMT,
    "inventory": LogFormat.SPRING_TEXT,
}


def shop(seed: int, behave: Callable[[World, str, int], Call] | None = None, **kw: object) -> World:
    world = World(
        random.Random(seed), dict(SHOP), dict(SHOP_OWN_MS), dict(SHOP_FORMATS), behave=behave
    )
    for key, value in kw.items():
        setattr(world, key, value)
    return world


def _after(world: World, ts: int) -> bool:
    return ts >= world.fault_at_ns


# -- one generator per pattern ----------------------------------------------------------------


def error_burst(out: Path, seed: int = 1) -> Expected:
    """A deploy of payments brings a new exception on one code path (about 30 % of calls)."""

    def behave(world: World, service: str, ts: int) -> Call:
        if service == "payments" and _after(world, ts):
            return Call(
                world.own_ms[service],
                "NullPointerException in CardTokenizer.tokenize (card_brand is null)",
                0.3,
            )
        return Call(world.own_ms[service])

    world = shop(seed, behave)
    world.log(
        "payments",
        world.fault_at_ns - 20 * S,
        "INFO",
        "Started PaymentsApplication version=2.14.0 in 4.2 seconds",
    )
    write_incident(world, out, SpanFormat.OTEL_CSV)
    return Expected("payments", "error_burst")


def slow_dependency(out: Path, seed: int = 2) -> Expected:
    """inventory's own work slows down ×12 (a missing index): checkout and frontend follow."""

    def behave(world: World, service: str, ts: int) -> Call:
        own = world.own_ms[service]
        if service == "inventory" and _after(world, ts):
            return Call(own * 12)
        return Call(own)

    world = shop(seed, behave)
    write_incident(world, out, SpanFormat.JAEGER_CSV)
    return Expected("inventory", "slow_dependency")


def pool_exhaustion(out: Path, seed: int = 3) -> Expected:
    """checkout leaks a database connection on an error path: the pool of 10 fills up, then
    every request waits 30 s for a connection and fails."""
    state = {"leaked": 0}
    full_at: list[int] = []

    def behave(world: World, service: str, ts: int) -> Call:
        own = world.own_ms[service]
        if service != "checkout" or not _after(world, ts):
            return Call(own)
        if state["leaked"] < 10:
            if world.rng.random() < 0.05:
                state["leaked"] += 1
                if state["leaked"] == 10:
                    full_at.append(ts)
            return Call(own)
        return Call(
            own,
            "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
            1.0,
            hang_ms=30_000,
        )

    world = shop(seed, behave, rps=2.0)
    write_incident(world, out, SpanFormat.OTEL_CSV)
    # HikariCP's housekeeper logs pool stats every 30 s (DEBUG on com.zaxxer.hikari)
    for t in range(0, world.duration_s, 30):
        ts = START_NS + t * S
        active = 2 if ts < world.fault_at_ns else min(10, 2 + (ts - world.fault_at_ns) // (6 * S))
        if full_at and ts >= full_at[0]:
            active = 10
        waiting = 0 if active < 10 else 4 + (ts - full_at[0]) // (10 * S)
        world.log(
            "checkout",
            ts,
            "DEBUG",
            f"HikariPool-1 - Pool stats (total=10, active="
            f"{active}, idle={10 - active}, waiting={waiting})",
        )
    write_logs(world, out)
    return Expected("checkout", "pool_exhaustion")


GOLDEN: dict[str, Callable[[Path], Expected]] = {
    "error_burst": error_burst,
    "slow_dependency": slow_dependency,
    "pool_exhaustion": pool_exhaustion,
}


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "golden")
    for name, make in GOLDEN.items():
        expected = make(root / name)
        (root / f"{name}.expected.json").write_text(
            json.dumps({"component": expected.component, "pattern": expected.pattern}) + "\n"
        )
        print(f"{root / name}: {expected.component} {expected.pattern}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

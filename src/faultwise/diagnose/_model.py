"""What a diagnosis is made of: patterns, evidence, findings, the ranking and the timeline.

Everything here is a frozen dataclass or an enum; the stable strings of DESIGN §5 appear only
when a renderer turns a :class:`Diagnosis` into JSON (:mod:`faultwise.diagnose._render_json`).
Times are UTC nanoseconds (``None`` when the input had no timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Baseline",
    "Chart",
    "Diagnosis",
    "Edge",
    "Evidence",
    "EvidenceKind",
    "Finding",
    "Graph",
    "Inputs",
    "Pattern",
    "Ranked",
    "RootCause",
    "Series",
    "Signal",
    "TimelineEntry",
    "TimelineKind",
    "Window",
]


class Pattern(StrEnum):
    """The failure patterns (DESIGN §5): the values are the stable JSON strings."""

    CONFIG_DRIFT = "config_drift"
    POOL_EXHAUSTION = "pool_exhaustion"
    MEMORY_LEAK = "memory_leak"
    DISK_EXHAUSTION = "disk_exhaustion"
    CPU_SATURATION = "cpu_saturation"
    RACE_CONDITION = "race_condition"
    DEADLOCK = "deadlock"
    RETRY_STORM = "retry_storm"
    CASCADING_FAILURE = "cascading_failure"
    MISSING_TIMEOUT = "missing_timeout"
    MISSING_CIRCUIT_BREAKER = "missing_circuit_breaker"
    SLOW_DEPENDENCY = "slow_dependency"
    ERROR_BURST = "error_burst"
    SILENT_FAILURE = "silent_failure"
    NETWORK_DELAY = "network_delay"


class EvidenceKind(StrEnum):
    """Where a piece of evidence comes from."""

    METRIC = "metric"
    LOG = "log"
    SPAN = "span"
    CONFIG = "config"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact a person can check: a value, a log line (``source`` = file:line), a trace."""

    kind: EvidenceKind
    text: str
    source: str | None = None
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One pattern seen at one component, with its evidence and the action that helps."""

    pattern: Pattern
    component: str
    score: float  # 0..1: how strongly the evidence supports this pattern here
    summary: str
    evidence: tuple[Evidence, ...] = ()
    action: str = ""
    start_ns: int | None = None
    end_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    """A component's place in the ranking and why it is there."""

    component: str
    score: float
    onset_ns: int | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RootCause:
    component: str
    pattern: Pattern
    score: float


class TimelineKind(StrEnum):
    """What a timeline entry marks."""

    ERROR_ONSET = "error_onset"
    LATENCY_ONSET = "latency_onset"
    RESOURCE_ONSET = "resource_onset"
    TRAFFIC_ONSET = "traffic_onset"
    NEW_TEMPLATE = "new_template"
    CHANGE = "change"
    FINDING = "finding"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    ts_ns: int
    service: str
    kind: TimelineKind
    text: str
    source: str | None = None


class Signal(StrEnum):
    """The per-service signals the timeline watches for change points."""

    ERRORS = "errors"
    LATENCY = "latency"
    TRAFFIC = "traffic"
    RESOURCE = "resource"


@dataclass(frozen=True, slots=True)
class Edge:
    """``caller`` calls ``callee``: ``calls`` seen, ``errors`` among them."""

    caller: str
    callee: str
    calls: int
    errors: int = 0


@dataclass(frozen=True, slots=True)
class Graph:
    """The service dependency graph, from spans (else from logs), with what went wrong on it."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    source: str  # "spans", "logs" or "none"
    failing_path: tuple[str, ...] = ()  # entry point ... root cause
    cycles: tuple[tuple[str, ...], ...] = ()

    def callees(self, service: str) -> tuple[str, ...]:
        return tuple(e.callee for e in self.edges if e.caller == service)

    def callers(self, service: str) -> tuple[str, ...]:
        return tuple(e.caller for e in self.edges if e.callee == service)


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: ``values[i]`` at ``Chart.times[i]`` (None: no data there)."""

    label: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A time chart for the report (latency percentiles, error rate, pool use, retries)."""

    key: str
    title: str
    unit: str
    times: tuple[int, ...]
    series: tuple[Series, ...]
    markers: tuple[tuple[int, str], ...] = ()  # (time, label): onsets and changes
    shade: tuple[int, int] | None = None  # the incident window, from the first symptom


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise ValueError("a window ends after it starts")


@dataclass(frozen=True, slots=True)
class Baseline:
    """What "normal" was compared against."""

    kind: str  # "files", "window" or "leading" (the start of the incident's own data)
    window: Window | None
    detail: str


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the diagnosis was made from, and what was missing."""

    files: int
    rows: dict[str, int]
    rejected: int
    services: tuple[str, ...]
    window: Window | None
    baseline: Baseline | None
    missing: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The result of :func:`faultwise.diagnose.diagnose`: best root cause first."""

    root_cause: RootCause | None
    ranking: tuple[Ranked, ...]
    findings: tuple[Finding, ...]
    timeline: tuple[TimelineEntry, ...]
    inputs: Inputs
    graph: Graph
    charts: tuple[Chart, ...] = field(default=())

    @property
    def action(self) -> str:
        """The one action that makes this incident less likely (empty when nothing was found)."""
        top = self.top_finding
        return top.action if top else ""

    @property
    def top_finding(self) -> Finding | None:
        if self.root_cause is None:
            return None
        for f in self.findings:
            if f.component == self.root_cause.component and f.pattern is self.root_cause.pattern:
                return f
        return None

"""Telemetry of a simulated run, stamped with virtual time, in the lab's output formats.

Plugged into :class:`~faultwise.lab._sim.Service` and :class:`~faultwise.lab._sim.Caller` as
their ``tracer``: one server span and access-log line per handled attempt, one client span per
attempt, a warning per failed attempt and an error per failed request, all carrying the
trace and request ids that tie a request's attempts together across services.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from faultwise.lab._sim import Attempt, Caller, Outcome, Service, Sim
from faultwise.lab._telemetry import LogWriter, SpanWriter, write_metrics_csv

__all__ = ["SimTelemetry"]

_STATUS = {Outcome.OK: 200, Outcome.REJECTED: 503, Outcome.ERROR: 500, Outcome.TIMEOUT: 504}


class SimTelemetry:
    """Writes ``out/logs/<service>.jsonl``, ``out/spans.csv`` and ``out/metrics.csv``."""

    def __init__(self, sim: Sim, out: Path, *, seed: int = 0) -> None:
        self.sim = sim
        self.out = out
        self._ids = random.Random(seed ^ 0x5EED)  # ids never disturb the simulation's stream
        self._logs: dict[str, LogWriter] = {}
        self.spans = SpanWriter(out / "spans.csv")
        self.rows: list[dict[str, Any]] = []
        self._served: dict[int, tuple[str, float]] = {}

    def new_id(self, bits: int = 64) -> str:
        return format(self._ids.getrandbits(bits), f"0{bits // 4}x")

    def new_trace(self) -> tuple[str, str | None, str]:
        """(trace id, parent span id, request id) for a request that starts at the edge."""
        return self.new_id(128), None, self.new_id(64)

    def log(self, service: str, severity: str, message: str, **attrs: Any) -> None:
        writer = self._logs.get(service)
        if writer is None:
            writer = self._logs[service] = LogWriter(
                self.out / "logs" / f"{service}.jsonl", service
            )
        writer.log(self.sim.wall_ns(), severity, message, **attrs)

    def metrics(self, row: dict[str, Any]) -> None:
        """One row of the wide metrics table (``timestamp`` is added)."""
        self.rows.append({"timestamp": self.sim.wall_ns() / 1e9, **row})

    # -- tracer hooks -----------------------------------------------------------------------

    def _trace(self, attempt: Attempt) -> tuple[str, str | None, str]:
        trace = attempt.request.trace
        if trace is None:
            trace = attempt.request.trace = self.new_trace()
        return trace  # type: ignore[no-any-return]

    def client_start(self, caller: Caller, attempt: Attempt) -> None:
        attempt.span_id = 0 if caller.quiet else int(self._ids.getrandbits(63)) or 1
        self._trace(attempt)

    def client_end(self, caller: Caller, attempt: Attempt, outcome: Outcome) -> None:
        if caller.quiet:
            return
        trace_id, parent, _ = self._trace(attempt)
        sim = self.sim
        method, _, path = caller.route.partition(" ")
        self.spans.span(
            trace_id, format(attempt.span_id, "016x"), parent, caller.name,
            f"{method} {caller.target.name}{path}", "client",
            sim.wall_ns(attempt.sent), sim.wall_ns(),
            "ok" if outcome is Outcome.OK else "error", caller.target.name,
        )  # fmt: skip

    def retrying(self, caller: Caller, request: Any, outcome: Outcome, delay: float) -> None:
        """A failed attempt will be retried after ``delay`` s (the client's retry line)."""
        if request.trace is None or caller.quiet:
            return
        trace_id, _, request_id = request.trace
        self.log(
            caller.name, "WARN",
            f"attempt {request.attempts} to {caller.target.name} failed ({outcome.value}), "
            f"retrying in {delay:.3f} s",
            trace_id=trace_id, request_id=request_id, attempt=request.attempts,
            outcome=outcome.value, peer=caller.target.name,
        )  # fmt: skip

    def server_start(self, service: Service, attempt: Attempt) -> None:
        if service.spec.observed:
            self._served[id(attempt)] = (self.new_id(), self.sim.now)

    def ids(self, attempt: Attempt) -> dict[str, str]:
        """The trace, span and request ids of the request ``attempt`` is serving (for the
        lines a handler logs, as faultwise.observe's logging adds them)."""
        trace_id, _, request_id = self._trace(attempt)
        span = self.server_span(attempt)
        out = {"trace_id": trace_id, "request_id": request_id}
        if span:
            out["span_id"] = span
        return out

    def server_span(self, attempt: Attempt) -> str | None:
        """The server span id of ``attempt`` while it is being handled (for child calls)."""
        served = self._served.get(id(attempt))
        return served[0] if served else None

    def server_end(self, service: Service, attempt: Attempt, outcome: Outcome) -> None:
        """The server span and access-log line, as faultwise.observe's middleware writes
        them (``GET /work 200`` with the route, the status and the duration)."""
        served = self._served.pop(id(attempt), None)
        if served is None:
            return  # a database: only its clients' spans show it
        span_id, started = served
        trace_id, _, request_id = self._trace(attempt)
        sim = self.sim
        status = _STATUS[outcome]
        route = attempt.caller.route
        parent = format(attempt.span_id, "016x") if attempt.span_id else None
        self.spans.span(
            trace_id, span_id, parent, service.name, route,
            "server", sim.wall_ns(started), sim.wall_ns(), "ok" if status < 500 else "error",
        )  # fmt: skip
        method, _, path = route.partition(" ")
        self.log(
            service.name, "INFO" if status < 500 else "ERROR", f"{route} {status}",
            trace_id=trace_id, span_id=span_id, request_id=request_id,
            logger="faultwise.access",
            **{"http.request.method": method, "url.path": path, "http.route": path,
               "http.response.status_code": status,
               "http.server.request.duration": round(sim.now - started, 6)},
        )  # fmt: skip

    def request_end(self, caller: Caller, request: Any, ok: bool) -> None:
        if ok or request.trace is None or caller.quiet:
            return
        trace_id, _, request_id = request.trace
        self.log(
            caller.name, "ERROR", f"request failed after {request.attempts} attempts",
            trace_id=trace_id, request_id=request_id, attempts=request.attempts,
            peer=caller.target.name,
        )  # fmt: skip

    def close(self) -> None:
        for writer in self._logs.values():
            writer.close()
        self.spans.close()
        if self.rows:
            write_metrics_csv(self.out / "metrics.csv", self.rows)

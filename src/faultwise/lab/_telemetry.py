"""Telemetry the lab writes, in formats faultwise's readers take: JSON-lines logs, CSV spans,
a wide CSV of metrics over time, and ``truth.json``.

Log lines carry the fields of faultwise's log format (``timestamp`` RFC 3339 UTC with ns,
``severity``, ``message``, ``service``, ``trace_id``, ``span_id``, ``request_id``, then
attributes); spans are one CSV row each; metrics are one row per second with one column per
series named ``<service>_<metric>``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = [
    "SPAN_COLUMNS",
    "LogWriter",
    "SpanWriter",
    "new_span_id",
    "new_trace_id",
    "payments_config",
    "rfc3339_ns",
    "steady_state",
    "write_config",
    "write_metrics_csv",
    "write_restart_events",
    "write_truth",
]

SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "status",
    "peer_service",
    "instance",
)


def rfc3339_ns(ns: int) -> str:
    """``2026-01-01T00:00:00.123456789Z`` from epoch nanoseconds."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def _dumps(obj: Mapping[str, Any]) -> str:
    try:
        import orjson
    except ImportError:
        return json.dumps(obj, separators=(",", ":"), default=str)
    return orjson.dumps(obj, default=str).decode()


class LogWriter:
    """Appends JSON log lines for one service to ``path`` (buffered; :meth:`close` flushes)."""

    def __init__(self, path: Path, service: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.service = service
        self._fh: IO[str] = open(path, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115

    def log(
        self,
        ts_ns: int,
        severity: str,
        message: str,
        *,
        trace_id: str | None = None,
        span_id: str | None = None,
        request_id: str | None = None,
        **attrs: Any,
    ) -> None:
        record: dict[str, Any] = {
            "timestamp": rfc3339_ns(ts_ns),
            "severity": severity,
            "message": message,
            "service": self.service,
        }
        if trace_id:
            record["trace_id"] = trace_id
        if span_id:
            record["span_id"] = span_id
        if request_id:
            record["request_id"] = request_id
        record.update(attrs)
        self._fh.write(_dumps(record) + "\n")

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class SpanWriter:
    """Appends spans (one CSV row each, :data:`SPAN_COLUMNS`) to ``path``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._fh: IO[str] = open(path, "a", encoding="utf-8", newline="", buffering=1 << 16)  # noqa: SIM115
        self._csv = csv.writer(self._fh)
        if new:
            self._csv.writerow(SPAN_COLUMNS)

    def span(  # noqa: PLR0917 - one positional per CSV column, in column order
        self,
        trace_id: str,
        span_id: str,
        parent_span_id: str | None,
        service: str,
        name: str,
        kind: str,
        start_ns: int,
        end_ns: int,
        status: str,
        peer_service: str | None = None,
        instance: str | None = None,
    ) -> None:
        self._csv.writerow(
            (
                trace_id,
                span_id,
                parent_span_id or "",
                service,
                name,
                kind,
                start_ns,
                end_ns,
                status,
                peer_service or "",
                instance or service,
            )
        )

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def write_metrics_csv(path: Path, rows: Iterable[Mapping[str, float | int | str]]) -> None:
    """A wide metrics table: ``timestamp`` then one column per ``<service>_<metric>``."""
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: list[str] = ["timestamp"]
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def steady_state(start_ns: int, seconds: float) -> dict[str, int]:
    """The window before the fault, in wall-clock ns: what normal looked like. The lab
    hands it to the analyser as the baseline, as ``--baseline-window`` would."""
    return {"start_ns": start_ns, "end_ns": start_ns + round(seconds * 1e9)}


def write_truth(out: Path, pattern: str, component: str, **extra: Any) -> Path:
    """``DIR/truth.json``: what really happened, to score a diagnosis against."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "truth.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pattern": pattern, "component": component, **extra}, indent=2))
    os.replace(tmp, path)
    return path


def write_restart_events(out: Path, service: str, restarts: Iterable[tuple[int, int]]) -> None:
    """``DIR/events.json``: the restarts an orchestrator saw, as ``kubectl get events -o
    json`` lists them (``(wall ns, restart count)`` each; the container exited with code 1)."""
    items = [
        {
            "kind": "Event",
            "type": "Warning",
            "reason": "BackOff",
            "message": f"Back-off restarting failed container {service} in pod {service}-0 "
            f"(restart {count}, last state: terminated, exit code 1)",
            "involvedObject": {"kind": "Pod", "name": f"{service}-0"},
            "lastTimestamp": rfc3339_ns(ns),
            "count": count,
        }
        for ns, count in restarts
    ]
    if items:
        path = out / "events.json"
        path.write_text(json.dumps({"kind": "List", "items": items}, indent=2) + "\n")


def payments_config(instance: str, pool_size: int) -> dict[str, Any]:
    """One payments instance's configuration file (config-drift differs in ``pool_size``)."""
    return {
        "service": "payments",
        "instance": instance,
        "db": {"pool_size": pool_size, "pool_timeout_s": 0.5},
        "http": {"timeout_s": 2.0},
    }


def write_config(path: Path, settings: Mapping[str, Any]) -> Path:
    """A YAML configuration file, as a deployment ships one per instance."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(settings), sort_keys=False), encoding="utf-8")
    return path

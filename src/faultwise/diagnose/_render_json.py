"""A Diagnosis as DESIGN §5's JSON: ``root_cause``, ``ranking`` (best first), ``findings``,
``timeline`` and ``inputs``. The only place the stable strings are written."""

from __future__ import annotations

from typing import Any

from faultwise.diagnose._evidence import rfc3339
from faultwise.diagnose._model import (
    Diagnosis,
    Evidence,
    Finding,
    Graph,
    Inputs,
    TimelineEntry,
    Window,
)

__all__ = ["evidence_json", "finding_json", "graph_json", "to_json"]


def to_json(result: Diagnosis) -> dict[str, Any]:
    """The JSON document ``faultwise diagnose --json`` prints."""
    cause = result.root_cause
    return {
        "root_cause": (
            {"component": cause.component, "pattern": cause.pattern.value, "score": cause.score}
            if cause
            else None
        ),
        "ranking": [{"component": r.component, "score": r.score} for r in result.ranking],
        "findings": [finding_json(f) for f in result.findings],
        "timeline": [_timeline_json(e) for e in result.timeline],
        "inputs": _inputs_json(result.inputs, result.graph),
    }


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "pattern": f.pattern.value,
        "component": f.component,
        "start": rfc3339(f.start_ns),
        "end": rfc3339(f.end_ns),
        "score": f.score,
        "summary": f.summary,
        "evidence": [evidence_json(e) for e in f.evidence],
        "action": f.action,
    }


def evidence_json(e: Evidence) -> dict[str, Any]:
    return {"kind": e.kind.value, "text": e.text, "source": e.source, "value": e.value}


def _timeline_json(e: TimelineEntry) -> dict[str, Any]:
    return {
        "ts": rfc3339(e.ts_ns),
        "service": e.service,
        "kind": e.kind.value,
        "text": e.text,
        "source": e.source,
    }


def _window_json(w: Window | None) -> dict[str, Any] | None:
    return None if w is None else {"start": rfc3339(w.start_ns), "end": rfc3339(w.end_ns)}


def graph_json(g: Graph) -> dict[str, Any]:
    return {
        "source": g.source,
        "nodes": list(g.nodes),
        "edges": [
            {"caller": e.caller, "callee": e.callee, "calls": e.calls, "errors": e.errors}
            for e in g.edges
        ],
        "failing_path": list(g.failing_path),
        "cycles": [list(c) for c in g.cycles],
    }


def _inputs_json(i: Inputs, graph: Graph) -> dict[str, Any]:
    baseline = None
    if i.baseline is not None:
        baseline = {
            "kind": i.baseline.kind,
            "window": _window_json(i.baseline.window),
            "detail": i.baseline.detail,
        }
    return {
        "files": i.files,
        "rows": i.rows,
        "rejected": i.rejected,
        "services": list(i.services),
        "window": _window_json(i.window),
        "baseline": baseline,
        "graph": graph_json(graph),
        "missing": list(i.missing),
        "warnings": list(i.warnings),
    }

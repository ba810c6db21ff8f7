"""Diagnose: from an incident's telemetry (:mod:`faultwise.telemetry`) to a timeline, a request's
path, and the failure patterns behind it.

The names below are imported on first use (PEP 562), so ``import faultwise.diagnose.trace``
or ``faultwise trace`` does not load the detectors, the renderers or the drift comparison.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from faultwise.diagnose._diagnose import diagnose
    from faultwise.diagnose._inputs import load_incident, parse_window, split_inputs
    from faultwise.diagnose._model import (
        Baseline,
        Chart,
        Diagnosis,
        Edge,
        Evidence,
        EvidenceKind,
        Finding,
        Graph,
        Inputs,
        Pattern,
        Ranked,
        RootCause,
        Series,
        TimelineEntry,
        TimelineKind,
        Window,
    )
    from faultwise.diagnose._render_html import render_html
    from faultwise.diagnose._render_json import to_json
    from faultwise.diagnose._render_text import markdown as render_markdown
    from faultwise.diagnose._render_text import terminal as render_terminal

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
    "TimelineEntry",
    "TimelineKind",
    "Window",
    "diagnose",
    "load_incident",
    "parse_window",
    "render_html",
    "render_markdown",
    "render_terminal",
    "split_inputs",
    "to_json",
]

_MODEL = (
    "Baseline Chart Diagnosis Edge Evidence EvidenceKind Finding Graph Inputs Pattern Ranked "
    "RootCause Series TimelineEntry TimelineKind Window"
)
# public name -> (module, name in it)
_WHERE: dict[str, tuple[str, str]] = {
    **{name: ("_model", name) for name in _MODEL.split()},
    "diagnose": ("_diagnose", "diagnose"),
    "load_incident": ("_inputs", "load_incident"),
    "parse_window": ("_inputs", "parse_window"),
    "split_inputs": ("_inputs", "split_inputs"),
    "render_html": ("_render_html", "render_html"),
    "to_json": ("_render_json", "to_json"),
    "render_markdown": ("_render_text", "markdown"),
    "render_terminal": ("_render_text", "terminal"),
}


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{where[0]}"), where[1])
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

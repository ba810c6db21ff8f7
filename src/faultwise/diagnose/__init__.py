"""Diagnose: from an incident's telemetry (:mod:`faultwise.telemetry`) to a timeline, a request's
path, and the failure patterns behind it."""

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

"""The HTML report: self-contained, and really rendered by headless Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tests.conftest import system_tool

from faultwise.diagnose import (
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
    diagnose,
    load_incident,
    render_html,
)

from .conftest import golden_incident

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1100,4200",
]


def _chromium(binary: str, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *_FLAGS, *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _cycle_result() -> Diagnosis:
    """A small diagnosis whose dependency graph has a cycle and a failing path."""
    edges = (
        Edge("frontend", "checkout", 100),
        Edge("checkout", "inventory", 90, 40),
        Edge("inventory", "pricing", 80, 40),
        Edge("pricing", "inventory", 80, 10),
    )
    graph = Graph(
        ("checkout", "frontend", "inventory", "pricing"),
        edges,
        "spans",
        failing_path=("frontend", "checkout", "inventory"),
        cycles=(("inventory", "pricing"),),
    )
    finding = Finding(
        Pattern.RETRY_STORM,
        "inventory",
        0.9,
        "retries from checkout <multiplied> the load",
        (Evidence(EvidenceKind.SPAN, "3.1 attempts per request", "trace:abc", 3.1),),
        "Give checkout a retry budget.",
        1_000_000_000,
        2_000_000_000,
    )
    inputs = Inputs(2, {"logs": 10, "spans": 20}, 0, ("checkout", "inventory"), None, None)
    return Diagnosis(
        RootCause("inventory", Pattern.RETRY_STORM, 0.9),
        (Ranked("inventory", 0.9), Ranked("checkout", 0.4)),
        (finding,),
        (),
        inputs,
        graph,
    )


def test_report_highlights_the_failing_path_and_the_cycle_and_escapes_text() -> None:
    page = render_html(_cycle_result())
    assert 2 == len(re.findall(r'class="edge path"', page))
    assert 2 == len(re.findall(r'class="edge cycle"', page))
    assert "retries from checkout &lt;multiplied&gt; the load" in page
    assert "<multiplied>" not in page
    assert "Give checkout a retry budget." in page
    assert "Five whys" in page


def test_report_is_self_contained() -> None:
    page = render_html(_cycle_result())
    assert [] == re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert [] == re.findall(r"<link\b|<script\s+src|@import|url\(\s*['\"]?http", page)


@pytest.mark.integration
@pytest.mark.slow
def test_report_renders_in_chromium_with_charts_graph_and_no_console_errors(
    golden_root: Path, tmp_path: Path
) -> None:
    chromium = system_tool("chromium")
    folder, expected = golden_incident(golden_root, "pool_exhaustion")
    with load_incident([str(folder)]) as store:
        result = diagnose(store)
    page = tmp_path / "report.html"
    page.write_text(render_html(result), encoding="utf-8")

    dom = _chromium(chromium, page, "--dump-dom")
    assert [] == [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert 'data-ready="1"' in dom.stdout
    drawn = int(re.search(r'data-charts="(\d+)"', dom.stdout).group(1))  # type: ignore[union-attr]
    assert drawn >= 4
    charts = set(re.findall(r'class="chart" data-key="(\w+)"', dom.stdout))
    assert {"latency", "errors", "pools"} <= charts
    assert 'class="depgraph"' in dom.stdout
    assert f"Root cause: {expected.component} ({expected.pattern}" in dom.stdout

    shot = tmp_path / "report.png"
    _chromium(chromium, page, f"--screenshot={shot}")
    assert b"\x89PNG\r\n\x1a\n" == shot.read_bytes()[:8]
    assert shot.stat().st_size > 50_000  # charts and text, not a blank page

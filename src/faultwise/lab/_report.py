"""A self-contained HTML page of one lab run: headline numbers and per-second charts (SVG)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from faultwise.lab._storm import POLICY_LABELS, StormResult

__all__ = ["write_run_report"]

_W, _H, _PAD = 640, 180, 30


def _polyline(values: Sequence[float], top: float, seconds: int, color: str) -> str:
    if not values or top <= 0:
        return ""
    step = (_W - 2 * _PAD) / max(seconds - 1, 1)
    points = " ".join(
        f"{_PAD + i * step:.1f},{_H - _PAD - (v / top) * (_H - 2 * _PAD):.1f}"
        for i, v in enumerate(values[:seconds])
    )
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>'


def _chart(result: StormResult) -> str:
    spec = result.spec
    seconds = int(spec.duration)
    offered = list(result.series.offered[:seconds])
    ok = list(result.series.ok[:seconds])
    top = max([*offered, *ok, 1]) * 1.1
    step = (_W - 2 * _PAD) / max(seconds - 1, 1)
    x0 = _PAD + spec.trigger_at * step
    x1 = _PAD + spec.trigger_end * step
    return (
        f'<svg width="{_W}" height="{_H}" role="img" aria-label="requests per second">'
        f'<rect x="{x0:.1f}" y="{_PAD}" width="{x1 - x0:.1f}" height="{_H - 2 * _PAD}" '
        'fill="#fde2e2"/>'
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>'
        f"{_polyline(offered, top, seconds, '#888')}{_polyline(ok, top, seconds, '#1a7f37')}"
        f'<text x="{_PAD}" y="16" font-size="12">requests/s (grey: offered, green: goodput; '
        f"red band: trigger) max {top / 1.1:.0f}/s</text></svg>"
    )


def write_run_report(
    path: Path, title: str, results: Sequence[StormResult], notes: Sequence[str] = ()
) -> Path:
    """Write one HTML page (no network, no scripts) comparing ``results``."""
    rows = []
    for r in results:
        s = r.summary
        recovery = "never" if s.recovery_s is None else f"{s.recovery_s:.0f} s"
        rows.append(
            f"<tr><td>{html.escape(POLICY_LABELS[r.policy])}</td>"
            f"<td>{s.goodput_during:.2f}</td><td>{recovery}</td>"
            f"<td>{s.attempts_per_request:.2f}</td><td>{s.p99_s:.3f}</td>"
            f"<td>{s.goodput_after:.0%}</td><td>{r.max_queue}</td></tr>"
        )
    charts = "".join(f"<h2>{html.escape(POLICY_LABELS[r.policy])}</h2>{_chart(r)}" for r in results)
    note_html = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head>
<body><h1>{html.escape(title)}</h1>{note_html}
<table><tr><th>policy</th><th>goodput during trigger (share of degraded capacity)</th>
<th>recovery after trigger</th><th>attempts/request</th><th>p99 s</th>
<th>goodput, last 10 s</th><th>max queue</th></tr>{"".join(rows)}</table>
{charts}</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path

"""A Diagnosis as one self-contained HTML page: no network, no external script or font.

Charts and the dependency graph are inline SVG drawn here (so the page works offline, in a
ticket attachment, years later); a few lines of script only toggle chart series from their
legends. Sections: the root cause and the one action, the inputs and what was missing, the
charts, the dependency graph (failing path and cycles highlighted), the timeline, findings
with their evidence, and a five-whys skeleton filled from the evidence.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Sequence

from faultwise.diagnose._evidence import rfc3339, short_time
from faultwise.diagnose._model import Chart, Diagnosis, Finding, Graph
from faultwise.diagnose._render_text import five_whys, headline

__all__ = ["render_html"]

_PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
)
_W, _H = 920, 250
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 34

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2937;
background:#f8fafc}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid
#e5e7eb;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.cause{background:#fef2f2;border:1px solid #fecaca;border-radius:8px;padding:14px 16px}
.cause.none{background:#f0fdf4;border-color:#bbf7d0}
.action{background:#eff6ff;border:1px solid #bfdbfe;border-radius:8px;padding:12px 16px;
margin-top:12px}
.muted{color:#6b7280}.warn{color:#b45309}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #e5e7eb;
padding:4px 8px;text-align:left;vertical-align:top}th{background:#f1f5f9}
.chart,.graph{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:8px;
margin-bottom:14px}
.legend span{display:inline-block;margin:2px 10px 2px 0;cursor:pointer;user-select:none}
.legend span.off{opacity:.35}.legend i{display:inline-block;width:12px;height:3px;
margin-right:5px;vertical-align:middle}
svg text{font:11px system-ui,sans-serif;fill:#4b5563}
.finding{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;
margin-bottom:10px}
.finding ul{margin:6px 0 6px 18px;padding:0}.src{color:#6b7280;font-family:monospace;
font-size:12px}
.score{float:right;color:#6b7280}
ol.whys li{margin-bottom:6px}
"""

_SCRIPT = """
document.querySelectorAll('.legend span').forEach(function (item) {
  item.addEventListener('click', function () {
    var chart = item.closest('.chart');
    var off = item.classList.toggle('off');
    chart.querySelectorAll('[data-series="' + item.dataset.series + '"]').forEach(
      function (line) { line.style.display = off ? 'none' : ''; });
  });
});
document.body.dataset.charts = String(document.querySelectorAll('.chart svg polyline').length);
document.body.dataset.ready = '1';
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(result: Diagnosis, *, title: str = "Incident diagnosis") -> str:
    """The whole report as one HTML document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        _cause(result),
        _inputs(result),
        _charts(result),
        _graph_section(result),
        _timeline(result),
        _findings(result),
        _whys(result),
        f"</main><script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _cause(result: Diagnosis) -> str:
    cls = "cause" if result.root_cause else "cause none"
    out = f'<div class="{cls}"><strong>{_e(headline(result))}</strong>'
    if result.ranking:
        top = ", ".join(f"{_e(r.component)} {r.score:.2f}" for r in result.ranking[:5])
        out += f'<div class="muted">Ranking: {top}</div>'
    out += "</div>"
    if result.action:
        out += f'<div class="action"><strong>The one action:</strong> {_e(result.action)}</div>'
    return out


def _inputs(result: Diagnosis) -> str:
    i = result.inputs
    rows = ", ".join(f"{n} {k}" for k, n in i.rows.items() if n)
    window = (
        f"{_e(rfc3339(i.window.start_ns))} to {_e(rfc3339(i.window.end_ns))}" if i.window else "-"
    )
    baseline = _e(i.baseline.detail) if i.baseline else "none"
    items = [
        f"<li>{i.files} files: {_e(rows or 'nothing readable')}; {i.rejected} lines rejected</li>",
        f"<li>services: {_e(', '.join(i.services) or '-')}</li>",
        f"<li>time range: {window}</li>",
        f"<li>baseline: {baseline}</li>",
    ]
    items += [f'<li class="warn">missing: {_e(m)}</li>' for m in i.missing]
    items += [f'<li class="warn">warning: {_e(w)}</li>' for w in i.warnings]
    return f"<h2>Inputs</h2><ul>{''.join(items)}</ul>"


# -- charts -----------------------------------------------------------------------------------


def _charts(result: Diagnosis) -> str:
    if not result.charts:
        return '<h2>Charts</h2><p class="muted">No timed signals to chart in these inputs.</p>'
    return "<h2>Charts</h2>" + "".join(_chart(c) for c in result.charts)


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * exp:
            return step * exp
    return 10 * exp


def _chart(chart: Chart) -> str:
    n = len(chart.times)
    values = [v for s in chart.series for v in s.values if v is not None]
    top = _nice(max(values, default=1.0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: float) -> float:
        return _LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / top)

    def x_of(ts: int) -> float:
        if n < 2:
            return x(0)
        return x((ts - chart.times[0]) / (chart.times[1] - chart.times[0]))

    out = [f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img">']
    if chart.shade is not None:
        a, b = (min(max(x_of(t), _LEFT), _W - _RIGHT) for t in chart.shade)
        out.append(
            f'<rect x="{a:.1f}" y="{_TOP}" width="{max(b - a, 0):.1f}" height="{plot_h}" '
            'fill="#fee2e2" opacity="0.6"><title>incident window</title></rect>'
        )
    for k in range(5):
        v = top * k / 4
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#e5e7eb"/><text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" '
            f'text-anchor="end">{v:g}</text>'
        )
    for i in range(0, n, max(1, n // 6)):
        out.append(
            f'<text x="{x(i):.1f}" y="{_H - 12}" text-anchor="middle">'
            f"{_e(short_time(chart.times[i])[:8])}</text>"
        )
    for ts, label in chart.markers:
        mx = x_of(ts)
        if _LEFT <= mx <= _W - _RIGHT:
            out.append(
                f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" '
                'stroke="#6b7280" stroke-dasharray="4 3"><title>'
                f"{_e(short_time(ts))} {_e(label)}</title></line>"
            )
    styles = _styles(chart)
    for k, s in enumerate(chart.series):
        color, dash = styles[k]
        for segment in _segments(s.values):
            pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in segment)
            out.append(
                f'<polyline data-series="{k}" points="{pts}" fill="none" '
                f'stroke="{color}" stroke-width="1.8"{dash}><title>{_e(s.label)}</title>'
                "</polyline>"
            )
    out.append(f'<text x="{_LEFT}" y="{_TOP - 4}">{_e(chart.unit)}</text></svg>')
    legend = "".join(
        f'<span data-series="{k}"><i style="background:{styles[k][0]}"></i>{_e(s.label)}</span>'
        for k, s in enumerate(chart.series)
    )
    return (
        f'<div class="chart" data-key="{_e(chart.key)}"><h3>{_e(chart.title)}</h3>'
        f'{"".join(out)}<div class="legend">{legend}</div></div>'
    )


_DASHES = {"p50": "", "p95": ' stroke-dasharray="6 3"', "p99": ' stroke-dasharray="2 3"'}


def _styles(chart: Chart) -> list[tuple[str, str]]:
    """(colour, dash attribute) per series: one colour per service, and for percentile
    series ("checkout p95") one dash pattern per percentile."""
    owners: dict[str, int] = {}
    found = []
    for s in chart.series:
        owner, _, suffix = s.label.rpartition(" ")
        key = owner if suffix in _DASHES and owner else s.label
        index = owners.setdefault(key, len(owners))
        dash = _DASHES.get(suffix, "") if owner else ""
        found.append((_PALETTE[index % len(_PALETTE)], dash))
    return found


def _segments(values: Sequence[float | None], bridge: int = 3) -> list[list[tuple[float, float]]]:
    """Runs of present values; a gap of up to ``bridge`` buckets (a slower scrape) is drawn
    through, a longer one (no data) breaks the line."""
    runs: list[list[tuple[float, float]]] = []
    last = -(bridge + 2)
    for i, v in enumerate(values):
        if v is None:
            continue
        if not runs or i - last > bridge + 1:
            runs.append([])
        runs[-1].append((float(i), v))
        last = i
    return [r if len(r) > 1 else [r[0], (r[0][0] + 0.3, r[0][1])] for r in runs]


# -- the dependency graph ---------------------------------------------------------------------


def _layers(graph: Graph) -> dict[str, int]:
    """Longest-path layering from the entry points, ignoring edges that close a cycle."""
    succ: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        succ[e.caller].append(e.callee)
    state: dict[str, int] = {}
    order: list[str] = []
    back: set[tuple[str, str]] = set()

    def visit(root: str) -> None:
        stack = [(root, iter(sorted(succ[root])))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, iter(sorted(succ[child]))))
                    break
            else:
                state[node] = 2
                order.append(node)
                stack.pop()

    callees = {e.callee for e in graph.edges}
    for node in sorted(graph.nodes, key=lambda n: (n in callees, n)):
        if node not in state:
            visit(node)
    layer = dict.fromkeys(graph.nodes, 0)
    for node in reversed(order):
        for child in succ[node]:
            if (node, child) not in back:
                layer[child] = max(layer.get(child, 0), layer[node] + 1)
    return layer


def _graph_svg(result: Diagnosis) -> str:
    graph = result.graph
    layer = _layers(graph)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in sorted(graph.nodes):
        columns[layer[node]].append(node)
    box_w, box_h, gap_x, gap_y = 160, 34, 70, 22
    width = 40 + len(columns) * (box_w + gap_x)
    height = 40 + max(len(c) for c in columns.values()) * (box_h + gap_y)
    pos = {
        node: (20 + col * (box_w + gap_x), 20 + row * (box_h + gap_y))
        for col, nodes in columns.items()
        for row, node in enumerate(nodes)
    }
    path = set(zip(graph.failing_path, graph.failing_path[1:], strict=False))
    cyclic = {(c[i], c[(i + 1) % len(c)]) for c in graph.cycles for i in range(len(c))}
    in_cycle = {n for c in graph.cycles for n in c}
    cause = result.root_cause.component if result.root_cause else None
    score = {r.component: r.score for r in result.ranking}
    out = [
        f'<svg class="depgraph" width="{width}" height="{height}" viewBox="0 0 {width} '
        f'{height}" role="img"><defs>'
        + "".join(
            f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{c}"/></marker>'
            for k, c in (("plain", "#9ca3af"), ("path", "#dc2626"), ("cycle", "#9333ea"))
        )
        + "</defs>"
    ]
    for e in graph.edges:
        (x1, y1), (x2, y2) = pos[e.caller], pos[e.callee]
        pair = (e.caller, e.callee)
        kind = "path" if pair in path else "cycle" if pair in cyclic else "plain"
        color = {"path": "#dc2626", "cycle": "#9333ea", "plain": "#9ca3af"}[kind]
        sx, sy, tx, ty = float(x1 + box_w), y1 + box_h / 2, float(x2), y2 + box_h / 2
        if tx <= sx:  # a call back to an earlier column: bend it below the boxes
            sx, tx = x1 + box_w / 2, x2 + box_w / 2
            sy, ty = y1 + box_h, y2 + box_h
            d = f"M{sx},{sy} C{sx},{sy + 60} {tx},{ty + 60} {tx},{ty}"
        else:
            d = f"M{sx},{sy} C{sx + 35},{sy} {tx - 35},{ty} {tx},{ty}"
        dash = ' stroke-dasharray="6 4"' if kind == "cycle" else ""
        stroke = 3 if kind != "plain" else 1.5
        errors = f", {e.errors} failed" if e.errors else ""
        out.append(
            f'<path class="edge {kind}" d="{d}" fill="none" stroke="{color}" '
            f'stroke-width="{stroke}"{dash} marker-end="url(#arrow-{kind})"><title>'
            f"{_e(e.caller)} -> {_e(e.callee)}: {e.calls} calls{errors}</title></path>"
        )
    on_path = set(graph.failing_path)
    for node, (nx, ny) in pos.items():
        fill = "#fecaca" if node == cause else "#ffedd5" if node in on_path else "#ffffff"
        border = "#9333ea" if node in in_cycle else "#dc2626" if node in on_path else "#94a3b8"
        label = node if len(node) <= 22 else node[:21] + "…"
        extra = f" ({score[node]:.2f})" if node in score else ""
        out.append(
            f'<g class="node"><rect x="{nx}" y="{ny}" width="{box_w}" height="{box_h}" '
            f'rx="6" fill="{fill}" stroke="{border}" stroke-width="1.5"/><text '
            f'x="{nx + box_w / 2}" y="{ny + box_h / 2 + 4}" text-anchor="middle">'
            f"{_e(label)}</text><title>{_e(node)}{extra}</title></g>"
        )
    out.append("</svg>")
    return "".join(out)


def _graph_section(result: Diagnosis) -> str:
    graph = result.graph
    head = "<h2>Dependency graph</h2>"
    if not graph.edges:
        return head + '<p class="muted">No calls between services were found in these inputs.</p>'
    notes = [f"From {_e(graph.source)}."]
    if graph.failing_path:
        notes.append(f"Failing path (red): {_e(' → '.join(graph.failing_path))}.")
    for c in graph.cycles:
        notes.append(f"Cycle (purple, dashed): {_e(' → '.join((*c, c[0])))}.")
    return f'{head}<div class="graph">{_graph_svg(result)}<p>{" ".join(notes)}</p></div>'


# -- timeline, findings, five whys ------------------------------------------------------------


def _timeline(result: Diagnosis) -> str:
    if not result.timeline:
        return ""
    rows = "".join(
        f"<tr><td>{_e(rfc3339(e.ts_ns))}</td><td>{_e(e.service)}</td><td>{_e(e.kind.value)}"
        f"</td><td>{_e(e.text)}</td></tr>"
        for e in result.timeline
    )
    return (
        "<h2>Timeline</h2><table><tr><th>time (UTC)</th><th>service</th><th>kind</th>"
        f"<th>what</th></tr>{rows}</table>"
    )


def _finding(f: Finding) -> str:
    items = "".join(
        f"<li>{_e(e.kind.value)}: {_e(e.text)}"
        + (f' <span class="src">{_e(e.source)}</span>' if e.source else "")
        + "</li>"
        for e in f.evidence
    )
    when = f"{short_time(f.start_ns)} – {short_time(f.end_ns)} UTC" if f.start_ns else ""
    return (
        f'<div class="finding"><span class="score">score {f.score:.2f}</span>'
        f"<strong>{_e(f.pattern.value)}</strong> at <strong>{_e(f.component)}</strong> "
        f'<span class="muted">{_e(when)}</span><div>{_e(f.summary)}</div><ul>{items}</ul>'
        f"<div><em>Action:</em> {_e(f.action)}</div></div>"
    )


def _findings(result: Diagnosis) -> str:
    if not result.findings:
        return ""
    return "<h2>Findings</h2>" + "".join(_finding(f) for f in result.findings[:12])


def _whys(result: Diagnosis) -> str:
    whys = five_whys(result)
    if not whys:
        return ""
    items = "".join(f"<li><strong>{_e(q)}</strong><br>{_e(a)}</li>" for q, a in whys)
    return f'<h2>Five whys</h2><ol class="whys">{items}</ol>'

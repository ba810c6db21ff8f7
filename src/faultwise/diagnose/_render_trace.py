"""Trace renderers: the span tree, the request's log lines and where it stopped; or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faultwise.diagnose._render_inputs import inputs_json, rfc3339
from faultwise.diagnose._render_timeline import SEVERITY_STYLE, service_style
from faultwise.diagnose.trace import SpanNode, TraceResult
from faultwise.telemetry import SpanStatus

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["trace_json", "trace_text"]


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def _span_json(s: SpanNode) -> dict[str, Any]:
    return {
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "service": s.service,
        "name": s.name,
        "kind": s.kind.label,
        "status": s.status.label,
        "start": rfc3339(s.start_ns),
        "end": rfc3339(s.end_ns),
        "duration_ms": _ms(s.duration_ns),
        "self_ms": _ms(s.self_ns),
        "depth": s.depth,
    }


def trace_json(result: TraceResult) -> dict[str, Any]:
    stopped = result.stopped_at
    return {
        "trace_id": result.trace_id,
        "matched_by": result.matched_by,
        "spans": [_span_json(s) for s in result.spans],
        "logs": [
            {
                "ts": rfc3339(g.ts_ns),
                "service": g.service,
                "severity": g.severity.label,
                "message": g.message,
                "source": g.source,
                "span_id": g.span_id,
            }
            for g in result.logs
        ],
        "services": list(result.services),
        "stopped_at": None
        if stopped is None
        else {"service": stopped.service, "ts": rfc3339(stopped.ts_ns), "message": stopped.message},
        "critical_path": [
            {
                "span_id": s.span_id,
                "service": s.service,
                "name": s.name,
                "duration_ms": _ms(s.duration_ns),
                "self_ms": _ms(s.self_ns),
            }
            for s in result.critical_path
        ],
        "inputs": inputs_json(result.inputs),
    }


def _bar(s: SpanNode, start: int, total: int, width: int = 30) -> str:
    if total <= 0:
        return ""
    a = round((s.start_ns - start) / total * width)
    b = max(a + 1, round((s.end_ns - start) / total * width))
    return " " * a + "━" * (b - a)


def trace_text(result: TraceResult, out: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    how = "" if result.matched_by == "trace_id" else f"  [dim](matched by {result.matched_by})[/]"
    out.print(
        f"[bold]trace {result.trace_id}[/bold]  "
        f"{len(result.spans)} span(s), {len(result.logs)} log line(s), "
        f"services: {', '.join(result.services) or '-'}{how}"
    )
    critical = {s.span_id for s in result.critical_path}
    if result.spans:
        start = min(s.start_ns for s in result.spans)
        total = max(s.end_ns for s in result.spans) - start
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name, kw in (
            ("span", {"overflow": "ellipsis", "no_wrap": True, "max_width": 60}),
            ("service", {"no_wrap": True}),
            ("duration", {"justify": "right"}),
            ("self", {"justify": "right"}),
            ("", {"no_wrap": True}),
        ):
            table.add_column(name, **kw)
        for s in result.spans:
            mark = "[bold red]✗[/] " if s.status is SpanStatus.ERROR else ""
            star = "[bold yellow]*[/]" if s.span_id in critical else " "
            table.add_row(
                f"{star}{'  ' * s.depth}{mark}{escape(s.name)}",
                f"[{service_style(s.service)}]{escape(s.service or '-')}[/]",
                f"{s.duration_ns / 1e6:.1f} ms",
                f"{s.self_ns / 1e6:.1f} ms",
                f"[{'yellow' if s.span_id in critical else 'dim'}]{_bar(s, start, total)}[/]",
            )
        out.print(table)
        out.print("[dim]* on the critical path[/dim]")
    if result.logs:
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("time (UTC)", no_wrap=True, min_width=12)
        table.add_column("service", no_wrap=True, max_width=24)
        table.add_column("level", no_wrap=True)
        table.add_column("message", no_wrap=True, overflow="ellipsis")
        for g in result.logs:
            style = SEVERITY_STYLE[g.severity] or "default"
            ts = (rfc3339(g.ts_ns) or "-")[11:23]
            table.add_row(
                ts,
                f"[{service_style(g.service)}]{escape(g.service or '-')}[/]",
                f"[{style}]{g.severity.label}[/]",
                f"[{style}]{escape(g.message.split(chr(10), 1)[0])}[/]",
            )
        out.print(table)
    if result.stopped_at is not None:
        stop = result.stopped_at
        out.print(
            f"[bold]stopped at[/bold] {rfc3339(stop.ts_ns)} in "
            f"[{service_style(stop.service)}]{escape(stop.service or '-')}[/]: "
            f"{escape(stop.message.split(chr(10), 1)[0][:200])}"
        )

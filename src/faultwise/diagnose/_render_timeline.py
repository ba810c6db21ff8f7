"""Timeline renderers: a rich table for people, a JSON document for machines."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from faultwise.diagnose._render_inputs import inputs_json, rfc3339
from faultwise.diagnose.timeline import MarkerKind, Timeline
from faultwise.telemetry import Severity

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["SEVERITY_STYLE", "service_style", "timeline_json", "timeline_text"]

SEVERITY_STYLE = {
    Severity.UNKNOWN: "dim",
    Severity.TRACE: "dim",
    Severity.DEBUG: "dim",
    Severity.INFO: "",
    Severity.WARN: "yellow",
    Severity.ERROR: "bold red",
    Severity.FATAL: "bold white on red",
}
_SERVICE_COLOURS = (
    "cyan",
    "magenta",
    "green",
    "blue",
    "bright_cyan",
    "bright_magenta",
    "bright_green",
    "bright_blue",
    "dark_orange",
    "purple",
)
_MARKER_STYLE = {
    MarkerKind.FIRST_ERROR: "bold red",
    MarkerKind.NEW_TEMPLATE: "bold yellow",
    MarkerKind.CHANGE: "bold cyan",
}


def service_style(service: str | None) -> str:
    """A stable colour per service name."""
    if not service:
        return "dim"
    return _SERVICE_COLOURS[sum(service.encode()) % len(_SERVICE_COLOURS)]


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    return {
        "events": [
            {
                "ts": rfc3339(e.ts_ns),
                "service": e.service,
                "severity": e.severity.label,
                "message": e.message,
                "source": e.source,
                "template_id": e.template_id,
                "count": e.count,
                "last_ts": rfc3339(e.last_ns),
            }
            for e in timeline.events
        ],
        "markers": [
            {
                "ts": rfc3339(m.ts_ns),
                "kind": m.kind.value,
                "service": m.service,
                "text": m.text,
                "source": m.source,
            }
            for m in timeline.markers
        ],
        "rejected": timeline.rejected,
        "matched": timeline.matched,
        "untimed": timeline.untimed,
        "inputs": inputs_json(timeline.inputs),
    }


def _clock(ns: int) -> str:
    seconds, frac = divmod(ns, 10**9)
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) + f".{frac // 10**6:03d}"


def timeline_text(timeline: Timeline, out: Console) -> None:
    """Events and markers interleaved in time order, a date line whenever the day changes."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    names = [e.service for e in timeline.events] + [m.service for m in timeline.markers]
    width = max((len(n or "-") for n in names), default=7)
    table.add_column("time (UTC)", no_wrap=True, min_width=12)
    table.add_column("service", no_wrap=True, min_width=min(width, 24), max_width=24)
    table.add_column("level", no_wrap=True, min_width=15 if timeline.markers else 7)
    table.add_column("message", no_wrap=True, overflow="ellipsis")
    rows: list[tuple[int, int, Any]] = []  # (time, 0 marker / 1 event, the item)
    for m in timeline.markers:
        rows.append((m.ts_ns, 0, m))
    for e in timeline.events:
        rows.append((e.ts_ns, 1, e))
    rows.sort(key=lambda r: (r[0], r[1]))
    day = ""
    item: Any
    for ts, is_event, item in rows:
        today = time.strftime("%Y-%m-%d", time.gmtime(ts // 10**9))
        if today != day:
            day = today
            table.add_row(f"[bold]{day}[/bold]", "", "", "")
        service = f"[{service_style(item.service)}]{escape(item.service or '-')}[/]"
        if not is_event:
            style = _MARKER_STYLE[item.kind]
            label = item.kind.value.replace("_", " ")
            table.add_row(
                f"[{style}]{_clock(ts)}[/]",
                service,
                f"[{style}]▶ {label}[/]",
                f"[{style}]{escape(item.text.split(chr(10), 1)[0][:300])}[/]",
            )
            continue
        style = SEVERITY_STYLE[item.severity] or "default"
        text = escape(item.message.split("\n", 1)[0])
        if item.count > 1:
            text += f" [bold]×{item.count}[/bold] [dim](until {_clock(item.last_ns or ts)})[/dim]"
        table.add_row(
            _clock(ts), service, f"[{style}]{item.severity.label}[/]", f"[{style}]{text}[/]"
        )
    out.print(table)
    shown = sum(e.count for e in timeline.events)
    tail = f"{timeline.matched:,} matching line(s)"
    if shown < timeline.matched:
        tail += f", first {len(timeline.events):,} rows shown (--limit)"
    if timeline.untimed:
        tail += f"; {timeline.untimed:,} line(s) without a timestamp are not on the timeline"
    out.print(f"[dim]{tail}[/dim]")

"""Template renderers: a table of templates with counts and times, or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faultwise.diagnose._render_inputs import inputs_json, rfc3339

if TYPE_CHECKING:
    from rich.console import Console

    from faultwise.telemetry import IngestSummary
    from faultwise.telemetry._templates import TemplateReport

__all__ = ["templates_json", "templates_text"]


def templates_json(report: TemplateReport, inputs: IngestSummary) -> dict[str, Any]:
    return {
        "templates": [
            {
                "id": t.template_id,
                "template": t.template,
                "count": t.count,
                "first": rfc3339(t.first_ns),
                "last": rfc3339(t.last_ns),
                "services": list(t.services),
            }
            for t in report.templates
        ],
        "assignments": list(report.assignments),
        "inputs": inputs_json(inputs),
    }


def templates_text(report: TemplateReport, out: Console, *, top: int | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("id", justify="right")
    table.add_column("count", justify="right")
    table.add_column("first (UTC)", no_wrap=True)
    table.add_column("last (UTC)", no_wrap=True)
    table.add_column("template", overflow="fold")
    shown = report.templates[:top] if top else report.templates
    for t in shown:
        table.add_row(
            str(t.template_id),
            f"{t.count:,}",
            (rfc3339(t.first_ns) or "-")[:23].replace("T", " "),
            (rfc3339(t.last_ns) or "-")[:23].replace("T", " "),
            escape(t.template),
        )
    out.print(table)
    total = sum(t.count for t in report.templates)
    more = f" (top {len(shown)} shown)" if len(shown) < len(report.templates) else ""
    out.print(f"[dim]{len(report.templates):,} template(s) over {total:,} line(s){more}[/dim]")

"""Renderers of drift reports: JSON-ready dicts, Markdown, and a rich terminal table.

They receive redacted values only (see :mod:`faultwise.drift._secrets`): nothing here can
print a secret, because no secret reaches this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faultwise.drift._compare import DriftReport, KeyDrift, Status
from faultwise.drift._secrets import Secrecy

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["headline", "markdown", "report_json", "terminal"]

_CELL_WIDTH = 48


def report_json(report: DriftReport) -> dict[str, Any]:
    """The report as plain JSON data (stable field names and strings)."""
    return {
        "environments": [
            {"name": e.name, "sources": list(e.sources), "keys": e.keys, "rejects": len(e.rejects)}
            for e in report.environments
        ],
        "summary": {
            "keys": report.total_keys,
            "differing": sum(1 for k in report.keys if k.status is not Status.SAME),
            "unexpected": len(report.unexpected),
            "expected": len(report.expected),
            "killer": sum(1 for k in report.unexpected if k.killer is not None),
        },
        "differences": [_key_json(k) for k in report.keys],
        "rejects": [
            {"environment": e.name, "source": r.source, "reason": r.reason}
            for e in report.environments
            for r in e.rejects
        ],
    }


def _key_json(drift: KeyDrift) -> dict[str, Any]:
    pairs = list(zip(drift.environments, drift.values, strict=True))
    return {
        "key": drift.key,
        "status": drift.status.value,
        "killer": drift.killer.value if drift.killer else None,
        "secret": drift.secrecy.value,
        "values": {e: v.text if v else None for e, v in pairs},
        "types": {e: v.type.value for e, v in pairs if v},
        "sources": {e: v.source for e, v in pairs if v},
        "missing": list(drift.missing),
        "groups": [list(g) for g in drift.groups],
        "deltas": [
            {
                "environment": d.environment,
                "reference": d.reference,
                "value": d.value,
                "reference_value": d.reference_value,
                "dimension": d.dimension.value,
                "ratio": d.ratio,
                "direction": d.direction,
            }
            for d in drift.deltas
        ],
        "reasons": list(drift.reasons),
        "notes": drift.notes(),
        "summary": drift.summary(),
    }


def headline(report: DriftReport) -> str:
    """``3 environments, 41 keys: 1 unexpected difference (1 killer), 6 expected``."""
    unexpected = report.unexpected
    killers = sum(1 for k in unexpected if k.killer is not None)
    noun = "difference" if len(unexpected) == 1 else "differences"
    parts = [f"{len(unexpected)} unexpected {noun}"]
    if killers:
        parts[0] += f" ({killers} killer)"
    parts.append(f"{len(report.expected)} expected")
    names = ", ".join(e.name for e in report.environments)
    return f"{names}: {report.total_keys} keys, " + ", ".join(parts)


def _label(drift: KeyDrift) -> str:
    killer = drift.killer.value if drift.killer is not None else ""
    if drift.status is Status.UNEXPECTED:
        return f"⚠ {killer}" if killer else "drift"
    label = drift.status.value
    return f"{label} ({killer})" if killer else label


def _cell(drift: KeyDrift, index: int, width: int | None) -> str:
    value = drift.values[index]
    if value is None:
        return "(missing)"
    text = value.text.replace("\n", "⏎")
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def markdown(
    report: DriftReport, *, title: str = "Configuration drift", show_rejects: bool = False
) -> str:
    """A Markdown section with a table, for a pull request or an incident document."""
    names = [e.name for e in report.environments]
    lines = [f"### {title}", "", _md(headline(report)), ""]
    if report.keys:
        lines.append("| | key | " + " | ".join(_md(n) for n in names) + " | notes |")
        lines.append("|---" * (len(names) + 3) + "|")
        for drift in report.keys:
            cells = [_md(_cell(drift, i, None)) for i in range(len(names))]
            row = [_md(_label(drift)), f"`{_md(drift.key).replace('`', '')}`", *cells]
            row.append(_md("; ".join(drift.notes())))
            lines.append("| " + " | ".join(row) + " |")
    else:
        lines.append("No differences.")
    lines.extend(_rejects_lines(report, show_rejects, bullet="- "))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    )
    return escaped.replace("⏎", "<br>").replace("\n", "<br>")


def _rejects_lines(report: DriftReport, show: bool, *, bullet: str) -> list[str]:
    total = sum(len(e.rejects) for e in report.environments)
    if not total:
        return []
    lines = [
        "",
        f"{total} input line(s) or file(s) skipped"
        + ("" if show else " (--show-rejects lists them)"),
    ]
    if show:
        lines.extend(
            f"{bullet}{e.name}: {r.source}: {r.reason}"
            for e in report.environments
            for r in e.rejects
        )
    return lines


def terminal(
    reports: Sequence[DriftReport],
    console: Console,
    *,
    titles: Sequence[str] = (),
    show_rejects: bool = False,
) -> None:
    """Rich tables: killer keys first in red, other drift in yellow, expected ones dimmed."""
    from rich.table import Table
    from rich.text import Text

    styles = {Status.UNEXPECTED: "yellow", Status.EXPECTED: "dim", Status.SAME: "dim"}
    for position, report in enumerate(reports):
        title = titles[position] if position < len(titles) else "drift"
        console.print(Text.assemble((title, "bold"), ": ", headline(report)))
        if report.keys:
            table = Table(show_edge=False, pad_edge=False, header_style="bold", expand=True)
            table.add_column("", no_wrap=True)
            table.add_column("key", overflow="fold", ratio=3)
            for env in report.environments:
                table.add_column(env.name, overflow="fold", ratio=2)
            table.add_column("notes", overflow="fold", ratio=3)
            for drift in report.keys:
                style = styles[drift.status]
                if drift.status is Status.UNEXPECTED and drift.killer is not None:
                    style = "bold red"
                cells = [
                    Text(_cell(drift, i, _CELL_WIDTH)) for i in range(len(report.environments))
                ]
                secret = "" if drift.secrecy is Secrecy.NONE else " 🔒"
                table.add_row(
                    Text(_label(drift), style=style),
                    Text(drift.key + secret, style=style),
                    *cells,
                    Text("; ".join(drift.notes())),
                )
            console.print(table)
        for line in _rejects_lines(report, show_rejects, bullet="  "):
            console.print(Text(line, style="dim"))
        if position < len(reports) - 1:
            console.print()

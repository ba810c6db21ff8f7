"""A Diagnosis for people: the rich terminal summary and Markdown.

Both follow the order a person reads at 2 a.m.: the root cause and the one action, the
ranking, the evidence, the timeline, then what was missing from the inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faultwise.diagnose._evidence import rfc3339, short_time
from faultwise.diagnose._model import Diagnosis, Finding

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["five_whys", "headline", "markdown", "terminal"]

_TOP = 5
_TIMELINE = 20


def headline(result: Diagnosis) -> str:
    cause = result.root_cause
    if cause is None:
        return "No failure pattern found in these inputs."
    top = result.top_finding
    summary = f": {top.summary}" if top else ""
    return (
        f"Root cause: {cause.component} ({cause.pattern.value}, score {cause.score:.2f}){summary}"
    )


def five_whys(result: Diagnosis) -> list[tuple[str, str]]:
    """A five-whys skeleton filled from the evidence: (question, answer so far)."""
    cause, top = result.root_cause, result.top_finding
    if cause is None or top is None:
        return []
    path = list(result.graph.failing_path)
    entry = path[0] if path else cause.component
    first_symptom = min((e.ts_ns for e in result.timeline), default=None)
    evidence = top.evidence[0].text if top.evidence else top.summary
    return [
        (
            f"Why did requests through {entry} fail or slow down?",
            f"Because {' -> '.join(path) if len(path) > 1 else cause.component} was affected "
            f"from {short_time(first_symptom)}.",
        ),
        (f"Why was {cause.component} the cause?", top.summary),
        (f"Why did {cause.pattern.value.replace('_', ' ')} happen?", evidence),
        ("Why was it not caught earlier?", "(fill in: which alert or test would have fired?)"),
        ("Why did the system allow it?", f"(fill in; the proposed fix: {top.action})"),
    ]


def terminal(result: Diagnosis, console: Console, *, show_rejects: bool = False) -> None:
    from rich.table import Table
    from rich.text import Text

    style = "bold red" if result.root_cause else "bold green"
    console.print(Text(headline(result), style=style))
    if result.action:
        console.print(Text(f"Action: {result.action}", style="bold"))
    if result.ranking:
        table = Table(title="Ranking", title_justify="left", show_edge=False)
        for col in ("#", "component", "score", "onset", "why"):
            table.add_column(col)
        for i, r in enumerate(result.ranking[:_TOP], 1):
            table.add_row(
                str(i), r.component, f"{r.score:.2f}", short_time(r.onset_ns), "; ".join(r.reasons)
            )
        console.print(table)
    top = result.top_finding
    if top is not None:
        _finding(console, top)
    others = [f for f in result.findings if f is not top][: _TOP + 1]
    if others:
        console.print(Text("Other findings:", style="bold"))
        for f in others:
            console.print(
                Text(f"  {f.pattern.value} at {f.component} ({f.score:.2f}): {f.summary}")
            )
    if result.graph.failing_path:
        console.print(Text("Failing path: " + " -> ".join(result.graph.failing_path)))
    for cycle in result.graph.cycles:
        console.print(Text("Dependency cycle: " + " -> ".join((*cycle, cycle[0])), style="red"))
    if result.timeline:
        table = Table(title="Timeline", title_justify="left", show_edge=False)
        for col in ("time", "service", "what"):
            table.add_column(col)
        for e in result.timeline[:_TIMELINE]:
            table.add_row(short_time(e.ts_ns), e.service, e.text)
        console.print(table)
    for line in result.inputs.missing:
        console.print(Text(f"missing: {line}", style="yellow"))
    for line in result.inputs.warnings:
        console.print(Text(f"warning: {line}", style="yellow"))
    if show_rejects:
        console.print(Text(f"{result.inputs.rejected} input lines could not be read"))


def _finding(console: Console, f: Finding) -> None:
    from rich.text import Text

    console.print(
        Text(f"{f.pattern.value} at {f.component} ({f.score:.2f}): {f.summary}", style="bold")
    )
    for e in f.evidence:
        where = f"  [{e.source}]" if e.source else ""
        console.print(Text(f"  - {e.kind.value}: {e.text}{where}"))


def markdown(result: Diagnosis) -> str:
    out = ["# Incident diagnosis", "", f"**{headline(result)}**", ""]
    if result.action:
        out += [f"**Action:** {result.action}", ""]
    if result.ranking:
        out += ["## Ranking", "", "| # | component | score | onset |", "|---|---|---|---|"]
        out += [
            f"| {i} | {r.component} | {r.score:.2f} | {rfc3339(r.onset_ns) or ''} |"
            for i, r in enumerate(result.ranking[:_TOP], 1)
        ]
        out.append("")
    top = result.top_finding
    if top is not None:
        out += [f"## {top.pattern.value} at {top.component} ({top.score:.2f})", "", top.summary, ""]
        for e in top.evidence:
            where = f" (`{e.source}`)" if e.source else ""
            out.append(f"- {e.kind.value}: {_md(e.text)}{where}")
        out.append("")
    others = [f for f in result.findings if f is not top]
    if others:
        out += ["## Other findings", ""]
        out += [
            f"- {f.pattern.value} at {f.component} ({f.score:.2f}): {_md(f.summary)}"
            for f in others[: _TOP * 2]
        ]
        out.append("")
    whys = five_whys(result)
    if whys:
        out += ["## Five whys", ""]
        out += [f"{i}. **{q}** {_md(a)}" for i, (q, a) in enumerate(whys, 1)]
        out.append("")
    if result.graph.failing_path or result.graph.cycles:
        out += ["## Dependency graph", ""]
        if result.graph.failing_path:
            out.append("Failing path: " + " → ".join(result.graph.failing_path))
        out += ["Cycle: " + " → ".join((*c, c[0])) for c in result.graph.cycles]
        out.append("")
    if result.timeline:
        out += ["## Timeline", "", "| time (UTC) | service | what |", "|---|---|---|"]
        out += [
            f"| {rfc3339(e.ts_ns)} | {e.service} | {_md(e.text)} |"
            for e in result.timeline[:_TIMELINE]
        ]
        out.append("")
    notes = [f"- missing: {m}" for m in result.inputs.missing]
    notes += [f"- warning: {w}" for w in result.inputs.warnings]
    if notes:
        out += ["## Inputs", "", *notes, ""]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

"""Plain-text rendering of a report (pytest's terminal summary and the context manager)."""

from __future__ import annotations

from faultwise.races._model import Access, Finding, Hang, LockOrderCycle, Race, Report, Stack

_TITLES = {
    "data-race": "DATA RACE",
    "lockset-violation": "LOCKSET VIOLATION (no common lock)",
    "async-race": "ASYNC READ-MODIFY-WRITE ACROSS AWAIT",
}


def render_text(report: Report) -> str:
    """Every finding with its stacks, then a one-line total."""
    parts = [_finding(f) for f in report.findings]
    n = len(report.findings)
    total = f"{n} finding{'s' if n != 1 else ''}"
    if report.suppressed:
        total += f", {report.suppressed} suppressed"
    parts.append(
        f"faultwise races: {total} ({len(report.instrumented_modules)} modules instrumented)\n"
    )
    return "\n".join(parts)


def _finding(f: Finding) -> str:
    if isinstance(f, Race):
        return _race(f)
    if isinstance(f, LockOrderCycle):
        return _cycle(f)
    return _hang(f)


def _stack(stack: Stack, indent: str = "      ") -> list[str]:
    lines = []
    for frame in stack:
        lines.append(f"{indent}{frame}")
        if frame.source:
            lines.append(f"{indent}  {frame.source}")
    return lines


def _access(label: str, a: Access) -> list[str]:
    return [f"    {label.format(op=a.op)} by {a.thread}:", *_stack(a.stack)]


def _seen(test: str | None, count: int) -> str:
    times = f"{count} time{'s' if count != 1 else ''}"
    return f"  seen {times}, first in {test}" if test else f"  seen {times}"


def _race(r: Race) -> str:
    lines = [f"{_TITLES[str(r.kind)]} on {r.location.kind} {r.location}"]
    if r.other is not None:
        lines += _access("{op}", r.previous)
        lines += _access("then, after an await, {op}", r.current)
        lines += _access("while in between, a {op}", r.other)
    else:
        lines += _access("{op}", r.current)
        lines += _access("not ordered with the previous {op}", r.previous)
    lines.append(_seen(r.test, r.count))
    return "\n".join(lines) + "\n"


def _cycle(c: LockOrderCycle) -> str:
    order = " -> ".join([*c.locks, c.locks[0]])
    lines = ["LOCK-ORDER INVERSION (potential deadlock)", f"  order: {order}"]
    for e in c.edges:
        lines.append(f"    {e.acquired}")
        lines.append(f"      taken by {e.thread} while holding {e.held}, at:")
        lines += _stack(e.acquire_stack, "        ")
        lines.append("      the held lock was taken at:")
        lines += _stack(e.held_stack, "        ")
    lines.append(_seen(c.test, c.count))
    return "\n".join(lines) + "\n"


def _hang(h: Hang) -> str:
    lines = [f"HANG: {', '.join(h.waiting)} waited {h.waited:.1f} s; every thread:"]
    for t in h.threads:
        lines.append(f"    {t.name}" + (f" waiting for {t.waiting_for}" if t.waiting_for else ""))
        lines += _stack(t.stack)
    lines.append(_seen(h.test, h.count))
    return "\n".join(lines) + "\n"

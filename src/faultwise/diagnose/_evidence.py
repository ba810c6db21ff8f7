"""Small shared pieces for detectors: times as text, example log lines and spans as evidence."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from faultwise.diagnose._context import Context
from faultwise.diagnose._model import Evidence, EvidenceKind
from faultwise.diagnose._signals import FIRST, source_sql
from faultwise.telemetry._store import Params

__all__ = [
    "attributed",
    "clip",
    "example_lines",
    "example_spans",
    "matching_sql",
    "named_service",
    "rfc3339",
    "short_time",
]

_MAX_TEXT = 200


def rfc3339(ts_ns: int | None) -> str | None:
    """``2026-03-04T10:00:01.123456789Z`` (None stays None)."""
    if ts_ns is None:
        return None
    seconds, ns = divmod(int(ts_ns), 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns:09d}Z"


def short_time(ts_ns: int | None) -> str:
    """``10:00:01.123`` for summaries (UTC)."""
    if ts_ns is None:
        return "(no time)"
    seconds, ns = divmod(int(ts_ns), 1_000_000_000)
    clock = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%H:%M:%S")
    return f"{clock}.{ns // 1_000_000:03d}"


def clip(text: str, limit: int = _MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def example_lines(
    ctx: Context, condition: str, params: Params = None, *, limit: int = 3
) -> list[Evidence]:
    """The first ``limit`` log lines of the incident matching ``condition``, with file:line
    and trace id: the lines a person opens first."""
    rows = ctx.query(
        f"SELECT ts_ns, service, message, {source_sql(ctx.dialect)}, trace_id FROM logs "
        f"WHERE {ctx.when('ts_ns')} AND ({condition}) "
        f"ORDER BY ts_ns NULLS LAST, source_file, source_line LIMIT {int(limit)}",
        params,
    )
    found = []
    for ts, service, message, source, trace in rows:
        where = f" (trace {trace})" if trace else ""
        text = f"{short_time(ts)} {service}: {clip(message)}{where}"
        found.append(Evidence(EvidenceKind.LOG, text, source))
    return found


def example_spans(
    ctx: Context, condition: str, params: Params = None, *, limit: int = 3
) -> list[Evidence]:
    """The longest ``limit`` spans matching ``condition`` (trace id, operation, duration)."""
    rows = ctx.query(
        "SELECT trace_id, service, name, (end_ns - start_ns) AS dur, status FROM spans "
        f"WHERE {ctx.when('start_ns')} AND ({condition}) ORDER BY dur DESC LIMIT {int(limit)}",
        params,
    )
    found = []
    for trace, service, name, dur, status in rows:
        failed = ", failed" if status == 2 else ""
        text = f"trace {trace}: {service} {clip(name or '', 80)} took {dur / 1e6:.0f} ms{failed}"
        found.append(Evidence(EvidenceKind.SPAN, text, f"trace:{trace}", dur / 1e9))
    return found


def named_service(text: str | None, services: Iterable[str], own: str | None = None) -> str | None:
    """The service other than ``own`` that ``text`` names last (in "call to checkout failed:
    call to orders failed: ..." the last one named is the deepest), or None."""
    best: tuple[int, str] | None = None
    if not text:
        return None
    for service in services:
        if service == own:
            continue
        for m in re.finditer(rf"(?<![\w-]){re.escape(service)}(?![\w-])", text, re.I):
            if best is None or m.start() > best[0]:
                best = (m.start(), service)
    return best[1] if best else None


def attributed(
    ctx: Context, rows: Iterable[tuple[str, int, int | None, int | None, str]]
) -> dict[str, tuple[int, int | None, int | None]]:
    """Counts of matching lines per service, from ``(service, n, first, last, example)``
    rows of one message shape each: a line that names another service ("call to orders
    failed: deadlock detected") counts for the service it names, where the trouble is."""
    found: dict[str, list[int | None]] = defaultdict(lambda: [0, None, None])
    for service, n, first, last, example in rows:
        owner = named_service(example, ctx.graph.nodes, service) or service
        acc = found[owner]
        acc[0] = int(acc[0] or 0) + int(n)
        acc[1] = first if acc[1] is None or (first is not None and first < acc[1]) else acc[1]
        acc[2] = last if acc[2] is None or (last is not None and last > acc[2]) else acc[2]
    return {k: (int(v[0] or 0), v[1], v[2]) for k, v in found.items()}


def matching_sql(ctx: Context, pattern: str, words: Sequence[str] = ()) -> str:
    """Lines matching ``pattern`` per service and message shape: the rows
    :func:`attributed` takes."""
    d = ctx.dialect
    return (
        f"SELECT service, count(*), min(ts_ns), max(ts_ns), {d.arg_min('message', FIRST)} "
        f"FROM logs WHERE {ctx.when('ts_ns')} AND service IS NOT NULL "
        f"AND {d.matches('message', pattern, words)} GROUP BY service, {d.shape('message')}"
    )

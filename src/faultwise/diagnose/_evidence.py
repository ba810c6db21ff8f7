"""Small shared pieces for detectors: times as text, example log lines and spans as evidence."""

from __future__ import annotations

import datetime as dt

from faultwise.diagnose._context import Context
from faultwise.diagnose._model import Evidence, EvidenceKind
from faultwise.diagnose._signals import SOURCE_SQL
from faultwise.telemetry._store import Params

__all__ = ["clip", "example_lines", "example_spans", "rfc3339", "short_time"]

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
        f"SELECT ts_ns, service, message, {SOURCE_SQL}, trace_id FROM logs "
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

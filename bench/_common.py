"""Small helpers shared by the benchmarks: CPU timing, interleaved rounds, tables, JSON.

Times are CPU time of this process (``time.process_time_ns``), so other load on a shared
machine does not count; cases run in interleaved rounds and each keeps its best round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

__all__ = ["arguments", "async_ns_per_call", "best_ns_per_call", "emit", "table"]


def arguments(description: str) -> argparse.Namespace:
    """``--quick`` (short runs while developing) and ``--json`` (one object on stdout)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args()


def _loop(fn: Callable[[], object], number: int) -> int:
    started = time.process_time_ns()
    for _ in range(number):
        fn()
    return time.process_time_ns() - started


async def _aloop(fn: Callable[[], Awaitable[object]], number: int) -> int:
    started = time.process_time_ns()
    for _ in range(number):
        await fn()
    return time.process_time_ns() - started


def best_ns_per_call(
    cases: dict[str, Callable[[], object]], *, number: int, rounds: int
) -> dict[str, float]:
    """Nanoseconds per call of each case: the best of ``rounds`` interleaved rounds."""
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            best[name] = min(best[name], _loop(fn, number) / number)
    return best


def async_ns_per_call(
    cases: dict[str, Callable[[], Awaitable[object]]], *, number: int, rounds: int
) -> dict[str, float]:
    """Like :func:`best_ns_per_call` for coroutine functions, awaited in one event loop."""

    async def main() -> dict[str, float]:
        best = {name: float("inf") for name in cases}
        for _ in range(rounds):
            for name, fn in cases.items():
                best[name] = min(best[name], await _aloop(fn, number) / number)
        return best

    return asyncio.run(main())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        columns = zip(row, widths, numeric, strict=True)
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in columns).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(result: dict[str, Any]) -> None:
    """Print ``result`` as one JSON object."""
    print(json.dumps(result, indent=2, sort_keys=False))

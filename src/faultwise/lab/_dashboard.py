"""Terminal rendering for the lab: a live dashboard of a run, and the summary table (rich)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from faultwise.lab._live_storm import Tick
from faultwise.lab._storm import POLICY_LABELS, StormResult

__all__ = ["live_dashboard", "summary_table"]


def _tick_table(tick: Tick | None, title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False)
    for column in ("run", "t", "phase", "offered/s", "goodput/s", "p99", "attempts/req",
                   "server queue", "breaker"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("run", "phase") else "right")
    if tick is not None:
        phase_style = {"TRIGGER": "bold red", "after": "yellow"}.get(tick.phase, "")
        good_style = "green" if tick.goodput_rps >= 0.9 * tick.offered_rps else "bold red"
        table.add_row(
            POLICY_LABELS[tick.policy],
            f"{tick.elapsed:4.0f}s",
            f"[{phase_style}]{tick.phase}[/]" if phase_style else tick.phase,
            f"{tick.offered_rps:.0f}",
            f"[{good_style}]{tick.goodput_rps:.0f}[/]",
            "-" if tick.p99_s is None else f"{tick.p99_s:.2f}s",
            f"{tick.attempts_per_request:.2f}",
            str(tick.queue),
            tick.breaker,
        )
    return table


@contextmanager
def live_dashboard(console: Any, title: str) -> Iterator[Any]:
    """A rich ``Live`` view; yields ``update(tick)`` for the run to call."""
    from rich.live import Live

    with Live(_tick_table(None, title), console=console, refresh_per_second=4) as live:

        def update(tick: Tick) -> None:
            live.update(_tick_table(tick, title))

        yield update


def summary_table(results: Sequence[StormResult]) -> Any:
    """The headline numbers of each run, one row per policy."""
    from rich.table import Table

    table = Table(title="retry storm", title_justify="left")
    for column in ("policy", "goodput during trigger", "recovery after trigger",
                   "attempts/request", "p99", "goodput, last 10 s"):  # fmt: skip
        table.add_column(column, justify="left" if column == "policy" else "right")
    for result in results:
        s = result.summary
        recovery = "[bold red]never[/]" if s.recovery_s is None else f"{s.recovery_s:.0f} s"
        table.add_row(
            POLICY_LABELS[result.policy],
            f"{s.goodput_during:.0%} of capacity",
            recovery,
            f"{s.attempts_per_request:.2f}",
            f"{s.p99_s:.2f} s",
            f"{s.goodput_after:.0%}",
        )
    return table

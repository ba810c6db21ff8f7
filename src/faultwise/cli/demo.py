"""``faultwise demo``: watch a retry storm happen live, then watch the defenses stop it."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from faultwise.cli._exit import ExitCode

HELP = "a retry storm live on 127.0.0.1, without then with defenses, then its diagnosis (~75 s)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help="write telemetry and the report here (default: a new temp dir)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the load's arrival times")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from faultwise._errors import require

    for module in ("starlette", "uvicorn"):
        require(module, "lab")
    from faultwise.cli._output import console, emit_json
    from faultwise.lab._dashboard import live_dashboard, summary_table
    from faultwise.lab._demo import DEMO_RUNS, SCALE_NOTE, run_demo
    from faultwise.lab._diagnose import telemetry_paths

    out: Path = args.out or Path(tempfile.mkdtemp(prefix="faultwise-demo-"))
    if args.json:
        emit_json(run_demo(out, seed=args.seed).as_json())
        return ExitCode.OK
    term = console()
    term.print("[bold]faultwise demo[/]: a retry storm on 127.0.0.1, without then with defenses")
    term.print(f"[dim]{SCALE_NOTE}[/]")
    with live_dashboard(term, "live (offered load is open loop: it never slows down)") as update:
        result = run_demo(out, seed=args.seed, on_tick=update)
    term.print(summary_table(result.runs))
    term.print(result.headline(), markup=False)
    term.print(result.verdict.describe(), markup=False)
    term.print(f"telemetry: {result.out}")
    # a command to copy (never wrapped): the run's telemetry, without its truth and stderr
    paths = " ".join(telemetry_paths(result.out / DEMO_RUNS[0].value))
    term.print(f"diagnose it yourself: faultwise diagnose {paths}", soft_wrap=True, markup=False)
    term.print(f"report: {result.report}")
    term.print(f"[dim]side by side: {result.comparison}[/]")
    return ExitCode.OK

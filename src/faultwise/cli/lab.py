"""``faultwise lab``: run an outage scenario (sim or live), or serve the fault proxy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from faultwise.cli._exit import ExitCode

if TYPE_CHECKING:
    from faultwise.lab._diagnose import Verdict
    from faultwise.lab._scenarios import Scenario, ScenarioResult

HELP = "rehearse outages: run a scenario without and with defenses, or serve the fault proxy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faultwise.lab._scenarios import Scenario

    sub = parser.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run a scenario, without then with its defense")
    run.add_argument("scenario", choices=[s.value for s in Scenario])
    run.add_argument("--mode", choices=["sim", "live"], default="sim")
    run.add_argument(
        "--only", choices=["without", "with"], help="run one side only (default: both)"
    )
    run.add_argument("--out", type=Path, help="write telemetry and truth.json under this dir")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument(
        "--postgres", metavar="URL", help="live: use this PostgreSQL (a table of its own per run)"
    )
    run.add_argument(
        "--rabbitmq",
        metavar="URL",
        default=None,
        help="live: the RabbitMQ for silent-failure (default amqp://guest:guest@127.0.0.1:5672/ "
        "when reachable; 'none': the built-in queue)",
    )
    run.add_argument(
        "--duration", type=float, metavar="S", help="live: seconds of load (default: per scenario)"
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    sub.add_parser("list", help="list the scenarios")
    proxy = sub.add_parser("proxy", help="serve the fault proxy (Toxiproxy's HTTP API)")
    proxy.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    proxy.add_argument("--port", type=int, default=8474, help="API port (Toxiproxy's: 8474)")


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "list":
        return _list()
    if args.lab_command == "proxy":
        return _proxy(args)
    return _run(args)


def _list() -> int:
    from faultwise.cli._output import emit_text
    from faultwise.lab._scenarios import SUMMARIES

    for scenario, summary in SUMMARIES.items():
        emit_text(f"{scenario.value:<18} {summary}")
    return ExitCode.OK


def _proxy(args: argparse.Namespace) -> int:
    import asyncio

    from faultwise._errors import require
    from faultwise.cli._output import console

    require("uvicorn", "lab")
    from faultwise.lab._proxy import FaultProxy, ProxyError

    try:
        console(stderr=True).print(f"fault proxy API on http://{args.host}:{args.port}")
        asyncio.run(FaultProxy().serve(args.host, args.port))
    except ProxyError as exc:
        from faultwise._errors import InputError

        raise InputError(str(exc)) from exc
    return ExitCode.OK


def _run(args: argparse.Namespace) -> int:
    from faultwise._errors import InputError
    from faultwise.lab._diagnose import diagnose_run
    from faultwise.lab._scenarios import Scenario, run_scenario_sim

    scenario = Scenario(args.scenario)
    sides = {"without": [False], "with": [True]}.get(args.only, [False, True])
    if args.mode == "sim" and (args.postgres or args.rabbitmq or args.duration):
        raise InputError("--postgres, --rabbitmq and --duration apply to --mode live")
    if args.duration is not None and not 2.0 <= args.duration <= 600.0:
        raise InputError(f"--duration must be within 2..600 s, got {args.duration:g}")
    results: list[ScenarioResult] = []
    verdicts = []
    for defended in sides:
        out = args.out / ("with" if defended else "without") if args.out else None
        if args.mode == "live":
            result = _run_live(scenario, defended, args, out)
        else:
            result = run_scenario_sim(scenario, defended=defended, seed=args.seed, out=out)
        results.append(result)
        verdicts.append(diagnose_run(out) if out is not None else None)
    _render(args, scenario, results, verdicts)
    without = [r for r in results if not r.defended]
    with_defenses = [r for r in results if r.defended]
    expected = all(r.outage for r in without) and not any(r.outage for r in with_defenses)
    return ExitCode.OK if expected else ExitCode.FOUND


def _run_live(
    scenario: Scenario, defended: bool, args: argparse.Namespace, out: Path | None
) -> ScenarioResult:
    from faultwise._errors import require
    from faultwise.lab._live import DEFAULT_RABBITMQ, LiveOptions
    from faultwise.lab._live_scenarios import run_scenario_live

    for module in ("starlette", "uvicorn"):
        require(module, "lab")
    rabbitmq = args.rabbitmq or DEFAULT_RABBITMQ
    options = LiveOptions(
        postgres=args.postgres,
        rabbitmq=None if rabbitmq.lower() == "none" else rabbitmq,
        duration=args.duration,
    )
    return run_scenario_live(scenario, defended=defended, seed=args.seed, out=out, options=options)


def _render(
    args: argparse.Namespace,
    scenario: Scenario,
    results: list[ScenarioResult],
    verdicts: list[Verdict | None],
) -> None:
    from faultwise.cli._output import console, emit_json

    if args.json:
        emit_json(
            {
                "scenario": scenario.value,
                "mode": args.mode,
                "runs": [
                    {**r.as_json(), "diagnosis": v.as_json() if v else None}
                    for r, v in zip(results, verdicts, strict=True)
                ],
            }
        )
        return
    term = console()
    for result, verdict in zip(results, verdicts, strict=True):
        side = "with defenses   " if result.defended else "without defenses"
        mark = "[bold red]OUTAGE[/]" if result.outage else "[green]ok[/]"
        term.print(f"{scenario.value} {side} {mark}  {result.headline}")
        for note in result.notes:
            term.print(f"  [dim]{note}[/]")
        if verdict is not None:
            term.print(f"  {verdict.describe()}", markup=False)
        if result.out is not None:
            term.print(f"  [dim]telemetry: {result.out}[/]")

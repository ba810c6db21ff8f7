"""``faultwise templates PATH...``: the log templates of the inputs, with counts and times."""

from __future__ import annotations

import argparse

from faultwise.cli._exit import ExitCode

HELP = "mine log templates: each message shape with its count, first and last time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faultwise.telemetry._arguments import add_input_arguments

    add_input_arguments(parser)
    parser.add_argument("--service", action="append", default=[], help="only this service")
    parser.add_argument(
        "--top", type=int, default=None, help="show only the N most frequent templates"
    )


def run(args: argparse.Namespace) -> int:
    from faultwise.cli._output import console, emit_json
    from faultwise.diagnose._render_inputs import open_store, render_inputs
    from faultwise.diagnose._render_templates import templates_json, templates_text
    from faultwise.telemetry._templates import template_report

    with open_store(args) as store:
        report = template_report(store, services=args.service)
        inputs = store.summary
    if args.json:
        emit_json(templates_json(report, inputs))
        return ExitCode.OK
    out = console()
    render_inputs(inputs, out, show_rejects=args.show_rejects)
    templates_text(report, out, top=args.top)
    return ExitCode.OK

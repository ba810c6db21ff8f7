"""``faultwise trace ID PATH...``: follow one request across services."""

from __future__ import annotations

import argparse

from faultwise.cli._exit import ExitCode

HELP = "every log line and span of one trace or request id, its span tree and where it stopped"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faultwise.telemetry._arguments import add_input_arguments

    parser.add_argument("id", metavar="ID", help="a trace id, request id, or a unique prefix")
    add_input_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from faultwise.cli._output import console, emit_json
    from faultwise.diagnose._render_inputs import open_store, render_inputs
    from faultwise.diagnose._render_trace import trace_json, trace_text
    from faultwise.diagnose.trace import follow

    with open_store(args, templates=False) as store:  # a trace needs no templates
        result = follow(store, args.id)
    if args.json:
        emit_json(trace_json(result))
        return ExitCode.OK
    out = console()
    render_inputs(result.inputs, out, show_rejects=args.show_rejects)
    trace_text(result, out)
    return ExitCode.OK

"""``faultwise timeline PATH...``: one chronological view across services."""

from __future__ import annotations

import argparse

from faultwise.cli._exit import ExitCode

HELP = "merge logs of every service into one timeline, with first errors, new templates and changes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faultwise.telemetry._arguments import add_input_arguments

    add_input_arguments(parser)
    parser.add_argument("--service", action="append", default=[], help="only this service")
    parser.add_argument("--since", metavar="TIME", help="from this time (RFC 3339 or HH:MM)")
    parser.add_argument("--until", metavar="TIME", help="up to this time")
    parser.add_argument("--around", metavar="TIME", help="centre the view on this time")
    parser.add_argument(
        "--window", metavar="DURATION", default="5m", help="width around --around (default 5m)"
    )
    parser.add_argument(
        "--level",
        metavar="LEVEL",
        help="only this level and worse (trace, debug, info, warn, error, fatal)",
    )
    parser.add_argument("--grep", metavar="REGEX", help="only messages matching (ignores case)")
    parser.add_argument(
        "--no-collapse", action="store_true", help="show every repeat on its own row"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="at most this many rows (terminal default 500)"
    )


def run(args: argparse.Namespace) -> int:
    from faultwise._errors import InputError
    from faultwise.cli._output import console, emit_json
    from faultwise.diagnose._render_inputs import open_store, render_inputs
    from faultwise.diagnose._render_timeline import timeline_json, timeline_text
    from faultwise.diagnose.timeline import (
        TimelineQuery,
        build_timeline,
        parse_duration,
        parse_time,
    )
    from faultwise.telemetry import Severity

    with open_store(args) as store:
        since = parse_time(args.since, store) if args.since else None
        until = parse_time(args.until, store) if args.until else None
        if args.around:
            centre, half = parse_time(args.around, store), parse_duration(args.window) // 2
            since, until = centre - half, centre + half
        level = Severity.UNKNOWN
        if args.level:
            try:
                level = Severity[args.level.upper().replace("WARNING", "WARN")]
            except KeyError:
                raise InputError(f"unknown --level {args.level!r}") from None
        limit = args.limit if args.limit is not None else (None if args.json else 500)
        query = TimelineQuery(
            services=tuple(args.service),
            since_ns=since,
            until_ns=until,
            min_severity=level,
            grep=args.grep,
            collapse=not args.no_collapse,
            limit=limit,
        )
        timeline = build_timeline(store, query)
    if args.json:
        emit_json(timeline_json(timeline))
        return ExitCode.OK
    out = console()
    render_inputs(timeline.inputs, out, show_rejects=args.show_rejects)
    timeline_text(timeline, out)
    return ExitCode.OK

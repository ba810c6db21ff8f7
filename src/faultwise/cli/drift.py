"""``faultwise drift``: configuration drift between environments, and over time."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from faultwise._errors import InputError
from faultwise.cli._exit import ExitCode

if TYPE_CHECKING:
    from faultwise.drift import DriftConfig, DriftReport

HELP = "compare configuration between environments; exit 1 on unexpected drift"

_USAGE = """faultwise drift [options] SOURCE SOURCE [SOURCE ...]
       faultwise drift snapshot [options] SOURCE [SOURCE ...] > baseline.json
       faultwise drift check [options] BASELINE SOURCE [SOURCE ...]"""

_EPILOG = """A SOURCE is a file or a directory (read as one environment): env dumps
(env, kubectl exec POD -- env), .env files, JSON, YAML, TOML, INI, Kubernetes manifests
(workloads, ConfigMaps, Secrets) and Helm values. Expected differences, extra killer and secret
keys come from .faultwise-drift.toml or [tool.faultwise.drift] in pyproject.toml, found from
the current directory upward, or from --config. Secrets are never printed. Exit codes: 0 no
unexpected drift, 1 unexpected drift, 2 bad usage or unreadable input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from faultwise.drift import Format

    parser.usage = _USAGE
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="file or directory")
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME",
        help="name of the next environment, in order (default: from the file or directory name)",
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in Format],
        default=Format.AUTO.value,
        help="read every source as this kind instead of detecting it",
    )
    parser.add_argument(
        "--all", action="store_true", dest="show_all", help="show every key, not only differences"
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="GLOB",
        help="keys allowed to differ between any environments (adds to the config)",
    )
    config = parser.add_mutually_exclusive_group()
    config.add_argument("--config", metavar="PATH", help="the drift config file to use")
    config.add_argument(
        "--no-config", action="store_true", help="ignore config files: built-in rules only"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print Markdown")
    parser.add_argument(
        "--show-rejects", action="store_true", help="list skipped input lines and files"
    )


def run(args: argparse.Namespace) -> int:
    from faultwise.drift import Format

    mode, sources = "compare", list(args.sources)
    if sources[0] in {"snapshot", "check"}:
        mode, sources = sources[0], sources[1:]
    config = _config(args)
    fmt = Format(args.format)
    if mode == "snapshot":
        return _snapshot(sources, args.name, fmt, config)
    if mode == "check":
        return _check(args, sources, fmt, config)
    if len(sources) < 2:
        raise InputError(
            "give at least two environments to compare (or: faultwise drift snapshot SOURCE...)"
        )
    from faultwise.drift import compare, read_environments

    report = compare(
        read_environments(sources, names=args.name, format=fmt),
        config=config,
        include_same=args.show_all,
    )
    _render(args, [report], ["drift"], config, extra={})
    return ExitCode.FOUND if report.has_unexpected else ExitCode.OK


def _config(args: argparse.Namespace) -> DriftConfig:
    from pathlib import Path

    from faultwise.drift import DriftConfig, find_config, load_config

    if args.no_config:
        config = DriftConfig()
    elif args.config:
        config = load_config(Path(args.config))
    else:
        found = find_config(Path.cwd())
        config = load_config(found) if found else DriftConfig()
    return config.allowing(tuple(args.allow))


def _snapshot(sources: list[str], names: list[str], fmt: Any, config: DriftConfig) -> int:
    import datetime as dt

    from faultwise.cli._output import emit_json
    from faultwise.drift import read_environments, take_snapshot

    if not sources:
        raise InputError("give the sources to snapshot: faultwise drift snapshot SOURCE...")
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    envs = read_environments(sources, names=names, format=fmt)
    emit_json(take_snapshot(envs, created=created, config=config).to_json())
    return ExitCode.OK


def _check(args: argparse.Namespace, sources: list[str], fmt: Any, config: DriftConfig) -> int:
    from pathlib import Path

    from faultwise.drift import check_snapshot, load_snapshot, read_environments

    if len(sources) < 2:
        raise InputError("give a baseline and sources: faultwise drift check BASELINE SOURCE...")
    snapshot = load_snapshot(Path(sources[0]))
    envs = read_environments(sources[1:], names=args.name, format=fmt)
    reports = check_snapshot(snapshot, envs, config=config, include_same=args.show_all)
    titles = [f"{env.name} since {snapshot.created}" for env in envs]
    extra = {"baseline": {"path": sources[0], "created": snapshot.created}}
    _render(args, reports, titles, config, extra=extra)
    return ExitCode.FOUND if any(r.has_unexpected for r in reports) else ExitCode.OK


def _render(
    args: argparse.Namespace,
    reports: list[DriftReport],
    titles: list[str],
    config: DriftConfig,
    *,
    extra: dict[str, Any],
) -> None:
    from faultwise.cli._output import console, emit_json, emit_text
    from faultwise.drift._render import markdown, report_json, terminal

    if args.json:
        data = [report_json(r) for r in reports]
        body = data[0] if not extra else {"checks": data}
        emit_json({**extra, "config": config.path, **body})
    elif args.markdown:
        title = "Configuration drift"
        emit_text(
            "\n".join(
                markdown(r, title=t if extra else title, show_rejects=args.show_rejects)
                for r, t in zip(reports, titles, strict=True)
            )
        )
    else:
        terminal(reports, console(), titles=titles, show_rejects=args.show_rejects)

"""``faultwise rules``: Prometheus alerting rules for the metrics faultwise.observe exports."""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING, Any

from faultwise._errors import InputError
from faultwise.cli._exit import ExitCode

if TYPE_CHECKING:
    from faultwise.observe._rules import RuleGroup

HELP = "print Prometheus alerting rules for faultwise.observe's metrics"

_EPILOG = """Rules: HttpRouteErrorRate, HttpRouteLatencyP99, DbPoolPinnedAtMax, DbPoolTimeouts,
CircuitBreakerOpen, RetryRatioHigh. Save the output as a rule file and list it under
rule_files in prometheus.yml; check it with `promtool check rules FILE`."""

_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _duration(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise argparse.ArgumentTypeError(f"not a Prometheus duration: {value!r} (e.g. 30s, 5m)")
    return value


def _ratio(value: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < ratio < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {value!r}")
    return ratio


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    parser.add_argument(
        "--selector",
        default="",
        metavar="MATCHERS",
        help="label matchers added to every series, e.g. 'job=\"checkout\"'",
    )
    parser.add_argument(
        "--by",
        default="job",
        metavar="LABELS",
        help="comma-separated labels alerts are kept apart by (default: job)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label added to every alert (repeatable), e.g. team=payments",
    )
    parser.add_argument("--window", type=_duration, default="5m", help="rate window (5m)")
    parser.add_argument(
        "--error-ratio", type=_ratio, default=0.05, help="5xx share of a route's requests (0.05)"
    )
    parser.add_argument(
        "--p99", type=float, default=1.0, metavar="SECONDS", help="p99 latency per route (1.0)"
    )
    parser.add_argument(
        "--pool-pinned-for",
        type=_duration,
        default="30s",
        help="how long a pool stays at max before it alerts (30s)",
    )
    parser.add_argument(
        "--breaker-open-for", type=_duration, default="1m", help="open breaker alerts after (1m)"
    )
    parser.add_argument(
        "--retry-ratio", type=_ratio, default=0.1, help="retries per outgoing call (0.1)"
    )
    parser.add_argument("--group", default="faultwise", help="rule group name (faultwise)")
    parser.add_argument("--json", action="store_true", help="print the rules as JSON")


def run(args: argparse.Namespace) -> int:
    from faultwise.cli._output import emit_json, emit_text
    from faultwise.observe._rules import RuleOptions, alert_rules

    by = tuple(label.strip() for label in args.by.split(",") if label.strip())
    labels = []
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not _LABEL.fullmatch(key):
            raise InputError(f"--label wants KEY=VALUE with a valid label name, got {item!r}")
        labels.append((key, value))
    bad = [label for label in by if not _LABEL.fullmatch(label)]
    if bad:
        raise InputError(f"--by has invalid label names: {', '.join(bad)}")
    if args.p99 <= 0:
        raise InputError(f"--p99 must be positive, got {args.p99}")
    group = alert_rules(
        RuleOptions(
            selector=args.selector.strip().strip("{}"),
            by=by,
            window=args.window,
            error_ratio=args.error_ratio,
            p99_seconds=args.p99,
            pool_pinned_for=args.pool_pinned_for,
            breaker_open_for=args.breaker_open_for,
            retry_ratio=args.retry_ratio,
            group=args.group,
            labels=tuple(labels),
        )
    )
    if args.json:
        emit_json(to_document(group))
    else:
        emit_text(to_yaml(group))
    return ExitCode.OK


def to_document(group: RuleGroup) -> dict[str, Any]:
    """The rule file as data: ``{"groups": [{"name", "rules": [...]}]}``."""
    rules = []
    for rule in group.rules:
        rules.append(
            {
                "alert": rule.alert,
                "expr": rule.expr,
                "for": rule.for_,
                "labels": {"severity": rule.severity, **dict(rule.labels)},
                "annotations": {"summary": rule.summary, "description": rule.description},
            }
        )
    return {"groups": [{"name": group.name, "rules": rules}]}


def _scalar(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: safe for braces, quotes and colons.
    return json.dumps(value, ensure_ascii=False)


def to_yaml(group: RuleGroup) -> str:
    """The rule file in Prometheus' YAML form, expressions as literal blocks."""
    doc = to_document(group)["groups"][0]
    lines = ["groups:", f"  - name: {_scalar(doc['name'])}", "    rules:"]
    for rule in doc["rules"]:
        lines.append(f"      - alert: {rule['alert']}")
        lines.append("        expr: |-")
        lines.extend(f"          {line}" for line in rule["expr"].splitlines())
        lines.append(f"        for: {rule['for']}")
        for section in ("labels", "annotations"):
            lines.append(f"        {section}:")
            lines.extend(f"          {k}: {_scalar(v)}" for k, v in rule[section].items())
    return "\n".join(lines) + "\n"

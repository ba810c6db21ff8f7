"""config_drift: configuration that differs between instances of a service, or that changed,
lining up with the incident.

The ``configs`` table (one environment per configuration file, read by
:mod:`faultwise.drift`) is compared with :func:`faultwise.drift.compare`, which knows the
keys that take production down (pools, timeouts, retries, limits, flags) and keeps secrets
hashed. An environment belongs to the service whose name it starts with (``payments-0``,
``payments-7d9f8b6c5d-x2x9k``). A difference counts for this incident when the service (or a
caller) shows symptoms, more so when a configuration change or reload was logged shortly
before the onset, and when the errors come from the instances whose configuration differs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._signals import error_sql

if TYPE_CHECKING:
    from faultwise.drift import KeyDrift

__all__ = ["detect"]

PATTERN = Pattern.CONFIG_DRIFT

RELOADS = (
    r"(?i)((config(uration)?|settings|properties)\b.{0,40}\b(re)?load(ed|ing)?\b"
    r"|reloaded (the )?(config|settings)|config(uration)? (changed|updated)"
    r"|configmap .{0,60}(updated|changed))"
)
_LEAD_NS = 600_000_000_000  # a change up to 10 minutes before the onset lines up with it
RELOAD_WORDS = ("load", "changed", "updated")

_DIFFERING_SQL = """
SELECT environment, source, key, value FROM configs
WHERE key IN (SELECT key FROM configs GROUP BY key
              HAVING count(DISTINCT value) > 1
                  OR count(*) < (SELECT count(DISTINCT environment) FROM configs))
ORDER BY environment, key"""

_ENVIRONMENTS_SQL = "SELECT DISTINCT environment FROM configs ORDER BY 1"


def _reloads_sql(ctx: Context) -> str:
    d = ctx.dialect
    return (
        "SELECT ts_ns, service, coalesce(instance, ''), 'log' FROM logs "
        f"WHERE {ctx.when('ts_ns')} AND {d.matches('message', RELOADS, RELOAD_WORDS)} UNION ALL "
        "SELECT ts_ns, service, '', 'change' FROM changes "
        f"WHERE {ctx.when('ts_ns')} AND kind = 'config'"
    )


def _errors_by_instance_sql(ctx: Context) -> str:
    return (
        f"SELECT coalesce(instance, source_file), sum(CASE WHEN {error_sql(ctx.dialect)} "
        f"THEN 1 ELSE 0 END) FROM logs WHERE {ctx.when('ts_ns')} AND service = ? GROUP BY 1"
    )


def owner(environment: str, services: list[str]) -> str | None:
    """The service an environment belongs to: the longest service name it starts with."""
    for service in sorted(services, key=len, reverse=True):
        if re.match(rf"{re.escape(service)}([-_.@]|$)", environment, re.I):
            return service
    return None


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("configs"):
        return []
    from faultwise.drift import ConfigEntry, Environment, ValueType, compare

    services = sorted(set(ctx.services) | set(ctx.graph.nodes))
    groups: dict[str, list[str]] = defaultdict(list)
    for (environment,) in ctx.query(_ENVIRONMENTS_SQL):
        service = owner(environment, services)
        if service is not None:
            groups[service].append(environment)
    entries: dict[str, dict[str, ConfigEntry]] = defaultdict(dict)
    for environment, source, key, value in ctx.query(_DIFFERING_SQL):
        entries[environment][key] = ConfigEntry(key, value, ValueType.TEXT, source)
    reloads = ctx.query(_reloads_sql(ctx)) if ctx.has("logs") or ctx.has("changes") else []
    findings = []
    for service, names in sorted(groups.items()):
        if len(names) < 2:
            continue
        report = compare([Environment(n, entries.get(n, {})) for n in names])
        drifts = report.unexpected
        if not drifts:
            continue
        killers = [k for k in drifts if k.killer is not None]
        score = 0.55 if killers else 0.3
        shown = (killers or list(drifts))[:3]
        evidence = [Evidence(EvidenceKind.CONFIG, k.summary(), _source(k)) for k in shown]
        onset = _onset(ctx, service)
        if onset is not None:
            score += 0.15
        changed = [
            (ts, svc, inst, kind)
            for ts, svc, inst, kind in reloads
            if (svc == service or any(inst == n for n in names))
            and onset is not None
            and onset - _LEAD_NS <= ts <= onset + 2 * ctx.width_ns
        ]
        if changed:
            score += 0.15
            ts, _svc, inst, kind = changed[0]
            where = f" on {inst}" if inst else ""
            evidence.append(
                Evidence(
                    EvidenceKind.LOG if kind == "log" else EvidenceKind.CONFIG,
                    f"configuration changed{where} at {short_time(ts)}, "
                    f"{(onset - ts) / 1e9:.0f} s before the first symptom at "
                    f"{short_time(onset)}",
                    None,
                    (onset - ts) / 1e9,
                )
            )
            condition = f"service = ? AND {ctx.dialect.matches('message', RELOADS, RELOAD_WORDS)}"
            evidence += example_lines(ctx, condition, [service], limit=1)
        odd = _odd_ones(shown[0].groups)
        share = _error_share(ctx, service, odd)
        if share is not None and share >= 0.8:
            score += 0.15
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{100 * share:.0f} % of {service}'s errors come from "
                    f"{', '.join(odd)}, whose configuration differs",
                    None,
                    round(share, 3),
                )
            )
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"the instances of {service} run with different configuration: "
                f"{shown[0].summary()}",
                evidence=tuple(evidence),
                action=(
                    f"Roll {', '.join(odd) or service} back to the configuration the others run "
                    f"({shown[0].key}), and gate deploys on `faultwise drift` so an unexpected "
                    "difference fails the pipeline."
                ),
                start_ns=changed[0][0] if changed else onset,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings


def _source(drift: KeyDrift) -> str | None:
    """Where the odd value was read (``file:line``), else where any value was."""
    odd = set(_odd_ones(drift.groups))
    pairs = list(zip(drift.environments, drift.values, strict=True))
    for _, value in sorted(pairs, key=lambda p: p[0] not in odd):
        if value is not None and value.source:
            return value.source
    return None


def _onset(ctx: Context, service: str) -> int | None:
    times = [ctx.onset(s) for s in (service, *ctx.graph.callers(service))]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def _odd_ones(groups: tuple[tuple[str, ...], ...]) -> list[str]:
    """The environments outside the largest group of equal values."""
    if not groups:
        return []
    largest = max(groups, key=len)
    return sorted(e for g in groups if g is not largest for e in g)


def _error_share(ctx: Context, service: str, odd: list[str]) -> float | None:
    if not odd or not ctx.has("logs"):
        return None
    rows = ctx.query(_errors_by_instance_sql(ctx), [service])
    total = sum(int(n or 0) for _, n in rows)
    if not total:
        return None
    mine = sum(int(n or 0) for inst, n in rows if any(o in str(inst) for o in odd))
    return mine / total

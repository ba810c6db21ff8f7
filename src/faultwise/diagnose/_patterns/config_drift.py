"""config_drift: configuration that differs between instances of a service, or that changed,
lining up with the incident.

The ``configs`` table (one environment per configuration file, read by
:mod:`faultwise.drift`) is compared with :func:`faultwise.drift.compare`, which knows the
keys that take production down (pools, timeouts, retries, limits, flags) and keeps secrets
hashed. An environment belongs to a service by, in order: its name (a file suffix such as
``.json`` set aside) being an instance the telemetry names (``instance`` of logs or
samples), its own configuration naming the service (``service: payments``,
``spring.application.name``), or its name starting with the service's (``payments-0``,
``payments-7d9f8b6c5d-x2x9k``). A difference counts for this incident when the service (or
a caller) shows symptoms (a moved signal, or errors), more so when a configuration change
or reload was logged shortly before the onset, when the errors come from the instances
whose configuration differs, and when those errors speak of what the differing key
controls (a pool key and pool timeouts, a timeout key and timeouts): then the drift is the
cause and the pool or timeout errors its mechanism.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._signals import error_sql
from faultwise.diagnose._sql import literal

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

# keys whose value names the service an environment configures
_IDENTITY_KEYS = (
    "service",
    "service.name",
    "service_name",
    "app",
    "app.name",
    "application",
    "application.name",
    "spring.application.name",
    "metadata.labels.app",
    "metadata.labels.app.kubernetes.io/name",
)
_FILE_SUFFIX = re.compile(r"(?i)\.(json|ya?ml|toml|ini|env|properties|conf|cfg)$")
_MIN_ERRORS = 10
# what a killer key's errors say, per kind of key (see faultwise.drift.Killer)
_MECHANISM = {
    "pool": r"(?i)(pool|connection)",
    "timeout": r"(?i)(timed? ?out|timeout|deadline)",
    "retry": r"(?i)retr",
    "limit": r"(?i)(limit|too many|throttl|quota|exceed|rejected)",
    "resources": r"(?i)(memory|oom|heap|cpu|killed)",
    "breaker": r"(?i)(circuit|breaker)",
    "scaling": r"(?i)(replica|capacity|overload|unavailable)",
}


def _instances_sql(ctx: Context) -> str:
    return (
        f"SELECT DISTINCT instance, service FROM logs WHERE {ctx.when('ts_ns')} "
        "AND instance IS NOT NULL AND service IS NOT NULL UNION ALL "
        f"SELECT DISTINCT instance, service FROM samples WHERE {ctx.when('ts_ns')} "
        "AND instance IS NOT NULL AND service IS NOT NULL"
    )


def _identity_sql() -> str:
    keys = ", ".join(literal(k) for k in _IDENTITY_KEYS)
    return f"SELECT environment, value FROM configs WHERE lower(key) IN ({keys})"


def _reloads_sql(ctx: Context) -> str:
    d = ctx.dialect
    return (
        "SELECT ts_ns, service, coalesce(instance, ''), 'log' FROM logs "
        f"WHERE {ctx.when('ts_ns')} AND {d.matches('message', RELOADS, RELOAD_WORDS)} UNION ALL "
        "SELECT ts_ns, service, '', 'change' FROM changes "
        f"WHERE {ctx.when('ts_ns')} AND kind = 'config'"
    )


def _placed_cte(ctx: Context) -> str:
    """CTE ``p``: the service's log lines with the instance that wrote them (``inst``): its
    own, else that of another line of the same request (an access-log line written without
    it), else the file."""
    return f"""
WITH l AS (SELECT instance, source_file, trace_id, request_id, severity, message, attrs
           FROM logs WHERE {ctx.when("ts_ns")} AND service = ?),
r AS (SELECT coalesce(trace_id, request_id) AS rid, max(instance) AS known FROM l
      WHERE instance IS NOT NULL AND coalesce(trace_id, request_id) IS NOT NULL GROUP BY 1),
p AS (SELECT coalesce(l.instance, r.known, l.source_file) AS inst, l.severity, l.message,
             l.attrs
      FROM l LEFT JOIN r ON r.rid = coalesce(l.trace_id, l.request_id))"""


def _errors_by_instance_sql(ctx: Context) -> str:
    return (
        f"{_placed_cte(ctx)} SELECT inst, sum(CASE WHEN {error_sql(ctx.dialect)} "
        "THEN 1 ELSE 0 END) FROM p GROUP BY 1"
    )


def owner(environment: str, services: list[str]) -> str | None:
    """The service an environment belongs to by name: the longest service name it starts
    with."""
    for service in sorted(services, key=len, reverse=True):
        if re.match(rf"{re.escape(service)}([-_.@]|$)", environment, re.I):
            return service
    return None


def instance_name(environment: str) -> str:
    """An environment's name as an instance would be named: without a file suffix."""
    return _FILE_SUFFIX.sub("", environment)


def _owners(ctx: Context) -> dict[str, list[str]]:
    """Environments per service (see the module docstring for the order of the rules)."""
    services = sorted(set(ctx.services) | set(ctx.graph.nodes))
    instances: dict[str, str] = {}
    for instance, service in (
        ctx.query(_instances_sql(ctx)) if ctx.has("logs") or ctx.has("samples") else []
    ):
        instances.setdefault(str(instance).lower(), service)
    named = {env: value for env, value in ctx.query(_identity_sql()) if value in services}
    # a "service" that is one of another service's instances (a per-instance metric column)
    real = [s for s in services if instances.get(s.lower(), s) == s]
    groups: dict[str, list[str]] = defaultdict(list)
    for (environment,) in ctx.query(_ENVIRONMENTS_SQL):
        name = instance_name(environment)
        service = (
            instances.get(name.lower())
            or named.get(environment)
            or owner(name, real)
            or owner(name, services)
        )
        if service is not None:
            groups[service].append(environment)
    return groups


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("configs"):
        return []
    from faultwise.drift import ConfigEntry, Environment, ValueType, compare

    groups = _owners(ctx)
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
        errors = _errors(ctx, service)
        if onset is not None or errors >= _MIN_ERRORS:
            score += 0.15
            if onset is None:
                evidence.append(
                    Evidence(
                        EvidenceKind.LOG,
                        f"{service} logged {errors} errors in the incident (no onset: the "
                        "symptoms were there from the start of the data)",
                        None,
                        float(errors),
                    )
                )
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
            said = _mechanism(ctx, service, odd, shown[0])
            if said is not None:
                score += 0.1
                n, example = said
                evidence.append(
                    Evidence(
                        EvidenceKind.LOG,
                        f"{n} of those errors are about what {shown[0].key} controls "
                        f"({shown[0].killer}): {clip(example, 140)}",
                        None,
                        float(n),
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


def _is_odd(instance: object, odd: list[str]) -> bool:
    """``instance`` (an instance name, else a file path) is one of the ``odd`` environments."""
    text = str(instance).lower()
    names = [instance_name(o).lower() for o in odd]
    return text in names or any(
        re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text) for n in names
    )


def _error_share(ctx: Context, service: str, odd: list[str]) -> float | None:
    if not odd or not ctx.has("logs"):
        return None
    rows = ctx.query(_errors_by_instance_sql(ctx), [service])
    total = sum(int(n or 0) for _, n in rows)
    if not total:
        return None
    mine = sum(int(n or 0) for inst, n in rows if _is_odd(inst, odd))
    return mine / total


def _errors(ctx: Context, service: str) -> int:
    if not ctx.has("logs"):
        return 0
    return sum(int(n or 0) for _, n in ctx.query(_errors_by_instance_sql(ctx), [service]))


def _mechanism_sql(ctx: Context, pattern: str) -> str:
    d = ctx.dialect
    text = "coalesce(message, '') || ' ' || coalesce(attrs, '')"
    return (
        f"{_placed_cte(ctx)} SELECT inst, count(*), min(message) FROM p "
        f"WHERE {error_sql(d)} AND {d.matches(text, pattern)} GROUP BY 1"
    )


def _mechanism(
    ctx: Context, service: str, odd: list[str], drift: KeyDrift
) -> tuple[int, str] | None:
    """The odd instances' errors that speak of what the drifted key controls."""
    pattern = _MECHANISM.get(str(drift.killer)) if drift.killer is not None else None
    if pattern is None:
        return None
    rows = [r for r in ctx.query(_mechanism_sql(ctx, pattern), [service]) if _is_odd(r[0], odd)]
    n = sum(int(r[1]) for r in rows)
    return (n, str(rows[0][2])) if n >= _MIN_ERRORS else None

"""disk_exhaustion: a filesystem or volume filled up, and writes started failing.

Evidence: a disk gauge reaching (almost) full, with its fill rate and the time it reached
95 % (kubelet volume stats, node-exporter filesystem bytes, any ``*disk*``/``*fs*`` usage
percentage), and the errors a full disk causes: ``No space left on device`` (ENOSPC),
PostgreSQL's ``could not extend file``, quota errors, Kubernetes ``DiskPressure`` and
ephemeral-storage evictions.
"""

from __future__ import annotations

from collections import defaultdict

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import attributed, example_lines, matching_sql, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._patterns._gauges import GaugeSeries, gauges, growth

__all__ = ["detect"]

PATTERN = Pattern.DISK_EXHAUSTION

DISK_ERRORS = (
    r"(?i)(no space left on device|enospc|errno 28|disk full|disk quota exceeded|"
    r"could not extend file|diskpressure|low on resource: ephemeral-storage|"
    r"not enough space|insufficient disk space|filesystem is full)"
)
DISK = r"(?i)(disk|filesystem|volume_stats|fs_|storage)"
_FULL = 0.95
DISK_WORDS = ("space", "enospc", "errno 28", "disk", "extend", "ephemeral", "filesystem")


def _fullness(series: list[GaugeSeries]) -> dict[str, tuple[str, list[tuple[int, float]]]]:
    """Per service, the used share of its fullest disk over time."""
    parts: dict[tuple[str, str, str], dict[str, GaugeSeries]] = defaultdict(dict)
    for s in series:
        name = s.metric.lower()
        role = (
            "percent"
            if ("percent" in name or "ratio" in name or "utili" in name)
            else "avail"
            if ("avail" in name or "free" in name)
            else "size"
            if ("size" in name or "capacity" in name or "total" in name)
            else "used"
            if ("used" in name or "usage" in name)
            else ""
        )
        if role:
            family = name.replace(role, "")
            parts[(s.service, s.instance, family[:12])][role] = s
    best: dict[str, tuple[str, list[tuple[int, float]]]] = {}
    for (service, instance, _), roles in parts.items():
        points = _used_share(roles)
        if points and (service not in best or points[-1][1] > best[service][1][-1][1]):
            best[service] = (instance or service, points)
    return best


def _used_share(roles: dict[str, GaugeSeries]) -> list[tuple[int, float]]:
    if "percent" in roles:
        s = roles["percent"]
        scale = 100.0 if max(s.means, default=0) > 1.5 else 1.0
        return [(t, v / scale) for t, v in zip(s.times, s.means, strict=True)]
    size = roles.get("size")
    if size is None:
        return []
    sizes = dict(zip(size.times, size.means, strict=True))
    if "used" in roles:
        used = roles["used"]
        return [
            (t, v / sizes[t]) for t, v in zip(used.times, used.means, strict=True) if sizes.get(t)
        ]
    if "avail" in roles:
        avail = roles["avail"]
        return [
            (t, 1 - v / sizes[t])
            for t, v in zip(avail.times, avail.means, strict=True)
            if sizes.get(t)
        ]
    return []


def detect(ctx: Context) -> list[Finding]:
    errors: dict[str, tuple[int, int | None, int | None]] = {}
    if ctx.has("logs"):
        errors = attributed(ctx, ctx.query(matching_sql(ctx, DISK_ERRORS, DISK_WORDS)))
    full = _fullness(gauges(ctx, DISK))
    findings = []
    for service in sorted(set(errors) | set(full)):
        evidence: list[Evidence] = []
        score = 0.0
        starts: list[int] = []
        if service in full:
            what, points = full[service]
            peak = max(v for _, v in points)
            reached = next((t for t, v in points if v >= _FULL), None)
            g = growth([t for t, _ in points], [v for _, v in points])
            if peak >= _FULL:
                score = 0.85
                starts.append(reached or points[0][0])
                evidence.append(
                    Evidence(
                        EvidenceKind.METRIC,
                        f"disk of {what} {100 * peak:.0f} % full (95 % at {short_time(reached)})",
                        None,
                        round(peak, 4),
                    )
                )
            if g is not None and g.per_s > 0 and g.r > 0.8:
                score = max(score, 0.5)
                left = (1 - g.last) / g.per_s if g.last < 1 else 0.0
                evidence.append(
                    Evidence(
                        EvidenceKind.METRIC,
                        f"filling at {100 * g.per_s * 60:.1f} % of "
                        f"the disk per minute from {short_time(g.start_ns)}; full "
                        f"{left:.0f} s after the last sample",
                        None,
                        round(left, 1),
                    )
                )
                starts.append(g.start_ns)
        if service in errors:
            n, first, _last = errors[service]
            score = max(score, 0.7) + (0.1 if score else 0.0)
            if first is not None:
                starts.append(first)
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{n} disk-full errors from {short_time(first)}",
                    None,
                    float(n),
                )
            )
            condition = f"service = ? AND {ctx.dialect.matches('message', DISK_ERRORS, DISK_WORDS)}"
            evidence += example_lines(ctx, condition, [service], limit=2)
        if score <= 0.5 and service not in errors:
            continue  # a disk that fills but is not full and breaks nothing: not this incident
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"{service}'s disk ran out of space",
                evidence=tuple(evidence),
                action=(
                    f"Free space on {service}'s volume, find what writes to it without bound "
                    "(dumps, logs without rotation, temp files) and cap it; alert when the "
                    "disk is predicted to fill within 4 hours."
                ),
                start_ns=min(starts) if starts else None,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

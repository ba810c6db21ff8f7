"""pool_exhaustion: a connection pool stayed full (used == max for over 30 s) and callers
waited, timed out or were refused a connection.

Evidence comes from gauges where there are any (OTel ``db.client.connection.count`` with
``state=used`` against ``.max``, HikariCP ``hikaricp_connections_active``/``_max``, any
``*pool*used*``/``*pool*max*`` pair, pending requests), from HikariCP's own ``Pool stats
(total=10, active=10, idle=0, waiting=37)`` lines, and from the errors pools raise when a
checkout times out (HikariCP, SQLAlchemy's ``QueuePool limit``, psycopg_pool, PostgreSQL's
``too many clients``). The 30 s rule is the one faultwise's own pool gauges alert on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import attributed, example_lines, matching_sql, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern

__all__ = ["detect", "utilisation"]

PATTERN = Pattern.POOL_EXHAUSTION
FULL_FOR_S = 30.0

POOL_ERRORS = (
    r"(?i)(timeout acquiring (a )?connection|timed out (while )?(waiting for|acquiring) "
    r"(a )?connection|connection is not available, request timed out|queuepool limit of size"
    r"|connection pool (is )?(exhausted|full)|couldn'?t get a connection"
    r"|could not (get|obtain) (a )?connection"
    r"|too many clients already|remaining connection slots are reserved|pooltimeout"
    r"|unable to acquire (a )?(jdbc )?connection|cannot get a connection, pool error"
    r"|no (free|available) connections? (in|from) (the )?pool)"
)
HIKARI_STATS = r"(?i)pool stats \(total=([0-9]+), active=([0-9]+), idle=([0-9]+), waiting=([0-9]+)"
POOL_WORDS = ("connection", "pool", "clients")  # every match holds one of these

_USED = r"(?i)(pool|connection).*(used|active|checked_?out|in_use|busy)"
_MAX = r"(?i)(pool|connection).*(_max|_limit|max_size|maximum)"
_PENDING = r"(?i)(pool|connection).*(pending|waiting|wait_count)"


def _gauges_sql(ctx: Context) -> str:
    d = ctx.dialect
    state = d.json_text("labels", "state")
    used = (
        f"(({d.matches('metric', _USED)}) OR (metric IN ('db_client_connection_count', "
        f"'db_client_connections_usage') AND {state} = 'used'))"
    )
    w = ctx.width_ns
    return f"""
SELECT service, coalesce(instance, ''), ts_ns - ts_ns % {w} AS t,
       max(CASE WHEN {used} THEN value END),
       max(CASE WHEN {d.matches("metric", _MAX)} THEN value END),
       max(CASE WHEN {d.matches("metric", _PENDING)} THEN value END)
FROM samples WHERE {ctx.when("ts_ns")} AND service IS NOT NULL
  AND ({used} OR {d.matches("metric", _MAX)} OR {d.matches("metric", _PENDING)})
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


def _hikari_sql(ctx: Context) -> str:
    d = ctx.dialect
    w = ctx.width_ns
    total, active, waiting = (
        f"CAST({d.extract('message', HIKARI_STATS, g)} AS BIGINT)" for g in (1, 2, 4)
    )
    return f"""
SELECT service, coalesce(instance, ''), ts_ns - ts_ns % {w} AS t,
       max({active}), max({total}), max({waiting})
FROM logs WHERE {ctx.when("ts_ns")} AND {d.matches("message", HIKARI_STATS, ("pool stats",))}
  AND ts_ns IS NOT NULL
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


@dataclass
class _Full:
    """The longest run of full-pool buckets of one service (any instance)."""

    seconds: float = 0.0
    start: int | None = None
    end: int | None = None
    used: float = 0.0
    cap: float = 0.0
    waiting_max: float = 0.0
    waiting_first: float | None = None
    source: str = ""


def _full_runs(rows: list[tuple[object, ...]], width: int, source: str) -> dict[str, _Full]:
    found: dict[str, _Full] = defaultdict(_Full)
    run_start: dict[tuple[str, str], int | None] = {}
    for service, instance, t, used, cap, pending in rows:
        key = (str(service), str(instance))
        best = found[key[0]]
        ts = int(t)  # type: ignore[call-overload]
        if pending is not None:
            waiting = float(pending)  # type: ignore[arg-type]
            best.waiting_max = max(best.waiting_max, waiting)
            if best.waiting_first is None:
                best.waiting_first = waiting
        full = used is not None and cap is not None and float(cap) > 0  # type: ignore[arg-type]
        full = full and float(used) >= float(cap)  # type: ignore[arg-type]
        if not full:
            run_start[key] = None
            continue
        begin = run_start.get(key)
        if begin is None:
            begin = run_start[key] = ts
        seconds = (ts + width - begin) / 1e9
        if seconds > best.seconds:
            best.seconds, best.start, best.end = seconds, begin, ts + width
            best.used, best.cap = float(used), float(cap)  # type: ignore[arg-type]
            best.source = source
    return found


def _pool_rows(ctx: Context) -> list[tuple[str, list[tuple[object, ...]]]]:
    """("metric" or "log", rows of (service, instance, t, used, max, pending))."""
    found = []
    if ctx.has("samples"):
        found.append(("metric", ctx.query(_gauges_sql(ctx))))
    if ctx.has("logs"):
        found.append(("log", ctx.query(_hikari_sql(ctx))))
    return found


def utilisation(ctx: Context) -> dict[str, dict[int, float]]:
    """Per service: the fullest pool's used share (0..1) per bucket, for the report."""
    shares: dict[str, dict[int, float]] = defaultdict(dict)
    for _source, rows in _pool_rows(ctx):
        for service, _instance, t, used, cap, _pending in rows:
            if used is None or not cap:
                continue
            share = float(used) / float(cap)  # type: ignore[arg-type]
            bucket = shares[str(service)]
            bucket[int(t)] = max(bucket.get(int(t), 0.0), share)  # type: ignore[call-overload]
    return dict(shares)


def detect(ctx: Context) -> list[Finding]:
    errors: dict[str, tuple[int, int | None, int | None]] = {}
    if ctx.has("logs"):
        errors = attributed(ctx, ctx.query(matching_sql(ctx, POOL_ERRORS, POOL_WORDS)))
    full: dict[str, _Full] = {}
    for source, rows in _pool_rows(ctx):
        for service, run in _full_runs(rows, ctx.width_ns, source).items():
            if run.seconds > full.get(service, _Full()).seconds:
                full[service] = run
    findings = []
    for service in sorted(set(errors) | {s for s, r in full.items() if r.seconds > 0}):
        run = full.get(service, _Full())
        n_err, first_err, last_err = errors.get(service, (0, None, None))
        evidence: list[Evidence] = []
        by_gauge = 0.0
        if run.seconds > 0:
            by_gauge = 0.9 if run.seconds >= FULL_FOR_S else 0.5
            kind = EvidenceKind.METRIC if run.source == "metric" else EvidenceKind.LOG
            evidence.append(
                Evidence(
                    kind,
                    f"pool full ({run.used:.0f} of {run.cap:.0f} in use) for "
                    f"{run.seconds:.0f} s from {short_time(run.start)}",
                    None,
                    run.seconds,
                )
            )
            if run.waiting_max > (run.waiting_first or 0):
                evidence.append(
                    Evidence(
                        kind,
                        f"requests waiting for a connection grew from "
                        f"{run.waiting_first or 0:.0f} to {run.waiting_max:.0f}",
                        None,
                        run.waiting_max,
                    )
                )
        by_errors = 0.0
        if n_err:
            by_errors = 0.5 + min(0.35, n_err / 100)
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{n_err} connection checkout timeouts or refusals "
                    f"from {short_time(first_err)}",
                    None,
                    float(n_err),
                )
            )
            condition = f"service = ? AND {ctx.dialect.matches('message', POOL_ERRORS, POOL_WORDS)}"
            evidence += example_lines(ctx, condition, [service], limit=2)
        score = max(by_gauge, by_errors) + (0.05 if by_gauge and by_errors else 0.0)
        starts = [t for t in (run.start, first_err) if t is not None]
        ends = [t for t in (run.end, last_err) if t is not None]
        held = f"full for {run.seconds:.0f} s" if run.seconds else f"{n_err} checkout failures"
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.97), 4),
                summary=f"{service}'s connection pool ran out ({held})",
                evidence=tuple(evidence),
                action=(
                    f"Return every connection to {service}'s pool on every path (a with-block "
                    "or try/finally around each checkout), set a checkout timeout below the "
                    "request deadline, and alert when used == max for more than 30 s."
                ),
                start_ns=min(starts) if starts else None,
                end_ns=max(ends) if ends else None,
            )
        )
    return findings

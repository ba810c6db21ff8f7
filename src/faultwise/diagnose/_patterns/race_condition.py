"""race_condition: concurrent writers of one entity overwrote each other (lost updates).

Evidence from write lines that name an entity key and the version they wrote (``updated
stock sku=SKU-1042 qty=16 version=42``): two writes of the same key that produced the same
version came from two read-modify-write sequences that overlapped, and one of them was lost.
Without a version, the counter's own value does (``updated stock sku=sku-7 qty=16``): a
counter moved by read-modify-write takes each value once, so the same value of one key
written by two different writers within a second is two overlapping sequences that read the
same value (a sequential pair would have written 16, then 15). A writer is the request
that wrote (its request id, else its trace id): two concurrent requests are two writers even
on one thread (asyncio) or in logs without a thread name, and one request that logs the same
write twice is one writer. Lines without either id are told apart by instance (pod, host;
else the file) and thread. Optimistic-lock and serialisation failures
(``OptimisticLockException``, ``could not serialize access``) are the same race caught by a
guard, and count as weaker evidence.
"""

from __future__ import annotations

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._sql import Scope

__all__ = ["detect"]

PATTERN = Pattern.RACE_CONDITION

KEY = (
    r"(?i)\b(sku|id|key|account|account_id|order_id|user_id|item_id|entity_id|product_id|"
    r"cart_id|row)[=:] ?([A-Za-z0-9_.:-]+)"
)
VERSION = r"(?i)\b(version|ver|rev|revision|seq|etag)[=:] ?([0-9]+)"
COUNTER = (
    r"(?i)\b(qty|quantity|stock|balance|remaining|available|count|units|seats|credits)"
    r"[=:] ?(-?[0-9]+)"
)
WRITE = r"(?i)\b(updat|writ|wrote|sav|put|decrement|increment|commit|set)"
CONFLICTS = (
    r"(?i)(optimisticlock|staleobjectstate|row was updated or deleted by another transaction"
    r"|could not serialize access|concurrent (update|modification)|version conflict"
    r"|write conflict|lost update|conditionalcheckfailed|precondition failed)"
)
_MIN_LOST = 3
_SAME_VALUE_WINDOW_NS = 1_000_000_000  # overlapping read-modify-writes: a request's lifetime
# the request a line was written in, NULL when it names neither a request nor a trace
_REQUEST = "coalesce('request ' || nullif(request_id, ''), 'trace ' || nullif(trace_id, ''))"
VERSION_WORDS = ("ver", "rev", "seq", "etag")
COUNTER_WORDS = (
    "qty",
    "quantity",
    "stock",
    "balance",
    "remaining",
    "available",
    "count",
    "units",
    "seats",
    "credits",
)
CONFLICT_WORDS = (
    "optimistic",
    "stale",
    "updated or deleted",
    "serializ",
    "concurrent",
    "conflict",
    "lost update",
    "conditionalcheck",
    "precondition",
)


def _key(scope: Scope) -> str:
    d = scope.dialect
    return f"{d.extract('message', KEY, 1)} || '=' || {d.extract('message', KEY, 2)}"


def _value(scope: Scope) -> str:
    """The version a write line names, else its counter's value (NULL when neither)."""
    d = scope.dialect
    version = f"nullif({d.extract('message', VERSION, 2)}, '')"
    return f"coalesce({version}, nullif({d.extract('message', COUNTER, 2)}, ''))"


def _lost_sql(scope: Scope) -> str:
    """Per service: groups of writes of one key with one version (or, unversioned, one
    counter value from two writers within a second), the updates lost, the keys, the most
    writers of one group, and the first group's time, key, value and its least and greatest
    request.

    A write is a request (its lines of one value count once) or, without request and trace
    ids, a line; a writer is a request, else an instance and thread."""
    d = scope.dialect
    versioned = d.matches("message", VERSION, VERSION_WORDS)
    writes = "count(DISTINCT request) + sum(CASE WHEN request IS NULL THEN 1 ELSE 0 END)"
    return f"""
WITH w AS (SELECT service, ts_ns, {_key(scope)} AS k, {_value(scope)} AS v,
                  CASE WHEN {versioned} THEN 1 ELSE 0 END AS versioned, {_REQUEST} AS request,
                  coalesce({_REQUEST}, coalesce(instance, source_file) || '/'
                           || coalesce(thread, '')) AS writer
           FROM logs
           WHERE {scope.when("ts_ns")} AND service IS NOT NULL
             AND ({versioned} OR {d.matches("message", COUNTER, COUNTER_WORDS)})
             AND {d.matches("message", WRITE)} AND {d.matches("message", KEY)}),
dup AS (SELECT service, k, v, {writes} AS n, count(DISTINCT writer) AS writers,
               min(ts_ns) AS first, coalesce(min(request), '') AS by_low,
               coalesce(max(request), '') AS by_high
        FROM w WHERE v IS NOT NULL GROUP BY service, k, v, versioned
        HAVING {writes} > 1 AND (max(versioned) = 1 OR (count(DISTINCT writer) > 1
               AND max(ts_ns) - min(ts_ns) <= {_SAME_VALUE_WINDOW_NS})))
SELECT service, count(*), sum(n - 1), count(DISTINCT k), max(writers), min(first),
       {d.arg_min("k", "first")}, {d.arg_min("v", "first")},
       {d.arg_min("by_low", "first")}, {d.arg_min("by_high", "first")}
FROM dup GROUP BY 1"""


def _by(low: str, high: str) -> str:
    """Two requests of the first lost update, named: ``, by request a and request b``."""
    named = [r for r in dict.fromkeys((low, high)) if r]
    return f", by {' and '.join(named)}" if len(named) > 1 else ""


def _conflicts_sql(ctx: Context) -> str:
    return (
        "SELECT service, count(*), min(ts_ns) FROM logs "
        f"WHERE {ctx.when('ts_ns')} "
        f"AND {ctx.dialect.matches('message', CONFLICTS, CONFLICT_WORDS)} GROUP BY 1"
    )


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("logs"):
        return []
    normal = {}
    if ctx.baseline is not None:
        normal = {r[0]: int(r[2]) for r in ctx.baseline.query(_lost_sql(ctx.baseline))}
    lost = {r[0]: r[1:] for r in ctx.query(_lost_sql(ctx.incident))}
    conflicts = {r[0]: r[1:] for r in ctx.query(_conflicts_sql(ctx))}
    findings = []
    for service in sorted(set(lost) | set(conflicts)):
        evidence: list[Evidence] = []
        score = 0.0
        start = None
        if service in lost:
            _pairs, n_lost, keys, writers, first, key, value, by_low, by_high = lost[service]
            n_lost = int(n_lost) - normal.get(service, 0)
            if n_lost >= _MIN_LOST:
                score = 0.85 + (0.05 if writers and writers > 1 else 0.0)
                start = first
                evidence.append(
                    Evidence(
                        EvidenceKind.LOG,
                        f"{n_lost} lost updates on {keys} keys from "
                        f"{short_time(first)}: up to {writers} writers wrote the same value of one "
                        f"key ({key} to {value} first{_by(by_low, by_high)})",
                        None,
                        float(n_lost),
                    )
                )
                condition = (
                    f"service = ? AND {_key(ctx.incident)} = ? AND {_value(ctx.incident)} = ?"
                )
                evidence += example_lines(ctx, condition, [service, key, value], limit=3)
        if service in conflicts:
            n, first = conflicts[service]
            if n >= _MIN_LOST:
                score = max(score, 0.6) + (0.05 if score else 0.0)
                start = min(filter(None, (start, first)))
                evidence.append(
                    Evidence(
                        EvidenceKind.LOG,
                        f"{n} concurrent-update conflicts from {short_time(first)}",
                        None,
                        float(n),
                    )
                )
        if score <= 0:
            continue
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"concurrent writers in {service} overwrite each other's updates",
                evidence=tuple(evidence),
                action=(
                    f"Make {service}'s read-modify-write atomic: a conditional update "
                    "(UPDATE ... SET qty = qty - 1 WHERE version = :read_version, retried on "
                    "conflict) or SELECT ... FOR UPDATE inside the transaction."
                ),
                start_ns=start,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

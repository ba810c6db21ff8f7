"""race_condition: concurrent writers of one entity overwrote each other (lost updates).

Evidence from write lines that name an entity key and the version they wrote (``updated
stock sku=SKU-1042 qty=16 version=42``): two writes of the same key that produced the same
version came from two read-modify-write sequences that overlapped, and one of them was lost.
Writers are told apart by instance (pod, host; else the file) and thread. Optimistic-lock
and serialisation failures (``OptimisticLockException``, ``could not serialize access``) are
the same race caught by a guard, and count as weaker evidence.
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
WRITE = r"(?i)\b(updat|writ|wrote|sav|put|decrement|increment|commit|set)"
CONFLICTS = (
    r"(?i)(optimisticlock|staleobjectstate|row was updated or deleted by another transaction"
    r"|could not serialize access|concurrent (update|modification)|version conflict"
    r"|write conflict|lost update|conditionalcheckfailed|precondition failed)"
)
_MIN_LOST = 3
VERSION_WORDS = ("ver", "rev", "seq", "etag")
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


def _lost_sql(scope: Scope) -> str:
    d = scope.dialect
    key = f"{d.extract('message', KEY, 1)} || '=' || {d.extract('message', KEY, 2)}"
    return f"""
WITH w AS (SELECT service, coalesce(instance, source_file) || '/' || coalesce(thread, '')
                  AS writer, ts_ns, {key} AS k, {d.extract("message", VERSION, 2)} AS v
           FROM logs
           WHERE {scope.when("ts_ns")} AND service IS NOT NULL
             AND {d.matches("message", VERSION, VERSION_WORDS)}
             AND {d.matches("message", WRITE)} AND {d.matches("message", KEY)}),
dup AS (SELECT service, k, v, count(*) AS n, count(DISTINCT writer) AS writers,
               min(ts_ns) AS first
        FROM w GROUP BY 1, 2, 3 HAVING count(*) > 1)
SELECT service, count(*), sum(n - 1), count(DISTINCT k), max(writers), min(first),
       {d.arg_min("k", "first")}
FROM dup GROUP BY 1"""


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
            _pairs, n_lost, keys, writers, first, key = lost[service]
            n_lost = int(n_lost) - normal.get(service, 0)
            if n_lost >= _MIN_LOST:
                score = 0.85 + (0.05 if writers and writers > 1 else 0.0)
                start = first
                evidence.append(
                    Evidence(
                        EvidenceKind.LOG,
                        f"{n_lost} lost updates on {keys} keys from "
                        f"{short_time(first)}: two writers wrote the same version of one "
                        f"key ({key} first)",
                        None,
                        float(n_lost),
                    )
                )
                condition = f"service = ? AND {ctx.dialect.matches('message', KEY)} AND ts_ns >= ?"
                evidence += example_lines(ctx, condition, [service, first], limit=3)
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

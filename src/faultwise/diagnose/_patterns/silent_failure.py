"""silent_failure: work that failed while everything said it succeeded.

Evidence, per service and per unit of work (a request, trace, message or order id, from the
record or from ``key=value`` in the message): an error caught and logged below error level
and then a success for the same id ("ignoring", then "status=ok"); a message acknowledged
before its processing failed (at-most-once by accident: the broker will not redeliver it);
and failures logged as ignored. Errors that never reach the error level never move an
error-rate alert, which is why these incidents are found late.
"""

from __future__ import annotations

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, example_lines, short_time
from faultwise.diagnose._model import Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._signals import ERROR_WORDS
from faultwise.diagnose._sql import Dialect

__all__ = ["detect"]

PATTERN = Pattern.SILENT_FAILURE

ID_KEYS = (
    "request_id",
    "message_id",
    "msg_id",
    "order_id",
    "job_id",
    "task_id",
    "event_id",
    "delivery_tag",
)
SUCCESS = r"(?i)(status=2[0-9][0-9]|status=ok|\bsuccess|\bprocessed\b|\bcompleted\b|\bdone\b)"
ACK = r"(?i)\back(ed|nowledged)?\b"
IGNORED = r"(?i)(ignor|skipp|swallow|suppress|continuing|dropp)"
RETRIED = r"(?i)(retry|retrying|retried|attempt [0-9])"  # a retried call is not a lost one
_MIN_IDS = 5


def _id_sql(d: Dialect) -> str:
    patterns = [rf"\b{key}[=:] ?([A-Za-z0-9_.-]+)" for key in ID_KEYS]
    keys = [f"nullif({d.extract('message', p)}, '')" for p in patterns]
    return f"coalesce(request_id, {', '.join(keys)}, trace_id)"


def _swallowed(d: Dialect) -> str:
    return (
        f"severity BETWEEN 1 AND 16 AND {d.matches('message', ERROR_WORDS)} "
        f"AND NOT {d.matches('message', RETRIED)}"
    )


def _candidates_sql(ctx: Context) -> str:
    """Services with enough errors logged below error level to look further (cheap)."""
    return (
        f"SELECT service FROM logs WHERE {ctx.when('ts_ns')} AND service IS NOT NULL "
        f"AND {_swallowed(ctx.dialect)} GROUP BY 1 HAVING count(*) >= {_MIN_IDS}"
    )


def _silent_sql(ctx: Context, services: int) -> str:
    """Per service: ids with a swallowed error later reported as success, ids acked before
    the error, and lines that say the error was ignored (for ``services`` named ones)."""
    d = ctx.dialect
    names = ", ".join("?" * services)
    return f"""
WITH l AS (SELECT service, ts_ns, severity, message, {_id_sql(d)} AS id
           FROM logs WHERE {ctx.when("ts_ns")} AND service IN ({names})),
bad AS (SELECT service, id, min(ts_ns) AS t,
               max(CASE WHEN {d.matches("message", IGNORED)} THEN 1 ELSE 0 END) AS ignored
        FROM l WHERE id IS NOT NULL AND {_swallowed(d)} GROUP BY 1, 2),
ok AS (SELECT service, id, max(ts_ns) AS t FROM l
       WHERE id IS NOT NULL AND {d.matches("message", SUCCESS)} AND severity < 17
       GROUP BY 1, 2),
ack AS (SELECT service, id, min(ts_ns) AS t FROM l
        WHERE id IS NOT NULL AND {d.matches("message", ACK)} GROUP BY 1, 2)
SELECT b.service, count(*),
       sum(CASE WHEN o.t >= b.t THEN 1 ELSE 0 END),
       sum(CASE WHEN a.t <= b.t THEN 1 ELSE 0 END),
       sum(b.ignored), min(b.t)
FROM bad b LEFT JOIN ok o ON o.service = b.service AND o.id = b.id
           LEFT JOIN ack a ON a.service = b.service AND a.id = b.id
GROUP BY 1"""


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("logs"):
        return []
    services = [r[0] for r in ctx.query(_candidates_sql(ctx))]
    if not services:
        return []
    findings = []
    rows = ctx.query(_silent_sql(ctx, len(services)), services)
    for service, ids, then_ok, acked, ignored, first in rows:
        hidden = max(int(then_ok or 0), int(acked or 0))
        if hidden < _MIN_IDS:
            continue
        new = [t for t in ctx.templates if t.service == service and not t.errors]
        evidence = []
        score = 0.75
        if then_ok:
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{then_ok} of {ids} units of work logged "
                    "an error below error level and then success",
                    None,
                    float(then_ok),
                )
            )
        if acked:
            score += 0.1
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{acked} messages acknowledged before "
                    "their processing failed (they will not be redelivered)",
                    None,
                    float(acked),
                )
            )
        if ignored:
            score += 0.05
            evidence.append(
                Evidence(
                    EvidenceKind.LOG, f"{ignored} failures logged as ignored", None, float(ignored)
                )
            )
        if new:
            score += 0.05
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"new warning from {short_time(new[0].first_ns)}: {clip(new[0].example, 140)}",
                    new[0].source,
                    float(new[0].count),
                )
            )
        evidence += example_lines(
            ctx, f"service = ? AND {_swallowed(ctx.dialect)}", [service], limit=2
        )
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"{service} fails silently: {hidden} units of work failed but were "
                "reported as done",
                evidence=tuple(evidence),
                action=(
                    f"Make {service} fail loudly: log these failures at error level and count "
                    "them in a metric, acknowledge a message only after it was processed, and "
                    "send failures to a dead-letter queue instead of dropping them."
                ),
                start_ns=first,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

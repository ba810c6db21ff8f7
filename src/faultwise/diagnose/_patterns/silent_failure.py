"""silent_failure: work that failed while everything said it succeeded.

Evidence, per service and per unit of work (a request, trace, message or order id, from the
record or from ``key=value`` in the message): an error caught and logged below error level
and then a success for the same id ("ignoring", then "status=ok"); a message acknowledged
before its processing failed (at-most-once by accident: the broker will not redeliver it);
and failures logged as ignored. Errors that never reach the error level never move an
error-rate alert, which is why these incidents are found late.

A consumer that acknowledges a message on receipt and then dies mid-job logs no error at all:
its evidence is a message acknowledged with no completion line ("processed", "done") for
it afterwards, in a service that logs one for most messages it acknowledges, and the
restarts that follow. Messages acknowledged after the service's last completion line are
still in flight when the logs end and do not count; a completion logged before the ack
(ack after processing, the safe order) counts as finished.
"""

from __future__ import annotations

from dataclasses import dataclass

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
_MIN_UNFINISHED = 3
_RESTART_AFTER_NS = 60_000_000_000  # a restart this soon after the ack ended that job
ACK_WORDS = ("ack",)
SUCCESS_WORDS = ("status=", "success", "processed", "completed", "done")


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


def _acking_sql(ctx: Context) -> str:
    """Services that log acknowledgements (cheap: most services never do)."""
    return (
        f"SELECT service FROM logs WHERE {ctx.when('ts_ns')} AND service IS NOT NULL "
        f"AND {ctx.dialect.matches('message', ACK, ACK_WORDS)} "
        f"GROUP BY 1 HAVING count(*) >= {_MIN_UNFINISHED}"
    )


def _unfinished_sql(ctx: Context, services: int) -> str:
    """Per service (of ``services`` named ones): messages acknowledged, those with a
    completion line, those with none (and no error logged for them) acknowledged before the
    service's last completion, how many of those a restart of the service followed within a
    minute, and the first one."""
    d = ctx.dialect
    ack = d.matches("message", ACK, ACK_WORDS)
    done = f"{d.matches('message', SUCCESS, SUCCESS_WORDS)} AND NOT {ack}"
    names = ", ".join("?" * services)
    return f"""
WITH l AS (SELECT service, ts_ns, severity, message, {_id_sql(d)} AS id
           FROM logs WHERE {ctx.when("ts_ns")} AND service IN ({names})
             AND (severity >= 17 OR {ack} OR {d.matches("message", SUCCESS, SUCCESS_WORDS)})),
ack AS (SELECT service, id, min(ts_ns) AS t FROM l
        WHERE id IS NOT NULL AND {ack} GROUP BY 1, 2),
fin AS (SELECT service, id, max(ts_ns) AS t,
               max(CASE WHEN severity >= 17 THEN 1 ELSE 0 END) AS failed FROM l
        WHERE id IS NOT NULL AND (severity >= 17 OR ({done} AND severity < 17))
        GROUP BY 1, 2),
last AS (SELECT service, max(t) AS t FROM fin WHERE failed = 0 GROUP BY 1),
lost AS (SELECT a.service, a.id, a.t FROM ack a
         JOIN last ON last.service = a.service
         LEFT JOIN fin f ON f.service = a.service AND f.id = a.id
         WHERE f.id IS NULL AND a.t < last.t),
restarted AS (SELECT lost.service, count(DISTINCT lost.id) AS n FROM lost
              JOIN changes c ON c.service = lost.service
              WHERE c.kind IN ('restart', 'oom_kill') AND c.ts_ns > lost.t
                AND c.ts_ns <= lost.t + {_RESTART_AFTER_NS}
              GROUP BY 1),
lost_n AS (SELECT service, count(*) AS n, min(t) AS first FROM lost GROUP BY 1)
SELECT a.service, count(*), sum(CASE WHEN f.failed = 0 THEN 1 ELSE 0 END),
       max(lost_n.n), max(lost_n.first), max(coalesce(restarted.n, 0))
FROM ack a JOIN lost_n ON lost_n.service = a.service
LEFT JOIN fin f ON f.service = a.service AND f.id = a.id
LEFT JOIN restarted ON restarted.service = a.service
GROUP BY 1"""


@dataclass(frozen=True, slots=True)
class Part:
    """One kind of evidence for a service: units of work hidden, score, first, evidence."""

    hidden: int
    score: float
    first: int
    facts: list[Evidence]
    examples: list[Evidence]


def _swallowed_evidence(ctx: Context) -> dict[str, Part]:
    """Per service with enough hidden failures: how many, the score, the first, evidence."""
    services = [r[0] for r in ctx.query(_candidates_sql(ctx))]
    if not services:
        return {}
    found = {}
    for service, ids, then_ok, acked, ignored, first in ctx.query(
        _silent_sql(ctx, len(services)), services
    ):
        hidden = max(int(then_ok or 0), int(acked or 0))
        if hidden < _MIN_IDS:
            continue
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
        examples = example_lines(
            ctx, f"service = ? AND {_swallowed(ctx.dialect)}", [service], limit=2
        )
        found[service] = Part(hidden, score, first, evidence, examples)
    return found


def _unfinished_evidence(ctx: Context) -> dict[str, Part]:
    """Per service that acknowledged messages and never finished some: how many, the
    score, the first, evidence (the first such ack and the lines after it)."""
    services = [r[0] for r in ctx.query(_acking_sql(ctx))]
    if not services:
        return {}
    found = {}
    rows = ctx.query(_unfinished_sql(ctx, len(services)), services)
    for service, acked, finished, lost, first, restarted in rows:
        if int(lost) < _MIN_UNFINISHED or 2 * int(finished or 0) < int(acked):
            continue  # a service that does not log a completion for most messages
        evidence = [
            Evidence(
                EvidenceKind.LOG,
                f"{lost} of {acked} messages acknowledged from {short_time(first)} never "
                f"logged a completion or an error ({finished} did): acknowledged, then lost",
                None,
                float(lost),
            )
        ]
        score = 0.8
        if restarted:
            score += 0.05
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"a restart of {service} followed {restarted} of them within "
                    f"{_RESTART_AFTER_NS // 1_000_000_000} s: the process died mid-job",
                    None,
                    float(restarted),
                )
            )
        ack = ctx.dialect.matches("message", ACK, ACK_WORDS)
        examples = example_lines(
            ctx, f"service = ? AND ts_ns = ? AND {ack}", [service, first], limit=1
        )
        examples += example_lines(ctx, "service = ? AND ts_ns > ?", [service, first], limit=2)
        found[service] = Part(int(lost), score, first, evidence, examples)
    return found


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("logs"):
        return []
    swallowed = _swallowed_evidence(ctx)
    unfinished = _unfinished_evidence(ctx)
    findings = []
    for service in sorted(set(swallowed) | set(unfinished)):
        parts = [p for p in (swallowed.get(service), unfinished.get(service)) if p]
        hidden = sum(p.hidden for p in parts)
        score = max(p.score for p in parts) + 0.05 * (len(parts) - 1)
        first = min(p.first for p in parts)
        evidence = [e for p in parts for e in p.facts]
        new = [t for t in ctx.templates if t.service == service and not t.errors]
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
        evidence += [e for p in parts for e in p.examples]
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

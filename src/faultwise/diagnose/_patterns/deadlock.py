"""deadlock: transactions (or threads) waiting on each other in a cycle.

Evidence: the wait-for graph rebuilt from the database's own lines (PostgreSQL's ``Process
4242 waits for ShareLock on transaction 90211; blocked by process 4243`` and, with
``log_lock_waits``, ``still waiting ... Process holding the lock: 4243. Wait queue: 4242``)
and its cycles; ``deadlock detected`` (PostgreSQL), ``Deadlock found when trying to get
lock`` (MySQL), ``Found one Java-level deadlock`` (a JVM thread dump); and, from spans, a
transaction that holds its locks while a call to another service inside it waits. The
component is the application whose transactions deadlock (it reports the errors); the
database is named when no application does.
"""

from __future__ import annotations

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import example_lines, named_service, short_time
from faultwise.diagnose._graph import find_cycles
from faultwise.diagnose._model import Edge, Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._signals import FIRST

__all__ = ["detect"]

PATTERN = Pattern.DEADLOCK

DEADLOCKS = (
    r"(?i)(deadlock detected|deadlock found when trying to get lock|java-level deadlock"
    r"|deadlock victim|ora-00060|lockacquisitionexception|cannotacquirelockexception)"
)
LOCK_WAITS = r"(?i)(still waiting for [a-z]*lock|lock wait timeout exceeded|waits for [a-z]*lock)"
_PAIR = r"[Pp]rocess ([0-9]+) waits for [A-Za-z]+ on [a-z ]+[0-9]+; blocked by process ([0-9]+)"
_SECOND = (
    r"blocked by process [0-9]+\. [Pp]rocess ([0-9]+) waits for .*?; blocked by process ([0-9]+)"
)
_QUEUE = r"[Pp]rocess holding the lock: ([0-9]+)\. Wait queue: ([0-9]+)"
_TX = r"(?i)(transaction|\bbegin\b|\btx\b|transactional)"
LOCK_WORDS = ("lock", "ora-00060")  # "deadlock" holds "lock"
_ANY = f"{DEADLOCKS}|{LOCK_WAITS}|{_QUEUE}"


def _lines_sql(ctx: Context) -> str:
    d = ctx.dialect
    return (
        "SELECT service, "
        f"sum(CASE WHEN {d.matches('message', DEADLOCKS)} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {d.matches('message', LOCK_WAITS)} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {d.matches('message', _PAIR)} OR {d.matches('message', _QUEUE)} "
        f"THEN 1 ELSE 0 END), min(ts_ns), {d.arg_min('message', FIRST)} "
        f"FROM logs WHERE {ctx.when('ts_ns')} AND service IS NOT NULL AND "
        f"{d.matches('message', _ANY, LOCK_WORDS)} GROUP BY service, {d.shape('message')}"
    )


def _by_owner(ctx: Context) -> dict[str, tuple[int, int, int, int | None]]:
    """(deadlocks, lock waits, wait-for lines, first) per service; a line that names another
    service ("call to orders failed: deadlock detected") counts for the service it names."""
    found: dict[str, tuple[int, int, int, int | None]] = {}
    for service, dead, waits, pairs, first, example in ctx.query(_lines_sql(ctx)):
        owner = named_service(example, ctx.graph.nodes, service) or service
        d0, w0, p0, f0 = found.get(owner, (0, 0, 0, None))
        firsts = [t for t in (f0, first) if t is not None]
        found[owner] = (
            d0 + int(dead),
            w0 + int(waits),
            p0 + int(pairs),
            min(firsts) if firsts else None,
        )
    return found


def _edges_sql(ctx: Context) -> str:
    d = ctx.dialect
    parts = []
    for pattern, waiter, holder in ((_PAIR, 1, 2), (_SECOND, 1, 2), (_QUEUE, 2, 1)):
        parts.append(
            f"SELECT service, {d.extract('message', pattern, waiter)} AS w, "
            f"{d.extract('message', pattern, holder)} AS h FROM logs "
            f"WHERE {ctx.when('ts_ns')} AND {d.matches('message', pattern, ('waits for', 'lock'))}"
        )
    return f"SELECT DISTINCT service, w, h FROM ({' UNION ALL '.join(parts)}) e WHERE w <> ''"


def _held_calls_sql(ctx: Context) -> str:
    """Transaction spans with a call to another service inside them, per service."""
    d = ctx.dialect
    return f"""
WITH s AS (SELECT trace_id, span_id, parent_span_id, service, name, start_ns, end_ns
           FROM spans WHERE {ctx.when("start_ns")} AND service IS NOT NULL),
tx AS (SELECT trace_id, span_id, service FROM s WHERE {d.matches("name", _TX)}),
c AS (SELECT s.trace_id, s.span_id, s.service, s.end_ns - s.start_ns AS dur
      FROM s JOIN tx ON tx.trace_id = s.trace_id AND s.parent_span_id = tx.span_id
      WHERE s.service = tx.service)
SELECT c.service, r.service, count(*), max(c.dur)
FROM c JOIN s r ON r.trace_id = c.trace_id AND r.parent_span_id = c.span_id
WHERE r.service <> c.service
GROUP BY 1, 2"""


def detect(ctx: Context) -> list[Finding]:
    if not ctx.has("logs"):
        return []
    lines = _by_owner(ctx)
    if not lines:
        return []
    edges = ctx.query(_edges_sql(ctx))
    cycles = find_cycles(
        (f"{s}:{w}" for s, w, _ in edges),
        (Edge(f"{s}:{w}", f"{s}:{h}", 1) for s, w, h in edges),
    )
    databases = {s for s, (_d, _w, pairs, _f) in lines.items() if pairs}
    apps = {s: v for s, v in lines.items() if s not in databases and v[0]}
    held = ctx.query(_held_calls_sql(ctx)) if ctx.has("spans") else []
    owners = apps or {s: v for s, v in lines.items() if v[0] or v[1]}
    findings = []
    for service, (deadlocks, waits, _pairs, first) in sorted(owners.items()):
        evidence: list[Evidence] = []
        score = 0.9 if deadlocks else 0.6
        evidence.append(
            Evidence(
                EvidenceKind.LOG,
                f"{deadlocks} deadlock errors and {waits} "
                f"lock waits in {service} from {short_time(first)}",
                None,
                float(deadlocks),
            )
        )
        for db in sorted(databases):
            d_dead, d_wait, _pairs, d_first = lines[db]
            mine = [c for c in cycles if c[0].startswith(f"{db}:")]
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{db} reports {d_dead} deadlocks and {d_wait} lock "
                    f"waits from {short_time(d_first)}; {len(mine)} wait-for cycles",
                    None,
                    float(len(mine)),
                )
            )
            for cycle in mine[:2]:
                loop = " -> ".join(p.split(":", 1)[1] for p in (*cycle, cycle[0]))
                evidence.append(
                    Evidence(EvidenceKind.LOG, f"wait-for cycle in {db}: process {loop}")
                )
            condition = f"service = ? AND {ctx.dialect.matches('message', DEADLOCKS, LOCK_WORDS)}"
            evidence += example_lines(ctx, condition, [db], limit=1)
        condition = f"service = ? AND {ctx.dialect.matches('message', DEADLOCKS, LOCK_WORDS)}"
        evidence += example_lines(ctx, condition, [service], limit=1)
        for tx_service, callee, n, longest in held:
            if tx_service == service:
                score += 0.05
                evidence.append(
                    Evidence(
                        EvidenceKind.SPAN,
                        f"{n} transactions of {service} hold their "
                        f"locks while calling {callee} (up to {longest / 1e6:.0f} ms)",
                        None,
                        float(n),
                    )
                )
        findings.append(
            Finding(
                pattern=PATTERN,
                component=service,
                score=round(min(score, 0.95), 4),
                summary=f"{service}'s transactions deadlock"
                + (f" in {', '.join(sorted(databases))}" if databases else ""),
                evidence=tuple(evidence),
                action=(
                    f"Make {service} take its row locks in one global order (sort the ids "
                    "before locking, or lock with one SELECT ... FOR UPDATE ORDER BY id), and "
                    "keep calls to other services out of open transactions."
                ),
                start_ns=first,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

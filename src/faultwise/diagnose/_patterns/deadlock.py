"""deadlock: transactions (or threads) waiting on each other in a cycle.

Evidence: the wait-for graph rebuilt from the database's own lines (PostgreSQL's ``Process
4242 waits for ShareLock on transaction 90211; blocked by process 4243`` and, with
``log_lock_waits``, ``still waiting ... Process holding the lock: 4243. Wait queue: 4242``,
in the message or in a ``detail`` attribute) and its cycles; ``deadlock detected``
(PostgreSQL), ``Deadlock found when trying to get lock`` (MySQL), ``Found one Java-level
deadlock`` (a JVM thread dump); and a transaction that holds its locks while a call to
another service inside it waits: from spans (a transaction span with a call in it), or from
a request that logs that it held a lock (``... while the lock on stock:42 was held; rolled
back``) around an outgoing call. When the database's lock waits happened while such calls
were in flight, the wait-for graph runs through the application: the waiters point at a
transaction that is itself waiting on a call, and nothing but a timeout breaks the cycle.

The component is the application whose transactions deadlock (it reports the errors) or
hold their locks across calls; the database that reports the waits is named only when no
application does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from faultwise.diagnose._context import Context
from faultwise.diagnose._evidence import clip, example_lines, named_service, short_time
from faultwise.diagnose._graph import find_cycles
from faultwise.diagnose._model import Edge, Evidence, EvidenceKind, Finding, Pattern
from faultwise.diagnose._signals import FIRST, source_sql

__all__ = ["detect"]

PATTERN = Pattern.DEADLOCK

DEADLOCKS = (
    r"(?i)(deadlock detected|deadlock found when trying to get lock|java-level deadlock"
    r"|deadlock victim|ora-00060|lockacquisitionexception|cannotacquirelockexception)"
)
LOCK_WAITS = r"(?i)(still waiting for [a-z]*lock|lock wait timeout exceeded|waits for [a-z]*lock)"
_PAIR = r"[Pp]rocess ([0-9]+) waits for [A-Za-z]+ on [a-z ]+[0-9]+; blocked by process ([0-9]+)"
# the next pair of a DETAIL, after a space or (inside the attributes' JSON) an escaped newline
_SECOND = (
    r"blocked by process [0-9]+\.(?: |\\n)[Pp]rocess ([0-9]+) waits for .*?; "
    r"blocked by process ([0-9]+)"
)
_QUEUE = r"[Pp]rocess holding the lock: ([0-9]+)\. Wait queue: ([0-9]+)"
_TX = r"(?i)(transaction|\bbegin\b|\btx\b|transactional)"
# a request that says it held a lock (or its transaction) while something else went wrong
LOCK_HELD = (
    r"(?i)(\blocks?\b.{0,80}\b(held|holding|kept|still open)\b|\bhold(ing|s)? (the |a |its )?"
    r"(row )?locks?\b|while .{0,60}\b(lock|transaction)\b|(transaction|tx)\b.{0,40}\b(open|held))"
)
HELD_WORDS = ("lock", "transaction", " tx")
_WAITED = r"after ([0-9]+(?:\.[0-9]+)?) ?ms"  # "still waiting ... after 1000.052 ms"
_MAX_ROWS = 5000
_MIN_WAITS = 3
LOCK_WORDS = ("lock", "ora-00060")  # "deadlock" holds "lock"
_ANY = f"{DEADLOCKS}|{LOCK_WAITS}|{_QUEUE}"
_TEXT = "coalesce(message, '') || ' ' || coalesce(attrs, '')"  # a line and its attributes


def _lines_sql(ctx: Context) -> str:
    d = ctx.dialect
    return (
        "SELECT service, "
        f"sum(CASE WHEN {d.matches('message', DEADLOCKS)} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {d.matches('message', LOCK_WAITS)} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {d.matches(_TEXT, _PAIR)} OR {d.matches(_TEXT, _QUEUE)} "
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
            f"SELECT service, {d.extract(_TEXT, pattern, waiter)} AS w, "
            f"{d.extract(_TEXT, pattern, holder)} AS h FROM logs "
            f"WHERE {ctx.when('ts_ns')} AND {d.matches(_TEXT, LOCK_WAITS, LOCK_WORDS)} "
            f"AND {d.matches(_TEXT, pattern)}"
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


def _held_sql(ctx: Context) -> str:
    """Outgoing calls made by requests that say they held a lock around them."""
    d = ctx.dialect
    return f"""
WITH h AS (SELECT service, trace_id, min(ts_ns) AS first, {d.arg_min("message", FIRST)} AS ex,
                  {d.arg_min(source_sql(d), FIRST)} AS src
           FROM logs WHERE {ctx.when("ts_ns")} AND service IS NOT NULL AND trace_id IS NOT NULL
             AND {d.matches("message", LOCK_HELD, HELD_WORDS)}
           GROUP BY 1, 2)
SELECT h.service, coalesce(c.peer_service, ''), c.start_ns, c.end_ns, c.status, h.ex, h.src
FROM h JOIN spans c ON c.trace_id = h.trace_id AND c.service = h.service
WHERE c.kind = 3 AND {ctx.when("c.start_ns")}
ORDER BY c.start_ns LIMIT {_MAX_ROWS}"""


def _waits_sql(ctx: Context, databases: int) -> str:
    """The databases' lock waits: when each was reported and since when it waited."""
    d = ctx.dialect
    names = ", ".join("?" * databases)
    waited = d.number(d.extract("message", _WAITED))
    return (
        f"SELECT ts_ns, coalesce({waited}, 0) FROM logs WHERE {ctx.when('ts_ns')} "
        f"AND service IN ({names}) AND ts_ns IS NOT NULL "
        f"AND {d.matches('message', LOCK_WAITS, LOCK_WORDS)} ORDER BY ts_ns LIMIT {_MAX_ROWS}"
    )


@dataclass(frozen=True, slots=True)
class _Holder:
    """Requests of one service that held a lock across outgoing calls, and the lock waits
    reported while they did."""

    service: str
    requests: int
    callees: tuple[str, ...]
    longest_ns: int
    failed: int
    during: int  # lock waits reported while one of these calls was in flight
    waits: int
    first_ns: int
    example: str
    source: str | None

    @property
    def blocks(self) -> bool:
        """At least half of the databases' lock waits happened while these calls waited."""
        return self.waits >= _MIN_WAITS and 2 * self.during >= self.waits

    def describe(self) -> str:
        failed = f", {self.failed} of them failed" if self.failed else ""
        return (
            f"{self.requests} requests of {self.service} held a lock while calling "
            f"{', '.join(self.callees) or 'another service'} (up to "
            f"{self.longest_ns / 1e6:.0f} ms{failed}); {self.during} of {self.waits} lock "
            "waits in the database were reported while they did: the waiters wait on a "
            "transaction that is itself waiting on a call"
        )


def _holders(ctx: Context, databases: set[str]) -> dict[str, _Holder]:
    if not databases or not ctx.has("spans"):
        return {}
    waits = [
        (int(ts) - int(ms * 1e6), int(ts))
        for ts, ms in ctx.query(_waits_sql(ctx, len(databases)), sorted(databases))
    ]
    calls: dict[str, list[tuple[str, int, int, int, str, str | None]]] = defaultdict(list)
    for service, callee, start, end, status, example, source in ctx.query(_held_sql(ctx)):
        if service not in databases and end is not None:
            calls[service].append((callee, int(start), int(end), int(status or 0), example, source))
    found = {}
    for service, held in calls.items():
        during = sum(1 for lo, hi in waits if any(s <= hi and lo <= e for _, s, e, *_ in held))
        found[service] = _Holder(
            service,
            len(held),
            tuple(sorted({c for c, *_ in held if c})),
            max(e - s for _, s, e, *_ in held),
            sum(1 for *_, st, _, _ in held if st == 2),
            during,
            len(waits),
            held[0][1],
            held[0][4],
            held[0][5],
        )
    return found


def _fan_in(db: str, edges: list[tuple[Any, ...]]) -> list[Evidence]:
    """The holders most waiters point at in ``db``'s wait-for graph."""
    waiting: Counter[str] = Counter(str(h) for s, _w, h in edges if s == db and h)
    return [
        Evidence(
            EvidenceKind.LOG,
            f"wait-for graph in {db}: {n} processes waited for the lock held by process {h}",
            None,
            float(n),
        )
        # most waiters first, ties by holder: the same answer whatever order the rows came in
        for h, n in sorted(waiting.items(), key=lambda item: (-item[1], item[0]))[:2]
        if n > 1
    ]


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
    holders = {s: h for s, h in _holders(ctx, databases).items() if h.blocks}
    owners = dict(apps)
    for service, h in holders.items():
        owners.setdefault(service, lines.get(service, (0, 0, 0, h.first_ns)))
    if not owners:
        owners = {s: v for s, v in lines.items() if v[0] or v[1]}
    findings = []
    for service, (deadlocks, waits, _pairs, first) in sorted(owners.items()):
        evidence: list[Evidence] = []
        holder = holders.get(service)
        score = 0.9 if deadlocks or holder is not None else 0.6
        if deadlocks or waits:
            evidence.append(
                Evidence(
                    EvidenceKind.LOG,
                    f"{deadlocks} deadlock errors and {waits} "
                    f"lock waits in {service} from {short_time(first)}",
                    None,
                    float(deadlocks),
                )
            )
        if holder is not None:
            evidence.append(
                Evidence(EvidenceKind.SPAN, holder.describe(), None, float(holder.during))
            )
            evidence.append(
                Evidence(EvidenceKind.LOG, f"{service}: {clip(holder.example)}", holder.source)
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
            evidence += _fan_in(db, edges)
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
                summary=(
                    f"{service}'s transactions deadlock"
                    + (f" in {', '.join(sorted(databases))}" if databases else "")
                    if deadlocks or holder is None
                    else f"{service} holds its locks in {', '.join(sorted(databases))} while "
                    f"calling {', '.join(holder.callees) or 'another service'}: its "
                    "transactions and the lock's waiters wait on each other"
                ),
                evidence=tuple(evidence),
                action=(
                    f"Make {service} take its row locks in one global order (sort the ids "
                    "before locking, or lock with one SELECT ... FOR UPDATE ORDER BY id), and "
                    "keep calls to other services out of open transactions."
                    if deadlocks or holder is None
                    else f"Move {service}'s call to {', '.join(holder.callees) or 'the other'} "
                    "service out of its open transaction (call before taking the lock, or "
                    "after commit), and bound lock waits (lock_timeout) so one stuck "
                    "transaction cannot hold every other request."
                ),
                start_ns=first,
                end_ns=ctx.window.end_ns if ctx.window else None,
            )
        )
    return findings

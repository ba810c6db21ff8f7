"""The shared last step of every bulk log reader: normalise staged columns, insert, count rejects.

A reader builds one SQL query over its staged lines that yields VARCHAR columns named after
:data:`STAGED` (``n`` is the line number; ``reject`` a reason when the reader already knows
the line is bad). This module turns them into ``logs`` rows: timestamps to UTC ns, level words
and numbers to :class:`Severity`, service from the field, else the pod name without its
Kubernetes suffixes, else the file name. Lines without a readable timestamp are rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

from faultwise.telemetry._fields import SEVERITY_WORDS
from faultwise.telemetry._model import Reject, Severity
from faultwise.telemetry._services import POD_SUFFIX_SQL
from faultwise.telemetry._source import KEEP_REJECTS
from faultwise.telemetry._store import Store
from faultwise.telemetry._timestamps import TsForm, ts_sql

__all__ = ["STAGED", "LogsResult", "finish_logs", "quote", "severity_sql"]

STAGED = (
    "n", "raw_ts", "message", "sev_text", "sev_num", "service", "pod", "instance",
    "trace_id", "span_id", "request_id", "thread", "attrs", "reject", "raw",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LogsResult:
    inserted: int
    rejected: int
    rejects: tuple[Reject, ...]


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def severity_sql(text: str, number: str) -> str:
    """Severity from a level word or number (``text``) or an OTel/levelno number (``number``)."""
    words: dict[Severity, list[str]] = {}
    for word, sev in SEVERITY_WORDS.items():
        words.setdefault(sev, []).append(quote(word))
    level = f"upper(trim({text}))"
    word_case = " ".join(
        f"WHEN {level} IN ({', '.join(ws)}) THEN {int(sev)}" for sev, ws in words.items()
    )
    # OTel SeverityNumber 1..24 in a number field; pino/bunyan 10..60 in a level field.
    num = f"TRY_CAST({number} AS INTEGER)"
    txt_num = f"TRY_CAST({text} AS INTEGER)"
    return (
        f"CASE WHEN {num} BETWEEN 1 AND 24 THEN (({num} - 1) // 4) * 4 + 1 "
        f"WHEN {txt_num} IS NOT NULL THEN least(21, greatest(1, ({txt_num} // 10 - 1) * 4 + 1)) "
        f"ELSE CASE {word_case} ELSE 0 END END"
    )


def finish_logs(
    store: Store,
    staged_sql: str,
    *,
    source: str,
    ts_form: TsForm | None,
    year: int,
    default_service: str | None,
) -> LogsResult:
    """Insert the rows of ``staged_sql`` into ``logs``; return counts and the first rejects."""
    ts = ts_sql("raw_ts", ts_form, year=year)
    service = (
        "coalesce(nullif(trim(service), ''), "
        f"nullif(regexp_replace(pod, '{POD_SUFFIX_SQL}', ''), ''), "
        f"{quote(default_service) if default_service else 'NULL'})"
    )
    con = store.connection
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _staged AS SELECT n, "
        f"CASE WHEN reject IS NULL THEN {ts} END AS ts_ns, "
        f"{service} AS service, coalesce(pod, instance) AS instance, "
        f"CAST({severity_sql('sev_text', 'sev_num')} AS TINYINT) AS severity, message, "
        "lower(trim(trace_id)) AS trace_id, lower(trim(span_id)) AS span_id, request_id, "
        "thread, attrs, reject, raw "
        f"FROM ({staged_sql})"
    )
    con.execute(
        "INSERT INTO logs SELECT ts_ns, service, instance, severity, message, NULL, "
        "nullif(trace_id, ''), nullif(span_id, ''), request_id, thread, attrs, ?, n "
        "FROM _staged WHERE reject IS NULL AND ts_ns IS NOT NULL ORDER BY n",
        [source],
    )
    inserted, rejected = con.execute(
        "SELECT count(*) FILTER (WHERE reject IS NULL AND ts_ns IS NOT NULL), "
        "count(*) FILTER (WHERE reject IS NOT NULL OR ts_ns IS NULL) FROM _staged"
    ).fetchone() or (0, 0)
    rows = con.execute(
        "SELECT n, coalesce(reject, 'no readable timestamp'), left(raw, 200) FROM _staged "
        f"WHERE reject IS NOT NULL OR ts_ns IS NULL ORDER BY n LIMIT {KEEP_REJECTS}"
    ).fetchall()
    con.execute("DROP TABLE _staged")
    rejects = tuple(Reject(source, int(n), reason, text or "") for n, reason, text in rows)
    return LogsResult(int(inserted), int(rejected), rejects)

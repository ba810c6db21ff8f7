"""Detectors one by one, on small stores built row by row: the evidence each one reads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum

from faultwise.diagnose import Diagnosis, Finding, Pattern, diagnose
from faultwise.telemetry import (
    TABLES,
    Change,
    ChangeKind,
    LogRecord,
    Sample,
    Severity,
    Span,
    Store,
    Table,
)

S = 1_000_000_000
T0 = 1_772_614_800 * S  # 2026-03-04T09:00:00Z


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _insert(store: Store, table: Table, rows: list[object]) -> None:
    """One literal INSERT: row-by-row inserts of a few thousand rows are slow in DuckDB."""
    if not rows:
        return
    names = [column for column, _ in TABLES[table]]
    values = ",".join(
        "(" + ",".join(_literal(getattr(row, n)) for n in names) + ")" for row in rows
    )
    store.execute(f"INSERT INTO {table.value} VALUES {values}")


def _store(
    logs: Iterable[LogRecord] = (), samples: Iterable[Sample] = (), spans: Iterable[Span] = ()
) -> Store:
    store = Store()
    _insert(store, Table.LOGS, list(logs))
    _insert(store, Table.SAMPLES, list(samples))
    _insert(store, Table.SPANS, list(spans))
    return store


def _run(store: Store, pattern: Pattern) -> list[Finding]:
    with store:
        result = diagnose(store, patterns=[pattern])
    return [f for f in result.findings if f.pattern is pattern]


def _steady(service: str, seconds: int = 600) -> list[LogRecord]:
    """An unremarkable service: one INFO line a second."""
    return [
        LogRecord(T0 + t * S, "GET /health 200", service, severity=Severity.INFO)
        for t in range(seconds)
    ]


def test_pool_full_for_a_minute_in_otel_gauges_is_pool_exhaustion() -> None:
    labels = json.dumps({"state": "used", "db.client.connection.pool.name": "main"})
    samples = []
    for t in range(0, 600, 10):
        used = 4.0 if t < 400 else 10.0
        samples += [
            Sample(T0 + t * S, "db_client_connection_count", used, "orders", "orders-1", labels),
            Sample(T0 + t * S, "db_client_connection_max", 10.0, "orders", "orders-1"),
            Sample(
                T0 + t * S,
                "db_client_connection_pending_requests",
                0.0 if t < 400 else (t - 400) / 10,
                "orders",
                "orders-1",
            ),
        ]
    found = _run(_store(_steady("orders"), samples), Pattern.POOL_EXHAUSTION)
    assert ["orders"] == [f.component for f in found]
    assert 0.9 == found[0].score
    assert found[0].evidence[0].text.startswith("pool full (10 of 10 in use) for 2")
    assert "requests waiting for a connection grew from 0 to 19" == found[0].evidence[1].text


def test_heap_left_after_each_gc_rising_in_jvm_gc_logs_is_a_memory_leak() -> None:
    logs = [
        LogRecord(
            T0 + t * S,
            f"[gc] GC({t}) Pause Young (Normal) (G1 Evacuation Pause) "
            f"{900 + t}M->{300 + t * 2}M(2048M) 12.345ms",
            "billing",
            severity=Severity.INFO,
        )
        for t in range(0, 600, 5)
    ]
    found = _run(_store(logs), Pattern.MEMORY_LEAK)
    assert ["billing"] == [f.component for f in found]
    assert found[0].evidence[0].text.startswith("heap after GC rose steadily from 300 MB to")


def test_filesystem_filling_to_full_with_enospc_errors_is_disk_exhaustion() -> None:
    size = 100e9
    samples = [
        s
        for t in range(0, 600, 15)
        for s in (
            Sample(
                T0 + t * S,
                "node_filesystem_avail_bytes",
                max(0.0, size * (0.5 - t / 1000)),
                "ledger",
                "ledger-0",
            ),
            Sample(T0 + t * S, "node_filesystem_size_bytes", size, "ledger", "ledger-0"),
        )
    ]
    errors = [
        LogRecord(
            T0 + t * S,
            "write failed: [Errno 28] No space left on device",
            "ledger",
            severity=Severity.ERROR,
        )
        for t in range(500, 600, 5)
    ]
    found = _run(_store(_steady("ledger") + errors, samples), Pattern.DISK_EXHAUSTION)
    assert ["ledger"] == [f.component for f in found]
    assert 0.95 == found[0].score
    assert "disk of ledger-0 100 % full" in found[0].evidence[0].text


def test_one_core_busy_for_minutes_is_cpu_saturation() -> None:
    samples = []
    used = 0.0
    for t in range(0, 600, 15):
        used += 15 * (0.2 if t < 300 else 0.99)
        samples.append(Sample(T0 + t * S, "process_cpu_seconds_total", used, "search", "s-1"))
    found = _run(_store(_steady("search"), samples), Pattern.CPU_SATURATION)
    assert ["search"] == [f.component for f in found]
    assert found[0].evidence[0].text.startswith("CPU at 99 % of its limit for")


def test_postgres_wait_for_lines_give_the_cycle_and_the_app_that_deadlocks() -> None:
    logs = _steady("orders", 300)
    for k in range(6):
        t = T0 + (200 + k * 10) * S
        a, b = 4000 + 2 * k, 4001 + 2 * k
        logs += [
            LogRecord(t, "ERROR:  deadlock detected", "postgres", severity=Severity.ERROR),
            LogRecord(
                t,
                f"DETAIL:  Process {a} waits for ShareLock on transaction {b + 90}; "
                f"blocked by process {b}. Process {b} waits for ShareLock on transaction "
                f"{a + 90}; blocked by process {a}.",
                "postgres",
            ),
            LogRecord(
                t + S,
                "transfer failed: ERROR: deadlock detected",
                "orders",
                severity=Severity.ERROR,
            ),
        ]
    found = _run(_store(logs), Pattern.DEADLOCK)
    assert ["orders"] == [f.component for f in found]
    texts = [e.text for e in found[0].evidence]
    assert "wait-for cycle in postgres: process 4000 -> 4001 -> 4000" in texts
    assert "postgres reports 6 deadlocks and 6 lock waits from 09:03:20.000; 6 wait-for cycles" in (
        texts
    )


def test_two_writers_writing_the_same_version_are_lost_updates() -> None:
    logs = _steady("stock", 300)
    for k in range(5):
        t = T0 + (200 + k) * S
        for pod in ("stock-0", "stock-1"):
            logs.append(
                LogRecord(
                    t, f"updated stock sku=A-{k} qty=9 version=7", "stock", pod, Severity.DEBUG
                )
            )
    found = _run(_store(logs), Pattern.RACE_CONDITION)
    assert ["stock"] == [f.component for f in found]
    assert found[0].evidence[0].text.startswith("5 lost updates on 5 keys from 09:03:20.000")


def _span(ids: tuple[str, str, str | None], service: str, start: int, ms: int) -> Span:
    trace, span, parent = ids
    return Span(trace, span, start, start + ms * 1_000_000, "call", parent, service)


def _calls(seconds: int, *, slow_db_from: int | None = None) -> list[Span]:
    """api -> orders -> db, one request a second; the db slows down ×20 from a time."""
    spans = []
    for t in range(seconds):
        start = T0 + t * S
        db_ms = 200 if slow_db_from is not None and t >= slow_db_from else 10
        spans += [
            _span((f"t{t}", f"a{t}", None), "api", start, 30 + db_ms),
            _span((f"t{t}", f"o{t}", f"a{t}"), "orders", start + 1_000_000, 20 + db_ms),
            _span((f"t{t}", f"d{t}", f"o{t}"), "db", start + 2_000_000, db_ms),
        ]
    return spans


def test_a_callee_that_slows_down_first_is_ranked_above_its_callers() -> None:
    with _store(spans=_calls(600, slow_db_from=400)) as store:
        result = diagnose(store)
    assert ["db", "orders", "api"] == [r.component for r in result.ranking][:3]
    assert (Pattern.SLOW_DEPENDENCY, "db") == (
        result.root_cause.pattern,  # type: ignore[union-attr]
        result.root_cause.component,  # type: ignore[union-attr]
    )
    assert "explained by db (called by it)" in result.ranking[1].reasons


def test_a_quiet_incident_has_no_root_cause() -> None:
    with _store(_steady("api"), spans=_calls(600)) as store:
        result: Diagnosis = diagnose(store)
    assert result.root_cause is None
    assert () == result.findings


def test_a_deploy_after_the_first_symptom_is_called_out() -> None:
    store = _store(spans=_calls(600, slow_db_from=400))
    store.insert(
        Table.CHANGES,
        [Change(T0 + 500 * S, ChangeKind.DEPLOY, "orders v2.3.1 rolled out", "orders")],
    )
    with store:
        result = diagnose(store)
    assert [
        "the most recent deploy (orders at 09:08:20.000) came after the first symptom "
        "(09:06:40.000): it did not start this incident"
    ] == [w for w in result.inputs.warnings if "deploy" in w]


def test_metrics_exported_for_a_whole_day_do_not_stretch_the_incident_window() -> None:
    day = [
        Sample(T0 + t * S, "container_memory_working_set_bytes", 2e8, "api", "api-1")
        for t in range(-36_000, 36_000, 60)
    ]
    with _store(_steady("api", 600), day) as store:
        result = diagnose(store)
    assert result.inputs.window is not None
    assert (T0, T0 + 599 * S + 1) == (result.inputs.window.start_ns, result.inputs.window.end_ns)

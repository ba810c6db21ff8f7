from __future__ import annotations

from pathlib import Path

from faultwise.telemetry import (
    TABLES,
    IngestSummary,
    LogRecord,
    Reject,
    Severity,
    SourceReport,
    Span,
    SpanKind,
    SpanStatus,
    Store,
    Table,
)
from faultwise.telemetry._model import Format


def test_new_store_has_the_five_tables_with_the_documented_columns() -> None:
    with Store() as store:
        for table, columns in TABLES.items():
            actual = [r[0] for r in store.query(f"DESCRIBE {table.value}")]
            assert [c for c, _ in columns] == actual


def test_insert_small_batch_round_trips_enums_as_numbers() -> None:
    with Store() as store:
        store.insert(Table.LOGS, [LogRecord(ts_ns=5, message="boom", severity=Severity.ERROR)])
        assert [(5, 17, "boom")] == store.query("SELECT ts_ns, severity, message FROM logs")


def test_insert_large_batch_goes_through_staging_file_and_keeps_every_row() -> None:
    spans = [
        Span(
            trace_id="t",
            span_id=f"s{i}",
            start_ns=i,
            end_ns=i + 10,
            kind=SpanKind.SERVER,
            status=SpanStatus.ERROR,
            attrs='{"k": 1}',
        )
        for i in range(5000)
    ]
    with Store() as store:
        assert 5000 == store.insert(Table.SPANS, spans)
        assert (5000, 2, 2, 50_000) == tuple(
            store.query(
                "SELECT count(*), min(kind), max(status), sum(end_ns - start_ns) FROM spans"
            )[0]
        )
        assert "1" == store.scalar("SELECT attrs->>'$.k' FROM spans LIMIT 1")


def test_store_keeps_insertion_order_that_line_numbers_rely_on() -> None:
    with Store() as store:
        assert True is store.scalar("SELECT current_setting('preserve_insertion_order')")


def test_query_dicts_names_columns() -> None:
    with Store() as store:
        store.insert(Table.LOGS, [LogRecord(ts_ns=1, message="m", service="api")])
        assert [{"service": "api", "n": 1}] == store.query_dicts(
            "SELECT service, count(*) AS n FROM logs GROUP BY service"
        )


def test_summary_survives_reopening_a_file_store(tmp_path: Path) -> None:
    db = tmp_path / "incident.duckdb"
    report = SourceReport(
        "a.log", Format.TEXT, "api", {Table.LOGS: 3}, 1, (Reject("a.log", 2, "bad", "x"),)
    )
    with Store(db) as store:
        store.record_summary(IngestSummary((report,)))
    with Store(db) as store:
        assert (report,) == store.summary.sources
        assert {**dict.fromkeys(Table, 0), Table.LOGS: 3} == store.summary.counts


def test_severity_from_any_otel_number_is_its_level() -> None:
    assert [Severity.TRACE, Severity.INFO, Severity.ERROR, Severity.FATAL] == [
        Severity.from_number(n) for n in (4, 12, 19, 24)
    ]

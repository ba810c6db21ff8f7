from __future__ import annotations

import json
from pathlib import Path

from faultwise.telemetry import Format, Severity, Store, Table, ingest, load


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_json_lines_with_otel_ecs_and_common_names_map_to_the_model(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "payments.jsonl",
        [
            json.dumps(
                {
                    "ts": "2026-01-01T00:00:01.5Z",
                    "level": "error",
                    "msg": "db down",
                    "trace_id": "ABC",
                    "service": "payments",
                }
            ),
            json.dumps(
                {
                    "@timestamp": "2026-01-01T00:00:02Z",
                    "log": {"level": "WARN"},
                    "message": "slow",
                    "trace": {"id": "def"},
                }
            ),
            json.dumps({"time": 1767225603, "severity": "info", "message": "ok"}),
        ],
    )
    with load([f]) as store:
        rows = store.query(
            "SELECT ts_ns, service, severity, message, trace_id, source_line FROM logs ORDER BY 1"
        )
    assert [
        (1767225601_500_000_000, "payments", Severity.ERROR, "db down", "abc", 1),
        (1767225602_000_000_000, "payments", Severity.WARN, "slow", "def", 2),
        (1767225603_000_000_000, "payments", Severity.INFO, "ok", None, 3),
    ] == rows


def test_bad_json_lines_are_counted_rejects_with_file_and_line(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.jsonl", ['{"ts": 1, "msg": "a"}', "{oops", "", '{"msg": "no time"}'])
    with load([f]) as store:
        summary = store.summary
        kept = store.query("SELECT source_line, message FROM logs")
    report = summary.sources[0]
    assert Format.JSONL == report.format
    assert {Table.LOGS: 1} == report.rows
    assert 2 == report.rejected
    assert [("x.jsonl:2", "not a JSON object"), ("x.jsonl:4", "no readable timestamp")] == [
        (f"{Path(r.source_file).name}:{r.source_line}", r.reason) for r in report.rejects
    ]
    assert [(1, "a")] == kept


def test_many_rejects_keep_the_first_five_in_line_order_and_count_all(tmp_path: Path) -> None:
    lines = [f"bad {i}" if i % 3 == 0 else f'{{"ts": {i}, "msg": "m{i}"}}' for i in range(1, 31)]
    f = _write(tmp_path / "x.jsonl", lines)
    with load([f]) as store:
        report = store.summary.sources[0]
        kept = store.query("SELECT source_line FROM logs ORDER BY 1")
    assert (20, 10) == (report.rows[Table.LOGS], report.rejected)
    assert [3, 6, 9, 12, 15] == [r.source_line for r in report.rejects]
    assert ["bad 3", "bad 6", "bad 9", "bad 12", "bad 15"] == [r.text for r in report.rejects]
    assert [(i,) for i in range(1, 31) if i % 3] == kept


def test_line_numbers_follow_the_file_across_blank_lines(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.jsonl", ["", '{"ts": 1, "msg": "a"}', "", "", '{"ts": 2, "msg": "b"}'])
    with load([f]) as store:
        rows = store.query("SELECT source_line, message FROM logs ORDER BY 1")
        rejected = store.summary.rejected
    assert ([(2, "a"), (5, "b")], 0) == (rows, rejected)


def _numbered_lines(count: int) -> list[str]:
    """JSON lines whose message is their own line number; every 997th blank, every 1009th bad."""
    return [
        "" if i % 997 == 0 else f"bad {i}" if i % 1009 == 0 else f'{{"ts": {i}, "msg": "{i}"}}'
        for i in range(1, count + 1)
    ]


def _misnumbered(store: Store, source: Path) -> int:
    return int(
        store.scalar(
            "SELECT count(*) FROM logs WHERE source_file = ? AND source_line <> message::BIGINT",
            [str(source)],
        )
    )


def test_line_numbers_hold_across_row_groups(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.jsonl", _numbered_lines(150_000))  # more than one row group
    with Store(threads=4) as store:
        ingest(store, [f], templates=False)
        report = store.summary.sources[0]
        misnumbered = _misnumbered(store, f)
    assert (0, 148) == (misnumbered, report.rejected)
    assert [1009, 2018, 3027, 4036, 5045] == [r.source_line for r in report.rejects]


def test_line_numbers_hold_in_a_kept_store_that_holds_and_deleted_rows(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", _numbered_lines(20_000))
    second = _write(tmp_path / "b.jsonl", _numbered_lines(30_000))
    db = tmp_path / "incident.duckdb"
    with load([first], db=db, templates=False) as store:
        store.execute("DELETE FROM logs WHERE source_line % 3 = 0")
    with Store(db) as store:
        ingest(store, [second], templates=False)
        misnumbered = [_misnumbered(store, first), _misnumbered(store, second)]
        lines = store.scalar("SELECT count(*) FROM logs WHERE source_file = ?", [str(second)])
    assert ([0, 0], 30_000 - 30 - 29) == (misnumbered, lines)


def test_csv_spans_with_nezha_columns_become_spans(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "trace.csv",
        [
            "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration",
            "t1,a,root,ts-gateway-service-6f6cfc45b-h5m2n,/*,1000,5000,4",
            "t1,b,a,ts-auth-service-7f8d7d756d-k7b9j,login,2000,4000,2",
        ],
    )
    with load([f]) as store:
        rows = store.query(
            "SELECT span_id, parent_span_id, service, name, start_ns, end_ns FROM spans ORDER BY 1"
        )
    assert [
        ("a", None, "ts-gateway-service", "/*", 1000, 5000),
        ("b", "a", "ts-auth-service", "login", 2000, 4000),
    ] == rows


def _indexes(store: Store) -> list[tuple[str, str]]:
    return [
        (str(table), str(name))
        for name, table in store.query(
            "SELECT index_name, table_name FROM duckdb_indexes() ORDER BY 2"
        )
    ]


def test_a_kept_store_indexes_trace_ids_and_keeps_them_current(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", ['{"ts": 1, "msg": "a", "trace_id": "T1"}'])
    second = _write(tmp_path / "b.jsonl", ['{"ts": 2, "msg": "b", "trace_id": "T1"}'])
    db = tmp_path / "incident.duckdb"
    with load([first], db=db) as store:
        assert [("logs", "logs_trace_id"), ("spans", "spans_trace_id")] == _indexes(store)
    with Store(db) as store:
        ingest(store, [second])
        rows = store.query("SELECT message FROM logs WHERE trace_id = 't1' ORDER BY ts_ns")
    assert [("a",), ("b",)] == rows


def test_an_in_memory_store_is_not_indexed(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.jsonl", ['{"ts": 1, "msg": "a", "trace_id": "T1"}'])
    with load([f]) as store:
        assert [] == _indexes(store)

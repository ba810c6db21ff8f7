from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from faultwise._errors import InputError
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


REPEATED_LOADS = """
import gc, json, os, sys, threading, tracemalloc
import duckdb
from faultwise.telemetry import load

inputs = sys.argv[1:]


def state():
    gc.collect()
    objects = gc.get_objects()
    connections = sum(isinstance(o, duckdb.DuckDBPyConnection) for o in objects)
    return [
        tracemalloc.get_traced_memory()[0],
        len(objects),
        connections,
        len(os.listdir("/proc/self/fd")),
        threading.active_count(),
    ]


def load_and_drop(closed):
    store = load(inputs)
    assert 4 == sum(store.summary.counts.values())  # 3 log records and a span
    if closed:
        store.close()


tracemalloc.start()
for k in range(3):  # the first calls fill what is filled once (imports, patterns)
    load_and_drop(k % 2 == 0)
before = state()
for k in range(12):
    load_and_drop(k % 2 == 0)
print(json.dumps([before, state()]))
"""


def test_repeated_loads_in_one_process_leave_nothing_behind_that_grows(tmp_path: Path) -> None:
    """Measured in a fresh interpreter: nothing else in it (a test runner, a race detector
    watching the run) holds or frees objects meanwhile."""
    import subprocess
    import sys

    # every bulk reader: text with a stack trace and PostgreSQL's field lines, JSON lines, CSV
    t = "2026-01-01 00:00:0{}.000"
    inputs = [
        _write(
            tmp_path / "app.log",
            [f"{t.format(1)} ERROR [main] com.acme.Pay - boom", "\tat com.acme.Pay(Pay.java:1)"],
        ),
        _write(
            tmp_path / "postgresql.log",
            [f"{t.format(2)} UTC [7] ERROR:  boom", f"{t.format(2)} UTC [7] STATEMENT:  SELECT 1"],
        ),
        _write(tmp_path / "app.jsonl", [json.dumps({"ts": t.format(3), "msg": "ok"})]),
        _write(
            tmp_path / "spans.csv",
            ["trace_id,span_id,parent_span_id,service.name,name,start_ns,end_ns", "a,b,,s,n,1,2"],
        ),
    ]
    spool = tmp_path / "spool"  # where each load spools its input
    spool.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", REPEATED_LOADS, *map(str, inputs)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(spool)},
        check=False,
    )
    assert 0 == run.returncode, run.stderr
    before, after = json.loads(run.stdout)
    held, objects, connections, fds, threads = before
    held_after, objects_after, connections_after, fds_after, threads_after = after
    assert [] == list(spool.iterdir())
    assert [connections, fds, threads] == [connections_after, fds_after, threads_after]
    # a cache or registry that keeps something of every load grows by 12 entries at least
    assert objects_after - objects < 12
    assert held_after - held < 2048  # 0.1 to 0.2 KiB here: allocator noise


def test_a_kept_store_reads_a_file_given_again_only_once(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", ['{"ts": "2026-01-01T00:00:00Z", "msg": "a"}'])
    b = _write(tmp_path / "b.jsonl", ['{"ts": "2026-01-01T00:00:01Z", "msg": "b"}'])
    db = tmp_path / "kept.duckdb"
    with load([a], db=db) as store:
        assert () == store.summary.reused
    with Store(db) as store:
        summary = ingest(store, [a, b])
        assert ((str(a),), [str(b)]) == (
            summary.reused,
            [s.source_file for s in summary.sources],
        )
        assert [("a",), ("b",)] == store.query("SELECT message FROM logs ORDER BY ts_ns")
        assert (str(a),) == store.summary.reused


def test_a_kept_store_reads_a_file_again_once_it_has_changed(tmp_path: Path) -> None:
    # an incident's log keeps growing between two commands on the same --db
    a = _write(tmp_path / "a.jsonl", ['{"ts": "2026-01-01T00:00:00Z", "msg": "a"}', "{bad"])
    b = _write(tmp_path / "b.jsonl", ['{"ts": "2026-01-01T00:00:05Z", "msg": "b"}'])
    db = tmp_path / "kept.duckdb"
    with load([a, b], db=db):
        pass
    with a.open("a") as f:
        f.write('{"ts": "2026-01-01T00:00:02Z", "msg": "a2", "trace_id": "%s"}\n' % ("7" * 32))
    with Store(db) as store:
        summary = ingest(store, [a, b])
        read_again = [s.source_file for s in summary.sources]
        messages = store.query("SELECT message, source_line FROM logs ORDER BY ts_ns")
        held = store.summary
        trace = store.query(f"SELECT message FROM logs WHERE trace_id = '{'7' * 32}'")
    assert ([str(a)], (str(b),)) == (read_again, summary.reused)
    assert [("a", 1), ("a2", 3), ("b", 1)] == messages  # no stale copy of a's first read
    assert [(str(a), 1), (str(b), 0)] == sorted((s.source_file, s.rejected) for s in held.sources)
    assert [("a2",)] == trace  # the kept trace-id index follows the rows read again


def test_a_kept_store_refuses_a_changed_file_whose_samples_it_cannot_replace(
    tmp_path: Path,
) -> None:
    exposition = ["# HELP up Whether the target is up.", "# TYPE up gauge", "up 1 1767225600000"]
    metrics = _write(tmp_path / "metrics.prom", exposition)
    db = tmp_path / "kept.duckdb"
    with load([metrics], db=db):
        pass
    with metrics.open("a") as f:
        f.write("up 0 1767225615000\n")
    with Store(db) as store:
        with pytest.raises(InputError, match="changed since it was read into this --db"):
            ingest(store, [metrics])
        assert [(1.0,)] == store.query("SELECT value FROM samples")  # the store is as it was


def test_web_pages_next_to_the_telemetry_are_listed_not_read(tmp_path: Path) -> None:
    # an analyser's own report written into the incident directory is not a log of the incident
    _write(tmp_path / "app.log.jsonl", ['{"ts": "2026-01-01T00:00:00Z", "msg": "up"}'])
    _write(tmp_path / "report.html", ["<!doctype html>", "<html><body>ERROR 500</body></html>"])
    _write(tmp_path / "page.htm", ["  <HTML lang=en>", "<p>2026-01-01 00:00:00 ERROR x</p>"])
    _write(tmp_path / "notes.txt", ["2026-01-01 00:00:01 ERROR <html> in a log line is a log"])
    with load([tmp_path]) as store:
        summary = store.summary
        logs = store.query("SELECT message FROM logs ORDER BY ts_ns")
    formats = {Path(s.source_file).name: s.format for s in summary.sources}
    assert (Format.HTML, Format.HTML) == (formats["report.html"], formats["page.htm"])
    assert sorted(str(tmp_path / n) for n in ("page.htm", "report.html")) == sorted(summary.pages)
    assert [("up",), ("<html> in a log line is a log",)] == logs

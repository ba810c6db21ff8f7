"""One test per reader: a small input in the format, the rows it must give."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from faultwise.telemetry import ChangeKind, ClockIssue, Format, Severity, SpanKind, SpanStatus, load
from faultwise.telemetry._csv import metric_name
from faultwise.telemetry._services import service_from_file, service_from_pod
from faultwise.telemetry._timestamps import parse_timestamp

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _logs(
    path: Path, columns: str = "ts_ns, service, severity, message"
) -> list[tuple[object, ...]]:
    with load([path]) as store:
        return store.query(f"SELECT {columns} FROM logs ORDER BY source_line")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2026-01-01T00:00:01.5Z INFO started", (T0 + 1_500_000_000, Severity.INFO, "started")),
        (
            "2026-01-01 00:00:01,250 [main] ERROR com.acme.Pay - card declined",
            (T0 + 1_250_000_000, Severity.ERROR, "card declined"),
        ),
        (
            "2026-01-01 00:00:01,000 WARN [main] org.acme.Job: slow",
            (T0 + 10**9, Severity.WARN, "slow"),
        ),
        (
            "2026-01-01T00:00:01.000+00:00  INFO 4242 --- [nio-8080-exec-1] c.a.Web : GET /",
            (T0 + 10**9, Severity.INFO, "GET /"),
        ),
        (
            "2026-01-01 00:00:01,000 - app.db - ERROR - pool exhausted",
            (T0 + 10**9, Severity.ERROR, "pool exhausted"),
        ),
        (
            "2026/01/01 00:00:01 listening on :8080",
            (T0 + 10**9, Severity.UNKNOWN, "listening on :8080"),
        ),
        (
            "2026-01-01T00:00:01.000Z\terror\tpay/charge.go:42\tcharge failed",
            (T0 + 10**9, Severity.ERROR, "charge failed"),
        ),
        (
            '10.0.0.1 - - [01/Jan/2026:00:00:01 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl"',
            (T0 + 10**9, Severity.ERROR, 'GET /pay HTTP/1.1 503 12 "-" "curl"'),
        ),
        (
            "<11>1 2026-01-01T00:00:01Z host api 12 - - disk full",
            (T0 + 10**9, Severity.ERROR, "disk full"),
        ),
    ],
)
def test_text_layouts_give_time_level_and_bare_message(
    tmp_path: Path, line: str, expected: tuple[object, ...]
) -> None:
    rows = _logs(_file(tmp_path, "svc.log", line + "\n"), "ts_ns, severity, message")
    assert [expected] == rows


def test_klog_and_syslog_without_year_take_the_file_year(tmp_path: Path) -> None:
    path = _file(tmp_path, "x.log", "Jan  1 00:00:01 host sshd[42]: Accepted key\n")
    import os

    os.utime(path, (T0 / 1e9, T0 / 1e9))
    assert [(T0 + 10**9, "sshd", "Accepted key")] == _logs(path, "ts_ns, service, message")


def test_stack_trace_lines_join_the_record_above(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "app.log",
        "2026-01-01 00:00:01,000 ERROR [main] a.B: boom\n"
        "java.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n"
        "2026-01-01 00:00:02,000 INFO [main] a.B: next\n",
    )
    assert [
        (1, "boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)"),
        (4, "next"),
    ] == _logs(path, "source_line, message")


def test_blank_lines_keep_the_line_numbers_of_records_and_stack_traces(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "app.log",
        "\n"
        "2026-01-01 00:00:01,000 ERROR [main] a.B: boom\n"
        "java.lang.IllegalStateException: x\n"
        "   \n"
        "\tat a.B.c(B.java:1)\n"
        "\n"
        "2026-01-01 00:00:02,000 INFO [main] a.B: next\n",
    )
    with load([path]) as store:
        rows = store.query("SELECT source_line, message FROM logs ORDER BY 1")
        rejected = store.summary.rejected
    assert [
        (2, "boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)"),
        (7, "next"),
    ] == rows
    assert 0 == rejected


def test_plain_messages_without_timestamps_keep_their_line_numbers(tmp_path: Path) -> None:
    path = _file(tmp_path, "notes.txt", "first thing\n\n  \nsecond thing\nthird thing\n")
    assert [(1, "first thing"), (4, "second thing"), (5, "third thing")] == _logs(
        path, "source_line, message"
    )


def test_cri_prefix_with_json_inside_is_unwrapped(tmp_path: Path) -> None:
    inner = json.dumps({"level": "error", "msg": "db down", "trace_id": "ab12"})
    path = _file(tmp_path, "pod.log", f"2026-01-01T00:00:01.000000001Z stdout F {inner}\n")
    assert [(T0 + 10**9 + 1, Severity.ERROR, "db down", "ab12")] == _logs(
        path, "ts_ns, severity, message, trace_id"
    )


def test_docker_json_file_with_java_text_inside_reports_the_local_clock(tmp_path: Path) -> None:
    record = {
        "log": "08:00:01.000 INFO  a.B#1 hello\n",
        "stream": "stdout",
        "time": "2026-01-01T00:00:01.000Z",
    }
    path = _file(tmp_path, "c.jsonl", json.dumps(record) + "\n")
    with load([path]) as store:
        assert [(T0 + 10**9, 9, "a.B#1 hello")] == store.query(
            "SELECT ts_ns, severity, message FROM logs"
        )
        clock = store.summary.clock
    assert [(ClockIssue.TIMEZONE, 8 * 3600 * 10**9)] == [(c.issue, c.offset_ns) for c in clock]


def test_logfmt_fields_map_like_json(tmp_path: Path) -> None:
    path = _file(
        tmp_path, "x.log", 'ts=2026-01-01T00:00:01Z level=warn msg="slow query" svc=db took=2s\n'
    )
    assert [(T0 + 10**9, Severity.WARN, "slow query")] == _logs(path, "ts_ns, severity, message")


def test_epoch_numbers_in_any_unit_and_pino_levels(tmp_path: Path) -> None:
    lines = [
        {"time": T0 // 10**9, "level": 30, "msg": "s"},
        {"time": T0 // 10**6, "level": 50, "msg": "ms"},
        {"time": T0 // 10**3, "level": 40, "msg": "us"},
        {"time": T0, "level": 60, "msg": "ns"},
    ]
    path = _file(tmp_path, "p.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    assert [
        (T0, Severity.INFO),
        (T0, Severity.ERROR),
        (T0, Severity.WARN),
        (T0, Severity.FATAL),
    ] == _logs(path, "ts_ns, severity")


def test_epoch_numbers_keep_every_nanosecond_they_give(tmp_path: Path) -> None:
    """A DOUBLE would put epoch milliseconds in ns on a multiple of 256 ns."""
    t = T0 + 123_456_789
    lines = [
        {"time": t // 10**6, "msg": "ms"},
        {"time": str(t // 10**6), "msg": "ms as text"},
        {"time": t // 10**3, "msg": "us"},
        {"time": t, "msg": "ns"},
        {"time": -5, "msg": "before 1970"},
        {"time": "1.767225600e9", "msg": "exponent"},
    ]
    path = _file(tmp_path, "e.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    assert [
        (t // 10**6 * 10**6, "ms"),
        (t // 10**6 * 10**6, "ms as text"),
        (t // 10**3 * 10**3, "us"),
        (t, "ns"),
        (-5 * 10**9, "before 1970"),
        (T0, "exponent"),
    ] == _logs(path, "ts_ns, message")
    csv = _file(tmp_path, "e.csv", f"time,msg\n{T0 // 10**9}.123456789,s with nine places\n")
    assert [(t, "s with nine places")] == _logs(csv, "ts_ns, message")


def test_explicit_mapping_reads_unusual_field_names(tmp_path: Path) -> None:
    path = _file(
        tmp_path, "x.jsonl", json.dumps({"when": "2026-01-01T00:00:01Z", "what": "hi"}) + "\n"
    )
    with load([path], mapping=["ts=when", "message=what"]) as store:
        assert [(T0 + 10**9, "hi")] == store.query("SELECT ts_ns, message FROM logs")


def test_otlp_file_exporter_lines_give_logs_spans_and_metrics(tmp_path: Path) -> None:
    res = {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "co"}}]}}
    lines = [
        {
            "resourceLogs": [
                {
                    **res,
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {
                                    "timeUnixNano": str(T0),
                                    "severityNumber": 17,
                                    "body": {"stringValue": "failed"},
                                    "traceId": "AB",
                                    "spanId": "CD",
                                }
                            ]
                        }
                    ],
                }
            ]
        },
        {
            "resourceSpans": [
                {
                    **res,
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "ab",
                                    "spanId": "cd",
                                    "name": "POST /pay",
                                    "kind": 2,
                                    "startTimeUnixNano": str(T0),
                                    "endTimeUnixNano": str(T0 + 5),
                                    "status": {"code": 2},
                                }
                            ]
                        }
                    ],
                }
            ]
        },
        {
            "resourceMetrics": [
                {
                    **res,
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "queue.depth",
                                    "gauge": {
                                        "dataPoints": [{"timeUnixNano": str(T0), "asInt": "7"}]
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        },
    ]
    path = _file(tmp_path, "otel.json", "".join(json.dumps(x) + "\n" for x in lines))
    with load([path]) as store:
        assert Format.OTLP_JSON == store.summary.sources[0].format
        assert [("co", 17, "failed", "ab", "cd")] == store.query(
            "SELECT service, severity, message, trace_id, span_id FROM logs"
        )
        assert [("ab", "cd", "co", SpanKind.SERVER, SpanStatus.ERROR, 5)] == store.query(
            "SELECT trace_id, span_id, service, kind, status, end_ns - start_ns FROM spans"
        )
        assert [(T0, "co", "queue_depth", 7.0)] == store.query(
            "SELECT ts_ns, service, metric, value FROM samples"
        )


def test_jaeger_and_zipkin_spans(tmp_path: Path) -> None:
    jaeger = {
        "data": [
            {
                "traceID": "t1",
                "processes": {"p": {"serviceName": "web"}},
                "spans": [
                    {
                        "traceID": "t1",
                        "spanID": "a",
                        "operationName": "GET",
                        "startTime": T0 // 1000,
                        "duration": 10,
                        "processID": "p",
                        "references": [],
                        "tags": [
                            {"key": "span.kind", "value": "server"},
                            {"key": "error", "value": True},
                        ],
                    },
                    {
                        "traceID": "t1",
                        "spanID": "b",
                        "operationName": "db",
                        "startTime": T0 // 1000 + 1,
                        "duration": 5,
                        "processID": "p",
                        "tags": [],
                        "references": [{"refType": "CHILD_OF", "spanID": "a"}],
                    },
                ],
            }
        ]
    }
    zipkin = [
        {
            "traceId": "t2",
            "id": "z",
            "name": "get",
            "timestamp": T0 // 1000,
            "duration": 3,
            "kind": "CLIENT",
            "localEndpoint": {"serviceName": "front"},
            "remoteEndpoint": {"serviceName": "back"},
        }
    ]
    _file(tmp_path, "jaeger.json", json.dumps(jaeger))
    _file(tmp_path, "zipkin.json", json.dumps(zipkin))
    with load([tmp_path]) as store:
        assert [
            ("t1", "a", None, "web", SpanKind.SERVER, SpanStatus.ERROR, 10_000, None),
            ("t1", "b", "a", "web", SpanKind.UNSPECIFIED, SpanStatus.UNSET, 5_000, None),
            ("t2", "z", None, "front", SpanKind.CLIENT, SpanStatus.UNSET, 3_000, "back"),
        ] == store.query(
            "SELECT trace_id, span_id, parent_span_id, service, kind, status, end_ns - start_ns, "
            "peer_service FROM spans ORDER BY 1, 2"
        )


def test_kubernetes_events_become_logs_and_changes(tmp_path: Path) -> None:
    events = {
        "kind": "List",
        "items": [
            {
                "involvedObject": {"kind": "Pod", "name": "pay-7d9f8b6c5d-x2x4z"},
                "reason": "OOMKilling",
                "message": "out of memory",
                "type": "Warning",
                "lastTimestamp": "2026-01-01T00:00:01Z",
            }
        ],
    }
    path = _file(tmp_path, "events.json", json.dumps(events))
    with load([path]) as store:
        assert [(T0 + 10**9, "pay", ChangeKind.OOM_KILL.value)] == store.query(
            "SELECT ts_ns, service, kind FROM changes"
        )
        assert [("pay", Severity.WARN)] == store.query("SELECT service, severity FROM logs")


def test_prometheus_text_and_query_range(tmp_path: Path) -> None:
    _file(tmp_path, "m.prom", '# TYPE up gauge\nup{job="api"} 1 1767225600000\nbad line here\n')
    qr = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"__name__": "rps", "service": "pay"}, "values": [[T0 // 10**9, "3.5"]]}
            ],
        },
    }
    _file(tmp_path, "q.json", json.dumps(qr))
    with load([tmp_path]) as store:
        assert [(T0, "pay", "rps", 3.5), (T0, "api", "up", 1.0)] == store.query(
            "SELECT ts_ns, service, metric, value FROM samples ORDER BY metric"
        )
        assert 1 == store.summary.rejected


def test_wide_and_per_pod_metric_tables(tmp_path: Path) -> None:
    _file(tmp_path, "wide.csv", "time,checkout_cpu_seconds,pay_cpu_seconds\n1767225600,0.5,NaN\n")
    _file(
        tmp_path,
        "ts-pay-7d9f8b6c5d-x2x4z_metric.csv",
        "Time,PodName,CpuUsage(m)\n2026-01-01T00:00:00Z,ts-pay-7d9f8b6c5d-x2x4z,12\n",
    )
    with load([tmp_path]) as store:
        assert [
            (T0, "checkout", "cpu_seconds", 0.5),
            (T0, "ts-pay", "cpu_usage_millicores", 12.0),
        ] == store.query("SELECT ts_ns, service, metric, value FROM samples ORDER BY service")


def test_gzip_zstd_and_directories_are_read_recursively(tmp_path: Path) -> None:
    line = json.dumps({"ts": "2026-01-01T00:00:00Z", "msg": "x"}) + "\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.jsonl.gz").write_bytes(gzip.compress(line.encode()))
    (tmp_path / "two.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(line.encode() * 2))
    with load([tmp_path]) as store:
        assert 3 == store.scalar("SELECT count(*) FROM logs")


@pytest.mark.parametrize(
    ("pod", "service"),
    [
        ("ts-contacts-service-866bd68c97-xcqfx", "ts-contacts-service"),
        ("fluentd-x7k2p", "fluentd"),
        ("redis-0", "redis"),
        ("payments", "payments"),
    ],
)
def test_kubernetes_hash_suffixes_are_stripped(pod: str, service: str) -> None:
    assert service == service_from_pod(pod)


def test_service_from_file_name_skips_generic_names() -> None:
    assert ["ts-auth-service", None, "payment", None, "orders", "orders"] == [
        service_from_file(n)
        for n in (
            "ts-auth-service-7f8d7d756d-k7b9j_metric.csv",
            "app.log",
            "payment.log.1.gz",
            "08_43_log.csv",
            "orders.prom",
            "orders-5d8f7c9b6-q2x7k.prom.gz",
        )
    ]


def test_timestamp_forms_to_utc_ns() -> None:
    assert [T0 + 10**9 + 123_456_789] * 3 + [T0 - 8 * 3600 * 10**9, T0 + 1_000_000] == [
        parse_timestamp("2026-01-01T00:00:01.123456789Z"),
        parse_timestamp("2026-01-01 00:00:01.123456789 +0000 UTC m=+0.1"),
        parse_timestamp("2026/01/01 00:00:01.123456789"),
        parse_timestamp("2026-01-01T00:00:00+08:00"),
        parse_timestamp(T0 // 10**6 + 1),
    ]


def test_metric_names_become_prometheus_style() -> None:
    assert ["cpu_usage_rate_percent", "latency_p90_seconds"] == [
        metric_name("CpuUsageRate(%)"),
        metric_name("LatencyP90(s)"),
    ]


def test_postgresql_stderr_lines_give_their_level_and_message(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "postgres.log",
        "2026-01-01 10:00:00.123 UTC [4711] LOG:  database system is ready to accept connections\n"
        "2026-01-01 10:00:01.456 UTC [4712] app@orders ERROR:  deadlock detected\n"
        "2026-01-01 10:00:01.456 UTC [4712] app@orders DETAIL:  Process 4712 waits for "
        "ShareLock on transaction 1234; blocked by process 4713.\n"
        "2026-01-01 10:00:03.000 UTC [4714] FATAL:  password authentication failed\n"
        "2026-01-01 10:00:05.000 UTC [4715] DEBUG2:  autovacuum: processing database\n",
    )
    second = 1_767_261_600 * 10**9
    assert [
        (second + 123_000_000, 9, "database system is ready to accept connections", None),
        (
            second + 1_456_000_000,
            17,
            "deadlock detected",
            '{"db.postgresql.detail":"Process 4712 waits for ShareLock on transaction 1234; '
            'blocked by process 4713."}',
        ),
        (second + 3 * 10**9, 21, "password authentication failed", None),
        (second + 5 * 10**9, 5, "autovacuum: processing database", None),
    ] == _logs(path, "ts_ns, severity, message, attrs")


def test_postgresql_error_fields_become_attributes_of_their_error() -> None:
    # written by PostgreSQL 15 (Debian, log_line_prefix '%m [%p] %q%u@%d '): a duplicate key,
    # a multi-line statement, a PL/pgSQL error, one with log_error_verbosity = verbose, a
    # RAISE with a detail of two lines, and a deadlock between two sessions
    path = Path(__file__).parent / "data" / "postgresql-15.log"
    with load([path]) as store:
        rows = store.query("SELECT source_line, severity, message, attrs FROM logs ORDER BY 1")
        assert (0, "postgres") == (store.summary.rejected, store.summary.sources[0].layout)
    transactions = (
        "SET log_lock_waits=on; BEGIN; UPDATE fw_acc SET bal=bal-1 WHERE id={}; "
        "SELECT pg_sleep(0.5); UPDATE fw_acc SET bal=bal+1 WHERE id={}; COMMIT;"
    )
    first, second = transactions.format(1, 2), transactions.format(2, 1)
    tuple_context = 'while updating tuple (0,2) in relation "fw_acc"'
    assert [
        (
            1,
            Severity.ERROR,
            'duplicate key value violates unique constraint "fw_orders_pkey"',
            {
                "db.postgresql.detail": "Key (id)=(42) already exists.",
                "db.query.text": "INSERT INTO fw_orders VALUES (42, 2);",
            },
        ),
        (
            4,
            Severity.ERROR,
            'column "nosuchcol" does not exist at character 34',
            {"db.query.text": "SELECT *\n  FROM fw_orders\n WHERE nosuchcol = 1;"},
        ),
        (
            8,
            Severity.ERROR,
            'syntax error at or near "SELEC" at character 1',
            {"db.query.text": "SELEC 1;"},
        ),
        (
            10,
            Severity.ERROR,
            "division by zero",
            {
                "db.postgresql.context": 'SQL expression "n / (SELECT count(*) FROM fw_orders '
                'WHERE id < 0)"\nPL/pgSQL function fw_fail(integer) line 3 at RETURN',
                "db.query.text": "SELECT fw_fail(3);",
            },
        ),
        (
            14,
            Severity.ERROR,
            '23514: new row for relation "fw_orders" violates check constraint '
            '"fw_orders_qty_check"',
            {
                "db.postgresql.detail": "Failing row contains (7, -1).",
                "code.function.name": "ExecConstraints",
                "code.file.path": "execMain.c",
                "code.line.number": 2090,
                "db.query.text": "INSERT INTO fw_orders VALUES (7, -1);",
            },
        ),
        (
            18,
            Severity.WARN,
            "queue depth 900 over limit",
            {
                "db.postgresql.detail": "first line\nsecond line",
                "db.postgresql.hint": "add workers",
                "db.postgresql.context": "PL/pgSQL function inline_code_block line 1 at RAISE",
            },
        ),
        (
            23,
            Severity.INFO,
            "process 9340 detected deadlock while waiting for ShareLock on transaction 733 "
            "after 1000.149 ms",
            {
                "db.postgresql.detail": "Process holding the lock: 9341. Wait queue: .",
                "db.postgresql.context": tuple_context,
                "db.query.text": first,
            },
        ),
        (
            27,
            Severity.ERROR,
            "deadlock detected",
            {
                "db.postgresql.detail": "Process 9340 waits for ShareLock on transaction 733; "
                "blocked by process 9341.\nProcess 9341 waits for ShareLock on transaction 732; "
                f"blocked by process 9340.\nProcess 9340: {first}\nProcess 9341: {second}",
                "db.postgresql.hint": "See server log for query details.",
                "db.postgresql.context": tuple_context,
                "db.query.text": first,
            },
        ),
    ] == [(n, sev, msg, json.loads(attrs)) for n, sev, msg, attrs in rows]


def test_postgresql_fields_join_the_last_record_of_their_own_process(tmp_path: Path) -> None:
    t = "2026-01-01 10:00:01.456 UTC"
    path = _file(
        tmp_path,
        "postgres.log",
        f"{t} [7] HINT:  no record of process 7 above: a record of its own\n"
        f"{t} [8] ERROR:  canceling statement due to lock timeout\n"
        f"{t} [9] LOG:  checkpoint starting: time\n"
        f"{t} [8] STATEMENT:  LOCK TABLE orders\n"
        "2026-01-01 10:00:0x.000 UTC [8] ERROR:  a cut line\n"
        f"{t} [8] CONTEXT:  after the cut line, still process 8's error\n"
        "2026-01-01 10:00:02.000 UTC [9] DETAIL:  another time than process 9's record\n",
    )
    with load([path]) as store:
        rows = store.query("SELECT source_line, message, attrs FROM logs ORDER BY 1")
        rejects = [(r.source_line, r.text[:24]) for r in store.summary.rejects]
    assert [
        (1, "HINT:  no record of process 7 above: a record of its own", None),
        (
            2,
            "canceling statement due to lock timeout",
            '{"db.postgresql.context":"after the cut line, still process 8\'s error",'
            '"db.query.text":"LOCK TABLE orders"}',
        ),
        (3, "checkpoint starting: time", None),
        (7, "DETAIL:  another time than process 9's record", None),
    ] == rows
    assert [(5, "2026-01-01 10:00:0x.000 ")] == rejects

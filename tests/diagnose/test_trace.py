from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from faultwise.diagnose.trace import follow
from faultwise.telemetry import (
    ClockIssue,
    LogRecord,
    Severity,
    Span,
    SpanStatus,
    Store,
    Table,
    load,
)

MS = 1_000_000


def _store(spans: list[Span], logs: list[LogRecord] = ()) -> Store:  # type: ignore[assignment]
    store = Store()
    store.insert(Table.SPANS, spans)
    store.insert(Table.LOGS, logs)
    return store


def test_span_tree_has_self_time_and_critical_path_through_the_slow_child() -> None:
    spans = [
        Span("t", "root", 0, 100 * MS, "GET /order", service="gateway"),
        Span("t", "a", 10 * MS, 30 * MS, "auth", parent_span_id="root", service="auth"),
        Span("t", "b", 30 * MS, 95 * MS, "charge", parent_span_id="root", service="pay"),
        Span("t", "c", 40 * MS, 90 * MS, "SELECT", parent_span_id="b", service="pay"),
    ]
    with _store(spans) as store:
        result = follow(store, "t")
    assert ["root", "a", "b", "c"] == [s.span_id for s in result.spans]
    assert [15 * MS, 20 * MS, 15 * MS, 50 * MS] == [s.self_ns for s in result.spans]
    assert [0, 1, 1, 2] == [s.depth for s in result.spans]
    assert ["root", "a", "b", "c"] == [s.span_id for s in result.critical_path]
    assert ("gateway", "auth", "pay") == result.services


def test_request_stopped_at_its_last_log_line() -> None:
    logs = [
        LogRecord(1 * MS, "checkout started", service="api", trace_id="t"),
        LogRecord(5 * MS, "card declined", service="pay", trace_id="t", severity=Severity.ERROR),
        LogRecord(3 * MS, "other request", service="api", trace_id="u"),
    ]
    with _store([], logs) as store:
        result = follow(store, "t")
    assert ["checkout started", "card declined"] == [g.message for g in result.logs]
    assert result.stopped_at is not None
    assert ("pay", 5 * MS, "card declined") == (
        result.stopped_at.service,
        result.stopped_at.ts_ns,
        result.stopped_at.message,
    )


def test_spans_only_stop_at_the_failed_span() -> None:
    spans = [
        Span("t", "root", 0, 100 * MS, "GET", service="gateway"),
        Span(
            "t",
            "x",
            10 * MS,
            20 * MS,
            "call",
            parent_span_id="root",
            service="inventory",
            status=SpanStatus.ERROR,
        ),
    ]
    with _store(spans) as store:
        result = follow(store, "t")
    assert result.stopped_at is not None
    assert "inventory" == result.stopped_at.service


def test_request_id_and_message_text_and_unique_prefix_find_the_request() -> None:
    logs = [
        LogRecord(1, "a", request_id="req-42"),
        LogRecord(2, "payment for order 9f8e7d6c5b4a failed"),
        LogRecord(3, "b", trace_id="abcdef0123456789"),
    ]
    with _store([], logs) as store:
        assert "request_id" == follow(store, "req-42").matched_by
        assert "message text" == follow(store, "9f8e7d6c5b4a").matched_by
        assert "abcdef0123456789" == follow(store, "abcdef01").trace_id


def test_unknown_id_is_a_one_line_input_error() -> None:
    from faultwise._errors import InputError

    with _store([]) as store, pytest.raises(InputError, match="no log line or span"):
        follow(store, "nope")


def _raw_trace(root: Path, files: list[str], trace_id: str) -> tuple[set[str], int]:
    span_ids: set[str] = set()
    log_lines = 0
    for name in files:
        path = root / name
        if "/trace/" in name:
            with path.open(newline="") as f:
                span_ids |= {r["SpanID"] for r in csv.DictReader(f) if r["TraceID"] == trace_id}
        elif "/log/" in name:
            with path.open(newline="") as f:
                log_lines += sum(1 for r in csv.DictReader(f) if r["TraceID"] == trace_id)
    return span_ids, log_lines


@pytest.mark.data
@pytest.mark.slow
def test_train_ticket_cases_find_the_utc8_java_clock_and_rebuild_a_known_trace(
    shared_data: Path,
) -> None:
    root = shared_data / "nezha-trainticket"
    cases = json.loads((root / "CASES.json").read_text())
    assert 3 == len(cases)
    for case in cases:
        files = case["minute_files"]
        with load([root / f for f in files]) as store:
            summary = store.summary
            logs_files = [f for f in files if "/log/" in f]
            zones = {
                c.source.split(" (")[0]: round(c.offset_ns / 3.6e12)
                for c in summary.clock
                if c.issue is ClockIssue.TIMEZONE
            }
            assert {str(root / f): 8 for f in logs_files} == zones
            assert 0 == summary.rejected
            trace_id = (root / files[-1]).read_text().split()[0]
            result = follow(store, trace_id)
        span_ids, log_lines = _raw_trace(root, files, trace_id)
        assert span_ids == {s.span_id for s in result.spans}
        assert log_lines == len(result.logs)
        assert result.stopped_at is not None
        assert result.services[0] == "ts-gateway-service" or not result.spans

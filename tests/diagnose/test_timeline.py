from __future__ import annotations

import pytest

from faultwise._errors import InputError
from faultwise.diagnose.timeline import (
    MarkerKind,
    TimelineQuery,
    build_timeline,
    parse_duration,
    parse_time,
)
from faultwise.telemetry import Change, ChangeKind, LogRecord, Severity, Store, Table
from faultwise.telemetry._templates import assign_templates

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def _store(logs: list[LogRecord], changes: list[Change] | None = None) -> Store:
    store = Store()
    store.insert(Table.LOGS, logs)
    store.insert(Table.CHANGES, changes or [])
    assign_templates(store)
    return store


def _log(sec: float, service: str, message: str, sev: Severity = Severity.INFO) -> LogRecord:
    return LogRecord(
        T0 + int(sec * S),
        message,
        service,
        severity=sev,
        source_file="a.log",
        source_line=int(sec * 10),
    )


def test_repeats_of_one_service_and_template_collapse_with_a_count() -> None:
    logs = [_log(i, "api", f"retry {i} of request") for i in range(1, 4)]
    logs.append(_log(5, "db", "checkpoint done"))
    with _store(logs) as store:
        timeline = build_timeline(store)
    assert [("api", 3, T0 + 3 * S), ("db", 1, None)] == [
        (e.service, e.count, e.last_ns) for e in timeline.events
    ]
    assert 4 == timeline.matched


def test_no_collapse_keeps_every_line() -> None:
    logs = [_log(i, "api", f"retry {i}") for i in range(1, 4)]
    with _store(logs) as store:
        assert 3 == len(build_timeline(store, TimelineQuery(collapse=False)).events)


def test_markers_show_first_error_per_service_new_templates_and_changes() -> None:
    logs = [_log(i, "api", f"served request {i}") for i in range(0, 600, 10)]
    logs += [
        _log(400, "db", "pool exhausted: 50 of 50 in use", Severity.ERROR),
        _log(401, "api", "upstream db failed after 3 retries", Severity.ERROR),
        _log(402, "api", "upstream db failed after 4 retries", Severity.ERROR),
    ]
    changes = [Change(T0 + 390 * S, ChangeKind.DEPLOY, "db v2.3.1", "db")]
    with _store(logs, changes) as store:
        markers = build_timeline(store).markers
    assert [
        (T0 + 390 * S, MarkerKind.CHANGE, "db"),
        (T0 + 400 * S, MarkerKind.FIRST_ERROR, "db"),
        (T0 + 400 * S, MarkerKind.NEW_TEMPLATE, "db"),
        (T0 + 401 * S, MarkerKind.FIRST_ERROR, "api"),
        (T0 + 401 * S, MarkerKind.NEW_TEMPLATE, "api"),
    ] == [(m.ts_ns, m.kind, m.service) for m in markers]
    assert "new: upstream db failed after <*> retries" == markers[-1].text


def test_filters_by_service_time_level_and_pattern() -> None:
    logs = [
        _log(1, "api", "GET /a"),
        _log(2, "db", "slow query", Severity.WARN),
        _log(3, "api", "POST /b failed", Severity.ERROR),
        _log(9, "api", "GET /c"),
    ]
    with _store(logs) as store:

        def messages(q: TimelineQuery) -> list[str]:
            return [e.message for e in build_timeline(store, q).events]

        assert ["GET /a", "POST /b failed", "GET /c"] == messages(TimelineQuery(services=("api",)))
        assert ["slow query", "POST /b failed"] == messages(
            TimelineQuery(since_ns=T0 + 2 * S, until_ns=T0 + 3 * S)
        )
        assert ["slow query", "POST /b failed"] == messages(
            TimelineQuery(min_severity=Severity.WARN)
        )
        assert ["POST /b failed"] == messages(TimelineQuery(grep="post .*FAILED"))
        assert ["GET /a"] == messages(TimelineQuery(limit=1, services=("api",)))


def test_durations_and_times_parse() -> None:
    assert [300 * S, S // 2, 2 * 3600 * S, 90 * S] == [
        parse_duration(x) for x in ("5m", "500ms", "2h", "90")
    ]
    with _store([_log(0, "api", "x")]) as store:
        assert T0 + (8 * 3600 + 43 * 60) * S == parse_time("08:43", store)
        assert T0 + S == parse_time("2026-01-01T00:00:01Z", store)
        with pytest.raises(InputError):
            parse_time("soon", store)
    with pytest.raises(InputError):
        parse_duration("five minutes")

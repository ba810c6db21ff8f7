from __future__ import annotations

import json
from pathlib import Path

from faultwise.telemetry import ClockIssue, load

S = 1_000_000_000
T0 = 1_767_225_600 * S


def _write(tmp_path: Path, shift_ns: int, name: str) -> None:
    spans = ["TraceID,SpanID,ParentID,ServiceName,OperationName,StartTimeUnixNano,EndTimeUnixNano"]
    logs = []
    for i in range(40):
        start = T0 + i * 10 * S
        spans.append(f"t{i},s{i},root,api,GET,{start},{start + S}")
        logs.append(
            {
                "time": (start + S // 2 + shift_ns) / 1e9,
                "msg": f"handled {i}",
                "trace_id": f"t{i}",
                "span_id": f"s{i}",
            }
        )
    (tmp_path / "spans.csv").write_text("\n".join(spans) + "\n")
    (tmp_path / name).write_text("".join(json.dumps(x) + "\n" for x in logs))


def test_logs_that_fall_hours_outside_their_spans_are_a_timezone_finding(tmp_path: Path) -> None:
    _write(tmp_path, 8 * 3600 * S, "api.jsonl")
    with load([tmp_path]) as store:
        clock = store.summary.clock
    assert [(str(tmp_path / "api.jsonl"), ClockIssue.TIMEZONE)] == [
        (c.source, c.issue) for c in clock
    ]
    assert abs(clock[0].offset_ns - 8 * 3600 * S) < S


def test_logs_a_few_seconds_off_their_spans_are_a_skew_finding(tmp_path: Path) -> None:
    _write(tmp_path, -5 * S, "api.jsonl")
    with load([tmp_path]) as store:
        clock = store.summary.clock
    assert [ClockIssue.SKEW] == [c.issue for c in clock]
    assert abs(clock[0].offset_ns + 4_500_000_000) < S // 10


def test_logs_inside_their_spans_give_no_finding(tmp_path: Path) -> None:
    _write(tmp_path, 0, "api.jsonl")
    with load([tmp_path]) as store:
        assert () == store.summary.clock

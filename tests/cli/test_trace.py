from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import main

SPANS = (
    "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
    "t1,a,root,gateway-6f6cfc45b-h5m2n,GET /pay,1767225600000000000,1767225600100000000,100000\n"
    "t1,b,a,payments-7f8d7d756d-k7b9j,charge,1767225600010000000,1767225600090000000,80000\n"
)
LOGS = [
    {
        "ts": "2026-01-01T00:00:00.020Z",
        "service": "payments",
        "level": "error",
        "msg": "card declined",
        "trace_id": "t1",
    },
    {
        "ts": "2026-01-01T00:00:00.030Z",
        "service": "payments",
        "level": "info",
        "msg": "other",
        "trace_id": "t2",
    },
]


@pytest.fixture
def incident(tmp_path: Path) -> Path:
    (tmp_path / "spans.csv").write_text(SPANS)
    (tmp_path / "app.jsonl").write_text("".join(json.dumps(x) + "\n" for x in LOGS))
    return tmp_path


def test_json_has_spans_logs_services_stop_and_critical_path(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 0 == main(["trace", "t1", str(incident), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert "t1" == document["trace_id"]
    assert [("a", None, "gateway", 100.0, 20.0), ("b", "a", "payments", 80.0, 80.0)] == [
        (s["span_id"], s["parent_span_id"], s["service"], s["duration_ms"], s["self_ms"])
        for s in document["spans"]
    ]
    assert ["card declined"] == [g["message"] for g in document["logs"]]
    assert ["gateway", "payments"] == document["services"]
    assert {
        "service": "payments",
        "ts": "2026-01-01T00:00:00.020000000Z",
        "message": "card declined",
    } == document["stopped_at"]
    assert ["a", "b"] == [s["span_id"] for s in document["critical_path"]]


def test_terminal_view_shows_the_tree_and_where_it_stopped(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 0 == main(["trace", "t1", str(incident)])
    out = capsys.readouterr().out
    assert "GET /pay" in out
    assert "charge" in out
    assert "stopped at" in out


def test_unknown_id_is_exit_2_with_one_line(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 2 == main(["trace", "nope-nope", str(incident)])
    err = capsys.readouterr().err
    assert 1 == len(err.strip().splitlines())
    assert "no log line or span" in err


def test_a_store_kept_by_trace_gets_its_templates_when_the_timeline_needs_them(
    incident: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kept.duckdb"
    assert 0 == main(["trace", "t1", str(incident), "--db", str(db), "--json"])
    capsys.readouterr()
    assert 0 == main(["timeline", "--db", str(db), "--json"])
    events = json.loads(capsys.readouterr().out)["events"]
    assert all(isinstance(e["template_id"], int) for e in events)
    assert 2 == len(events)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import main

LINES = [
    {"ts": "2026-01-01T00:00:01Z", "level": "info", "service": "api", "msg": "GET /orders 200"},
    {"ts": "2026-01-01T00:00:02Z", "level": "info", "service": "api", "msg": "GET /orders 200"},
    {"ts": "2026-01-01T00:05:00Z", "level": "error", "service": "db", "msg": "pool exhausted"},
    {"ts": "2026-01-01T00:05:01Z", "level": "warn", "service": "api", "msg": "retrying order 7"},
]


@pytest.fixture
def incident(tmp_path: Path) -> Path:
    path = tmp_path / "incident.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in LINES) + "not json\n")
    return path


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert 0 == main(list(args))
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_json_has_events_with_rfc3339_times_sources_markers_and_rejects(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _json(capsys, "timeline", str(incident), "--json")
    events = document["events"]
    assert isinstance(events, list)
    assert [
        ("2026-01-01T00:00:01.000000000Z", "api", "info", "GET /orders 200", 2),
        ("2026-01-01T00:05:00.000000000Z", "db", "error", "pool exhausted", 1),
        ("2026-01-01T00:05:01.000000000Z", "api", "warn", "retrying order 7", 1),
    ] == [(e["ts"], e["service"], e["severity"], e["message"], e["count"]) for e in events]
    assert [f"{incident}:1", f"{incident}:3", f"{incident}:4"] == [e["source"] for e in events]
    assert 1 == document["rejected"]
    markers = document["markers"]
    assert isinstance(markers, list)
    assert ("first_error", "db") in [(m["kind"], m["service"]) for m in markers]


def test_around_window_and_level_filter_the_events(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _json(
        capsys, "timeline", str(incident), "--json", "--around", "00:05:00", "--window", "10s"
    )
    assert ["db", "api"] == [e["service"] for e in document["events"]]  # type: ignore[attr-defined]
    document = _json(capsys, "timeline", str(incident), "--json", "--level", "error")
    assert ["pool exhausted"] == [e["message"] for e in document["events"]]  # type: ignore[attr-defined]


def test_terminal_view_shows_services_levels_markers_and_the_reject_count(
    incident: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 0 == main(["timeline", str(incident), "--show-rejects"])
    out = capsys.readouterr().out
    assert "first error" in out
    assert "×2" in out
    assert "incident.jsonl:5: not a JSON object" in out.replace("\n", "")
    assert "1 line(s) rejected" in out


def test_db_file_keeps_the_ingest_for_a_second_command(
    incident: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kept.duckdb"
    first = _json(capsys, "timeline", str(incident), "--db", str(db), "--json")
    again = _json(capsys, "timeline", "--db", str(db), "--json")
    assert first["events"] == again["events"]
    assert 1 == again["rejected"]


def test_a_db_given_the_same_files_again_does_not_read_them_twice(
    incident: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kept.duckdb"
    first = _json(capsys, "timeline", str(incident), "--db", str(db), "--json")
    again = _json(capsys, "timeline", str(incident), "--db", str(db), "--json")
    assert first["events"] == again["events"]
    assert [] == first["inputs"]["reused"]  # type: ignore[index]
    assert [str(incident)] == again["inputs"]["reused"]  # type: ignore[index]
    assert 0 == main(["timeline", str(incident), "--db", str(db)])
    out = capsys.readouterr().out.replace("\n", " ")
    assert "1 file(s) already in the store, not read again" in out


def test_stdin_is_read_with_a_dash(
    incident: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(incident.read_bytes())))
    document = _json(capsys, "timeline", "-", "--json")
    assert 3 == len(document["events"])  # type: ignore[arg-type]
    assert "<stdin>:1" == document["events"][0]["source"]  # type: ignore[index]


def test_a_db_refuses_in_one_line_a_changed_file_it_cannot_read_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = tmp_path / "metrics.prom"
    metrics.write_text("# TYPE up gauge\nup 1 1767225600000\n")
    db = tmp_path / "kept.duckdb"
    assert 0 == main(["timeline", str(metrics), "--db", str(db), "--json"])
    capsys.readouterr()
    with metrics.open("a") as f:
        f.write("up 0 1767225615000\n")
    assert 2 == main(["timeline", str(metrics), "--db", str(db)])
    err = capsys.readouterr().err.strip().splitlines()
    assert 1 == len(err)
    assert "changed since it was read into this --db" in err[0]
    assert str(metrics) in err[0]

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.cli import main


def test_json_lists_templates_with_counts_and_assigns_every_line_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        "Failed password for root from 10.0.0.1 port 22 ssh2",
        "Accepted password for bob from 10.0.0.2 port 22 ssh2",
        "Failed password for root from 10.0.0.9 port 2222 ssh2",
        "session closed for user bob",
    ]
    (tmp_path / "auth.log").write_text("\n".join(lines) + "\n")
    (tmp_path / "more.log").write_text("session closed for user root\n")
    assert 0 == main(
        ["templates", str(tmp_path / "auth.log"), str(tmp_path / "more.log"), "--json"]
    )
    document = json.loads(capsys.readouterr().out)
    by_id = {t["id"]: (t["template"], t["count"]) for t in document["templates"]}
    assert [
        ("Failed password for root from <*> port <*> ssh2", 2),
        ("Accepted password for bob from <*> port <*> ssh2", 1),
        ("Failed password for root from <*> port <*> ssh2", 2),
        ("session closed for user <*>", 2),
        ("session closed for user <*>", 2),
    ] == [by_id[i] for i in document["assignments"]]


def test_terminal_table_shows_the_most_frequent_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.log").write_text("job 1 done\njob 2 done\njob 3 done\nstarting\n")
    assert 0 == main(["templates", str(tmp_path / "x.log"), "--top", "1"])
    out = capsys.readouterr().out
    assert "job <*> done" in out
    assert "starting" not in out
    assert "2 template(s) over 4 line(s) (top 1 shown)" in out

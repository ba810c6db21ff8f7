"""Bad input becomes a counted, located error; files are found and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.lint import ErrorKind, lint_paths, lint_source


def test_syntax_error_is_reported_with_its_line() -> None:
    result = lint_source("x = 1\ndef f(:\n", "bad.py")
    assert [("bad.py", 2, ErrorKind.SYNTAX)] == [(e.path, e.line, e.kind) for e in result.errors]
    assert "syntax error" in result.errors[0].message


def test_non_utf8_file_is_an_encoding_error_with_its_line() -> None:
    result = lint_source(b"x = 1\ny = '\xff\xfe'\n", "latin.py")
    assert [(2, 6, ErrorKind.ENCODING)] == [(e.line, e.column, e.kind) for e in result.errors]


def test_declared_encoding_is_honoured() -> None:
    source = "# -*- coding: latin-1 -*-\nimport time\nasync def f():\n    s = 'é'; time.sleep(1)\n"
    result = lint_source(source.encode("latin-1"), "latin.py")
    assert ([], [("FW170", 4, 14)]) == (
        result.errors,
        [(f.rule_id, f.line, f.column) for f in result.findings],
    )


def test_null_bytes_and_deep_nesting_are_errors_not_crashes() -> None:
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    kinds = [lint_source(src, "f.py").errors[0].kind for src in ("x = 1\0\n", deep)]
    assert [ErrorKind.SYNTAX, ErrorKind.SYNTAX] == kinds


def test_columns_count_characters_not_bytes() -> None:
    result = lint_source("import requests\nx = 'ü'; requests.get('u')\n")
    assert [(2, 10, 2, 27)] == [
        (f.line, f.column, f.end_line, f.end_column) for f in result.findings
    ]


def test_folders_are_walked_and_errors_counted(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import requests\nrequests.get('u')\n", encoding="utf-8")
    (tmp_path / "pkg" / "b.py").write_text("def (\n", encoding="utf-8")
    (tmp_path / "pkg" / "notes.txt").write_text("requests.get('u')\n", encoding="utf-8")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "c.py").write_text(
        "import requests\nrequests.get('u')\n", encoding="utf-8"
    )
    result = lint_paths([str(tmp_path)])
    assert (2, 3, 1, 1) == (result.files, result.lines, len(result.findings), len(result.errors))


def test_parallel_run_finds_the_same_as_a_serial_one(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"m{i}.py").write_text(
            f"import requests\nrequests.get('{i}')\n", encoding="utf-8"
        )
    assert lint_paths([str(tmp_path)]).findings == lint_paths([str(tmp_path)], jobs=2).findings


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        lint_paths([str(tmp_path / "nope")])


def test_progress_reports_every_file_then_the_total(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"m{i}.py").write_text("x = 1\n", encoding="utf-8")
    seen: list[tuple[int, int]] = []
    lint_paths([str(tmp_path)], progress=lambda done, total: seen.append((done, total)))
    assert [(1, 3), (2, 3), (3, 3)] == seen

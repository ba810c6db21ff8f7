"""Selection, ``noqa`` suppression, per-file ignores and ``[tool.faultwise.lint]``."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.lint import (
    LintConfig,
    find_pyproject,
    lint_paths,
    lint_source,
    load_config,
    select_rules,
)

SOURCE = """\
import requests, time
requests.get("u")  # noqa: FW101
requests.get("u")  # noqa
requests.get("u")  # noqa: E501
requests.get(
    "u",
)  # noqa: FW101
async def f():
    time.sleep(1)  # noqa: FW101
"""


def _ids(
    source: str, config: LintConfig | None = None, path: str = "app.py"
) -> list[tuple[str, int]]:
    return [(f.rule_id, f.line) for f in lint_source(source, path, config).findings]


def test_noqa_suppresses_the_named_rule_or_all_and_counts_them() -> None:
    result = lint_source(SOURCE)
    assert ([("FW101", 4), ("FW170", 9)], 3) == (
        [(f.rule_id, f.line) for f in result.findings],
        result.suppressed,
    )


def test_file_level_noqa_silences_the_whole_file() -> None:
    assert [] == _ids("# faultwise: noqa\n" + SOURCE)
    assert [("FW101", 5)] == _ids("# faultwise: noqa: FW170\n" + SOURCE)


def test_select_prefix_and_ignore_pick_rules() -> None:
    assert {"FW170", "FW171", "FW172", "FW173"} == select_rules(["FW17"])
    assert {"FW171", "FW172", "FW173"} == select_rules(["FW17"], ["FW170"])
    assert [("FW170", 9)] == _ids(SOURCE, LintConfig(select=("FW17",)))


def test_unknown_rule_code_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown rule code 'FW999'"):
        LintConfig(select=("FW999",))


def test_pyproject_table_sets_select_ignore_and_per_file_ignores(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.faultwise.lint]\nignore = ["FW170"]\nexclude = ["vendor"]\n'
        '[tool.faultwise.lint.per-file-ignores]\n"tests/*" = ["FW10"]\n',
        encoding="utf-8",
    )
    for folder in ("src", "tests", "vendor"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(
            "import requests, time\nrequests.get('u')\nasync def f():\n    time.sleep(1)\n",
            encoding="utf-8",
        )
    config = load_config(find_pyproject(tmp_path / "src"))
    result = lint_paths([str(tmp_path)], config)
    found = [(Path(f.path).relative_to(tmp_path).as_posix(), f.rule_id) for f in result.findings]
    assert [("src/m.py", "FW101")] == found


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('select = "FW1"', "select must be a list of strings"),
        ('colour = ["red"]', "unknown key 'colour'"),
        ('ignore = ["XX1"]', "unknown rule code 'XX1'"),
    ],
)
def test_bad_configuration_names_the_file_and_the_problem(
    tmp_path: Path, table: str, message: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.faultwise.lint]\n{table}\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_config(pyproject)
    assert (True, True) == (message in str(exc.value), str(pyproject) in str(exc.value))


def test_no_pyproject_means_every_rule() -> None:
    assert frozenset(select_rules(["FW"])) == load_config(None).rules_for("x.py")

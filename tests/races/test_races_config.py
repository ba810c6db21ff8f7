from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.races import Mode, RacesConfig, load_config


def test_pyproject_table_is_read_from_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.faultwise.races]\n"
        'mode = "lockset"\nignore = ["app.cache[*]"]\nreport-only = true\nhang_timeout = 2\n'
    )
    (tmp_path / "sub").mkdir()
    expected = RacesConfig(
        mode=Mode.LOCKSET, ignore=("app.cache[*]",), report_only=True, hang_timeout=2.0
    )
    assert expected == load_config(tmp_path / "sub")


def test_no_pyproject_means_defaults(tmp_path: Path) -> None:
    assert RacesConfig() == load_config(tmp_path)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"colour": "red"}, "unknown races setting 'colour'"),
        ({"mode": "fast"}, "races mode must be 'hb' or 'lockset'"),
        ({"ignore": [1]}, "must be a list of strings"),
        ({"report_only": "yes"}, "must be true or false"),
        ({"hang_timeout": -1}, "must be a number of seconds"),
    ],
)
def test_bad_settings_are_input_errors_naming_the_file(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message) as info:
        RacesConfig.from_mapping(table, source="pyproject.toml")
    assert "pyproject.toml" == info.value.source


def test_options_extend_lists_and_replace_values() -> None:
    base = RacesConfig(include=("a.*",), hang_timeout=5.0)
    merged = base.merged(include=("b.*",), hang_timeout=None, report_only=True)
    assert (("a.*", "b.*"), 5.0, True) == (merged.include, merged.hang_timeout, merged.report_only)

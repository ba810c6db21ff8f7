from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.drift import DriftConfig, Expected, find_config, load_config


def test_own_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / ".faultwise-drift.toml"
    path.write_text(
        'allow = ["*_HOST"]\nkiller = ["*_ALARM"]\nsecret = ["*_DSN"]\npublic = ["CACHE_KEY"]\n'
        "runtime-keys = false\n\n[[expected]]\nkeys = ['POOL']\nbetween = ['staging', 'prod']\n"
        "reason = 'pgbouncer'\n"
    )
    expected = DriftConfig(
        expected=(Expected(("*_HOST",)), Expected(("POOL",), ("staging", "prod"), "pgbouncer")),
        killer=("*_ALARM",),
        secret=("*_DSN",),
        public=("CACHE_KEY",),
        runtime_keys=False,
    )
    assert expected == load_config(path)


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n[tool.faultwise.drift]\nallow = "*_URL"\n')
    assert (Expected(("*_URL",)),) == load_config(path).expected


def test_discovery_walks_up_and_skips_pyprojects_without_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.faultwise.drift]\nallow = []\n")
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert tmp_path / "pyproject.toml" == find_config(inner)


def test_own_file_wins_over_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.faultwise.drift]\nallow = []\n")
    (tmp_path / ".faultwise-drift.toml").write_text("allow = []\n")
    assert tmp_path / ".faultwise-drift.toml" == find_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alow = []\n", "unknown drift setting(s): alow"),
        ("allow = [1]\n", "'allow' must be a list of strings"),
        ("[[expected]]\nbetween = ['a', 'b']\n", "every 'expected' rule needs 'keys'"),
        ("[[expected]]\nkeys = ['A']\nbetween = ['prod']\n", "'between' names at least two"),
        ("[[expected]]\nkeys = ['A']\nwhy = 'x'\n", "unknown 'expected' field(s): why"),
        ("runtime-keys = 'yes'\n", "'runtime-keys' must be true or false"),
        ("allow = [\n", "invalid TOML"),
    ],
)
def test_bad_config_is_an_input_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / ".faultwise-drift.toml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert message in str(exc.value)


def test_between_globs_need_two_different_entries() -> None:
    rule = Expected(("POOL",), ("dev", "*"))
    assert [True, True, False] == [
        rule.covers("POOL", "dev", "prod"),
        rule.covers("POOL", "prod", "dev"),
        rule.covers("POOL", "staging", "prod"),
    ]

from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.drift import Format, Reject, detect_format, read_environment, read_environments
from faultwise.drift._read import environment_names


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("config.json", "{}", Format.JSON),
        ("app.yml", "a: 1", Format.YAML),
        ("values-prod.yaml", "a: 1", Format.HELM),
        ("values.yaml", "a: 1", Format.HELM),
        ("pyproject.toml", "", Format.TOML),
        ("setup.cfg", "", Format.INI),
        (".env", "A=1", Format.DOTENV),
        (".env.prod", "A=1", Format.DOTENV),
        ("prod.env", "A=1\nB=2", Format.ENV),
        ("prod.env", "# comment\nA=1", Format.DOTENV),
        ("dump", "PATH=/bin\nHOME=/root\n", Format.ENV),
        ("dump.txt", "export A=1\n", Format.DOTENV),
        ("config", '{"a": 1}', Format.JSON),
        ("config", "[1, 2]", Format.JSON),
        ("config", "[server]\nport = 80\n", Format.TOML),
        ("config", "[server]\nport = eighty\n", Format.INI),
        ("config", "apiVersion: v1\nkind: ConfigMap\n", Format.YAML),
        ("config", "server:\n  port: 80\n", Format.YAML),
    ],
)
def test_format_is_detected_from_name_then_content(name: str, text: str, expected: Format) -> None:
    assert expected == detect_format(name, text)


def test_environment_names_come_from_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "prod").mkdir()
    paths = [
        tmp_path / "values-staging.yaml",
        tmp_path / ".env.production",
        tmp_path / "prod",
        tmp_path / "dev.json",
        tmp_path / "config.qa.toml",
    ]
    assert ["staging", "production", "prod", "dev", "qa"] == environment_names(paths)


def test_colliding_names_fall_back_to_parent_directories(tmp_path: Path) -> None:
    paths = [tmp_path / "dev" / "app.yaml", tmp_path / "prod" / "app.yaml"]
    assert ["dev", "prod"] == environment_names(paths)
    assert ["dev", "prod"] == environment_names(
        [tmp_path / "dev" / ".env", tmp_path / "prod" / ".env"]
    )


def test_names_given_override_derived_ones_in_order(fixtures: Path) -> None:
    sources = [fixtures / "json" / "staging.json", fixtures / "json" / "prod.json"]
    envs = read_environments(sources, names=["blue"])
    assert ["blue", "prod"] == [e.name for e in envs]


def test_equal_names_are_a_usage_error(fixtures: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_environments([fixtures / "json" / "prod.json"] * 2)
    assert "environment names must differ" in str(exc.value)


def test_a_directory_is_one_environment_and_unknown_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "app.json").write_text('{"a": {"b": 1}}')
    (tmp_path / ".env").write_text("C=2\n")
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    env = read_environment(tmp_path, name="x")
    assert {"a.b": "1", "C": "2"} == {k: e.text for k, e in env.entries.items()}
    assert (
        Reject(str(tmp_path / "README.md"), "skipped: not a configuration file name"),
    ) == env.rejects


def test_a_helm_chart_directory_reads_its_values_only(tmp_path: Path) -> None:
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: api\nversion: 1.0.0\n")
    (tmp_path / "values.yaml").write_text("replicaCount: 2\n")
    (tmp_path / "values-prod.yaml").write_text("replicaCount: 6\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "deploy.yaml").write_text("replicas: {{ .Values.replicaCount }}\n")
    env = read_environment(tmp_path)
    assert {"replicaCount": "2"} == {k: e.text for k, e in env.entries.items()}
    assert 3 == len(env.rejects)


def test_utf16_and_bom_files_are_text(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_bytes("A=é\n".encode("utf-16"))
    (tmp_path / "b.env").write_bytes(b"\xef\xbb\xbfB=1\r\n")
    assert "é" == read_environment(tmp_path / "a.env").entries["A"].text
    assert "1" == read_environment(tmp_path / "b.env").entries["B"].text


def test_binary_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\nb: \xff\xfe\n")
    with pytest.raises(InputError) as exc:
        read_environment(path)
    assert f"{path}:2: binary file (not UTF-8 text): not a configuration file" == str(exc.value)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_environment(tmp_path / "nope")
    assert f"{tmp_path / 'nope'}: no such file or directory" == str(exc.value)

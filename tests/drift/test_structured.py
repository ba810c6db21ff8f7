from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.drift import ValueType, read_environment
from faultwise.drift._json import parse_json
from faultwise.drift._read import parse_text
from faultwise.drift._tree import Entries


def flat(text: str, name: str) -> dict[str, tuple[str, ValueType]]:
    out = Entries()
    parse_text(text, name, out)
    return {k: (e.text, e.type) for k, e in out.by_key.items()}


def test_json_nested_keys_become_dotted_paths_with_types() -> None:
    text = '{"db": {"pool": {"size": 5}, "ssl": true, "ratio": 0.5, "x": null}}'
    expected = {
        "db.pool.size": ("5", ValueType.INTEGER),
        "db.ssl": ("true", ValueType.BOOLEAN),
        "db.ratio": ("0.5", ValueType.FLOAT),
        "db.x": ("null", ValueType.NULL),
    }
    assert expected == flat(text, "c.json")


def test_lists_of_scalars_stay_one_value_and_named_lists_are_keyed_by_name() -> None:
    text = '{"hosts": ["a", "b"], "up": [{"name": "pricing", "timeout": 1}], "s": [{"h": 1}]}'
    expected = {
        "hosts": ('["a","b"]', ValueType.LIST),
        "up.pricing.timeout": ("1", ValueType.INTEGER),
        "s[0].h": ("1", ValueType.INTEGER),
    }
    assert expected == flat(text, "c.json")


def test_keys_with_dots_are_quoted() -> None:
    assert {'labels["app.kubernetes.io/name"]': ("api", ValueType.STRING)} == flat(
        '{"labels": {"app.kubernetes.io/name": "api"}}', "c.json"
    )


def test_empty_containers_are_values() -> None:
    expected = {"a": ("{}", ValueType.MAP), "b": ("[]", ValueType.LIST)}
    assert expected == flat('{"a": {}, "b": []}', "c.json")


def test_json_values_keep_their_line() -> None:
    out = Entries()
    parse_text('{\n  "a": 1,\n  "b": {\n    "c": "x"\n  }\n}\n', "c.json", out)
    assert ["c.json:2", "c.json:4"] == [e.source for e in out.by_key.values()]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1,\n "a": 2}', "c.json:2: invalid JSON: duplicate key 'a'"),
        ('{"a": 1,\n}', "c.json:2: invalid JSON: expected a quoted key"),
        ("[1, 2]\n[3]", "c.json:2: invalid JSON: extra data after the document"),
        ('{"a": tru}', "c.json:1: invalid JSON: expected a value"),
        ("[" * 300, "c.json:1: invalid JSON: nested more than 200 levels deep"),
    ],
)
def test_bad_json_names_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_json(text, "c.json")
    assert message == str(exc.value)


def test_yaml_reads_every_document_and_resolves_merge_keys(fixtures: Path) -> None:
    env = read_environment(fixtures / "yaml" / "prod.yaml")
    assert "30s" == env.entries["clients.ledger.read_timeout"].text
    assert "2s" == env.entries["clients.ledger.connect_timeout"].text
    assert ("0.1", ValueType.FLOAT) == (
        env.entries["logging.sample_rate"].text,
        env.entries["logging.sample_rate"].type,
    )


def test_yaml_duplicate_key_is_an_error_naming_the_line() -> None:
    with pytest.raises(InputError) as exc:
        flat("a:\n  b: 1\n  b: 2\n", "c.yaml")
    assert "c.yaml:3: duplicate key 'b'" == str(exc.value)


def test_yaml_merged_keys_may_be_overridden_without_error() -> None:
    text = "base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  y: 3\n"
    assert ("3", ValueType.INTEGER) == flat(text, "c.yaml")["item.y"]


def test_yaml_recursive_alias_is_an_error() -> None:
    with pytest.raises(InputError) as exc:
        flat("a: &x [1, *x]\n", "c.yaml")
    assert "c.yaml:1: invalid YAML: an alias refers to itself" == str(exc.value)


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    with pytest.raises(InputError) as exc:
        flat("\n".join(lines) + "\n", "bomb.yaml")
    assert "more than 100000 keys" in str(exc.value)


def test_yaml_unknown_tags_are_kept_as_text() -> None:
    assert ("!Ref DbHost", ValueType.STRING) == flat("host: !Ref DbHost\n", "c.yaml")["host"]


def test_toml_tables_flatten_with_lines(fixtures: Path) -> None:
    env = read_environment(fixtures / "toml" / "prod.toml")
    entry = env.entries["worker.prefetch_multiplier"]
    assert ("1", ValueType.INTEGER) == (entry.text, entry.type)
    assert f"{fixtures / 'toml' / 'prod.toml'}:4" == entry.source
    assert '["default","emails","reports"]' == env.entries["worker.queues"].text


def test_toml_errors_name_the_line() -> None:
    with pytest.raises(InputError) as exc:
        flat("a = 1\na = 2\n", "c.toml")
    assert str(exc.value).startswith("c.toml:2: invalid TOML: ")


def test_ini_sections_continuations_and_lines(fixtures: Path) -> None:
    env = read_environment(fixtures / "ini" / "prod.ini")
    options = env.entries["database.options"]
    assert "20" == env.entries["uwsgi.harakiri"].text
    assert ("-c statement_timeout=60000\n-c lock_timeout=5000", ValueType.TEXT) == (
        options.text,
        options.type,
    )
    assert f"{fixtures / 'ini' / 'prod.ini'}:13" == options.source


def test_ini_duplicate_option_is_an_error() -> None:
    with pytest.raises(InputError) as exc:
        flat("[a]\nx = 1\nx = 2\n", "c.ini")
    assert "c.ini:3: duplicate key 'a.x' (first defined at c.ini:2)" == str(exc.value)


def test_helm_values_named_lists_are_keyed_by_name(fixtures: Path) -> None:
    env = read_environment(fixtures / "helm" / "values-prod.yaml")
    assert "2s" == env.entries["extraEnv.SEARCH_TIMEOUT"].text
    assert "512Mi" == env.entries["resources.limits.memory"].text

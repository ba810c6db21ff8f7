from __future__ import annotations

from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.drift import Format, Reject, read_environment
from faultwise.drift._envfile import parse_dotenv, parse_env_dump
from faultwise.drift._tree import Entries


def dotenv(text: str) -> tuple[dict[str, str], list[Reject]]:
    out = Entries()
    rejects = parse_dotenv(text, "f.env", out)
    return {k: e.text for k, e in out.by_key.items()}, rejects


def dump(text: str) -> tuple[dict[str, str], list[Reject]]:
    out = Entries()
    rejects = parse_env_dump(text, "env.txt", out)
    return {k: e.text for k, e in out.by_key.items()}, rejects


def test_dotenv_handles_export_comments_and_inline_comments() -> None:
    text = "# header\nexport A=1\nB = two  # a comment\nC=x#not-a-comment\n\n"
    assert ({"A": "1", "B": "two", "C": "x#not-a-comment"}, []) == dotenv(text)


def test_dotenv_single_quotes_are_literal_and_double_quotes_unescape() -> None:
    text = 'S=\'a\\nb $X\'\nD="line\\n\\"quoted\\"\\tend"\n'
    assert ({"S": "a\\nb $X", "D": 'line\n"quoted"\tend'}, []) == dotenv(text)


def test_dotenv_quoted_values_span_lines() -> None:
    text = 'KEY="-----BEGIN-----\nabc\n-----END-----"\nNEXT=1\n'
    values, _ = dotenv(text)
    assert {"KEY": "-----BEGIN-----\nabc\n-----END-----", "NEXT": "1"} == values


def test_dotenv_line_numbers_follow_multi_line_values() -> None:
    out = Entries()
    parse_dotenv("A='x\ny\nz'\nB=1\n", "f.env", out)
    assert ["f.env:1", "f.env:4"] == [e.source for e in out.by_key.values()]


def test_dotenv_unterminated_quote_is_an_error_naming_the_line() -> None:
    with pytest.raises(InputError) as exc:
        dotenv('A=1\nB="open\nC=2\n')
    assert 'f.env:2: unterminated "-quoted value' == str(exc.value)


def test_dotenv_bad_lines_are_rejected_with_their_line() -> None:
    values, rejects = dotenv("A=1\njust words\nB='x' trailing\n")
    assert {"A": "1"} == values
    expected = [
        Reject("f.env:2", "not a KEY=VALUE line"),
        Reject("f.env:3", "text after the closing quote"),
    ]
    assert expected == rejects


def test_dotenv_duplicate_key_is_an_error() -> None:
    with pytest.raises(InputError) as exc:
        dotenv("A=1\nA=2\n")
    assert "f.env:2: duplicate key 'A' (first defined at f.env:1)" == str(exc.value)


def test_env_dump_keeps_raw_values_and_joins_continuation_lines() -> None:
    text = 'A="quoted"\nCERT=-----BEGIN-----\nMIIB\n-----END-----\nB=x # y\n'
    expected = {"A": '"quoted"', "CERT": "-----BEGIN-----\nMIIB\n-----END-----", "B": "x # y"}
    assert (expected, []) == dump(text)


def test_env_dump_rejects_leading_noise() -> None:
    values, rejects = dump('Defaulted container "app" out of: app, istio-proxy\nA=1\n')
    assert ({"A": "1"}, [Reject("env.txt:1", "not a KEY=VALUE line")]) == (values, rejects)


def test_env_dump_values_may_contain_equals_signs() -> None:
    assert ({"OPTS": "-Dx=1 -Dy=2"}, []) == dump("OPTS=-Dx=1 -Dy=2\n")


def test_kubectl_env_fixture_reads_every_variable(fixtures: Path) -> None:
    env = read_environment(fixtures / "kubectl-env" / "prod.txt")
    cert = env.entries["TLS_CA_BUNDLE"].text
    assert "prod" == env.name
    assert 24 == len(env.entries)
    assert 3 == len(cert.splitlines())
    assert () == env.rejects


def test_dotenv_fixture_is_read_as_dotenv(fixtures: Path) -> None:
    env = read_environment(fixtures / "dotenv" / ".env.production")
    assert "production" == env.name
    assert 'Hello, "valued" user!\nWelcome back.' == env.entries["GREETING"].text
    assert "20" == env.entries["DB_POOL_SIZE"].text
    assert f"{fixtures / 'dotenv' / '.env.production'}:4" == env.entries["DB_POOL_SIZE"].source


def test_format_override_reads_a_dotenv_as_a_raw_dump(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text("A='1'\n")
    assert "'1'" == read_environment(path, format=Format.ENV).entries["A"].text
    assert "1" == read_environment(path, format=Format.DOTENV).entries["A"].text

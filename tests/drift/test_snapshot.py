from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise._errors import InputError
from faultwise.drift import (
    ConfigEntry,
    Environment,
    ScryptHasher,
    Status,
    ValueType,
    check_snapshot,
    load_snapshot,
    take_snapshot,
)

FAST = ScryptHasher(b"salt-for-tests!!", n=2**4)


def env(name: str, values: dict[str, str]) -> Environment:
    return Environment(
        name, {k: ConfigEntry(k, v, ValueType.TEXT, f"{name}:1") for k, v in values.items()}
    )


def roundtrip(tmp_path: Path, environment: Environment) -> Path:
    snapshot = take_snapshot([environment], created="2026-01-01T00:00:00Z", hasher=FAST)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(snapshot.to_json()))
    return path


def test_snapshot_stores_digests_and_salt_but_no_secret(tmp_path: Path) -> None:
    path = roundtrip(tmp_path, env("prod", {"DB_PASSWORD": "hunter2", "POOL": "5"}))
    data = json.loads(path.read_text())
    password = data["environments"][0]["keys"]["DB_PASSWORD"]
    assert "hunter2" not in path.read_text()
    assert ("<secret>", "whole") == (password["value"], password["secrecy"])
    assert FAST.digest("hunter2") == password["digest"]
    assert ("scrypt:n=16,r=8,p=1", FAST.salt.hex()) == (data["kdf"], data["salt"])


def test_check_finds_nothing_when_nothing_changed(tmp_path: Path) -> None:
    prod = env("prod", {"DB_PASSWORD": "hunter2", "POOL": "5"})
    (report,) = check_snapshot(load_snapshot(roundtrip(tmp_path, prod)), [prod])
    assert () == report.keys


def test_check_reports_changed_missing_and_new_keys(tmp_path: Path) -> None:
    before = env("prod", {"DB_PASSWORD": "hunter2", "POOL": "20", "OLD": "x"})
    after = env("prod", {"DB_PASSWORD": "rotated", "POOL": "5", "NEW": "y"})
    (report,) = check_snapshot(load_snapshot(roundtrip(tmp_path, before)), [after])
    summaries = {k.key: k.summary() for k in report.keys}
    assert {
        "POOL": "POOL 5 vs 20: 4× lower in prod",
        "DB_PASSWORD": "DB_PASSWORD: secret differs (prod@baseline ≠ prod)",
        "NEW": "NEW: missing in prod@baseline",
        "OLD": "OLD: missing in prod",
    } == summaries
    assert {Status.UNEXPECTED} == {k.status for k in report.keys}


def test_unknown_environment_is_an_error(tmp_path: Path) -> None:
    snapshot = load_snapshot(roundtrip(tmp_path, env("prod", {"A": "1"})))
    with pytest.raises(InputError) as exc:
        check_snapshot(snapshot, [env("qa", {"A": "1"})])
    assert "environment 'qa' is not in the snapshot (it has: prod); use --name" == str(exc.value)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"format": "something-else"}',
        '{"format": "faultwise-drift-snapshot/1", "kdf": "md5", "salt": "", "environments": []}',
        '{"format": "faultwise-drift-snapshot/1", "kdf": "scrypt:n=1048576,r=8,p=1", "salt": "00",'
        ' "created": "x", "environments": []}',
        '{"format": "faultwise-drift-snapshot/1", "kdf": "scrypt:n=16,r=8,p=1", "salt": "zz",'
        ' "created": "x", "environments": []}',
        '{"format": "faultwise-drift-snapshot/1", "kdf": "scrypt:n=16,r=8,p=1", "salt": "00",'
        ' "created": "x", "environments": [{"name": "p", "keys": {"A": {"type": "bad"}}}]}',
    ],
)
def test_malformed_snapshot_is_an_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        load_snapshot(path)
    assert str(exc.value).startswith(str(path))


def test_check_can_list_unchanged_keys_too(tmp_path: Path) -> None:
    prod = env("prod", {"A": "1"})
    snapshot = load_snapshot(roundtrip(tmp_path, prod))
    (report,) = check_snapshot(snapshot, [prod], include_same=True)
    assert [("A", Status.SAME)] == [(k.key, k.status) for k in report.keys]

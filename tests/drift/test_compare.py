from __future__ import annotations

from faultwise.drift import (
    ConfigEntry,
    DriftConfig,
    Environment,
    Expected,
    KeyedHasher,
    Killer,
    NumericDelta,
    Status,
    ValueType,
    compare,
)
from faultwise.drift._units import Dimension

HASHER = KeyedHasher(b"0" * 16)


def env(name: str, values: dict[str, object]) -> Environment:
    entries = {}
    for key, value in values.items():
        text, kind = (value, ValueType.TEXT) if isinstance(value, str) else value
        entries[key] = ConfigEntry(key, str(text), kind, f"{name}.env:1")  # type: ignore[arg-type]
    return Environment(name, entries)


def test_numeric_delta_names_the_ratio_and_the_environment() -> None:
    report = compare(
        [env("staging", {"TIMEOUT_MS": "5000"}), env("prod", {"TIMEOUT_MS": "500"})], hasher=HASHER
    )
    (drift,) = report.keys
    assert "TIMEOUT_MS 500 vs 5000: 10× lower in prod" == drift.summary()
    assert (NumericDelta("prod", "staging", 500.0, 5000.0, Dimension.NUMBER),) == drift.deltas


def test_units_are_compared_in_one_dimension() -> None:
    report = compare(
        [
            env("a", {"TIMEOUT": "5s", "MEM_LIMIT": "1Gi"}),
            env("b", {"TIMEOUT": "500ms", "MEM_LIMIT": "512Mi"}),
        ],
        hasher=HASHER,
    )
    notes = {k.key: k.notes() for k in report.keys}
    assert {"TIMEOUT": ["10× lower in b"], "MEM_LIMIT": ["2× lower in b"]} == notes


def test_small_changes_are_percentages_and_zero_has_only_a_direction() -> None:
    report = compare(
        [env("a", {"WORKERS": "4", "RETRIES": "3"}), env("b", {"WORKERS": "5", "RETRIES": "0"})],
        hasher=HASHER,
    )
    notes = {k.key: k.notes() for k in report.keys}
    assert {"WORKERS": ["25% higher in b"], "RETRIES": ["lower in b"]} == notes


def test_the_most_common_value_is_the_reference() -> None:
    envs = [env("dev", {"POOL": "20"}), env("staging", {"POOL": "20"}), env("prod", {"POOL": "5"})]
    (drift,) = compare(envs, hasher=HASHER).keys
    assert (("dev", "staging"), ("prod",)) == drift.groups
    assert ["4× lower in prod"] == drift.notes()


def test_killer_keys_sort_first_then_other_drift_then_expected() -> None:
    config = DriftConfig(expected=(Expected(("DB_HOST",)),))
    a = env("a", {"DB_HOST": "x", "APP_ENV": "a", "DB_POOL_SIZE": "20", "SAME": "1"})
    b = env("b", {"DB_HOST": "y", "APP_ENV": "b", "DB_POOL_SIZE": "5", "SAME": "1"})
    report = compare([a, b], config=config, hasher=HASHER)
    assert ["DB_POOL_SIZE", "APP_ENV", "DB_HOST"] == [k.key for k in report.keys]
    assert [Status.UNEXPECTED, Status.UNEXPECTED, Status.EXPECTED] == [
        k.status for k in report.keys
    ]
    assert Killer.POOL == report.keys[0].killer
    assert 4 == report.total_keys


def test_include_same_lists_every_key() -> None:
    report = compare([env("a", {"A": "1"}), env("b", {"A": "1"})], include_same=True, hasher=HASHER)
    assert [("A", Status.SAME)] == [(k.key, k.status) for k in report.keys]
    assert not report.has_unexpected


def test_missing_keys_are_named() -> None:
    envs = [env("dev", {"A": "1", "B": "1"}), env("staging", {"A": "1"}), env("prod", {})]
    notes = {k.key: k.notes() for k in compare(envs, hasher=HASHER).keys}
    assert {"A": ["missing in prod"], "B": ["only in dev"]} == notes


def test_type_changes_between_typed_sources_are_reported() -> None:
    a = env("a", {"cache.enabled": ("true", ValueType.BOOLEAN)})
    b = env("b", {"cache.enabled": ("true", ValueType.STRING)})
    (drift,) = compare([a, b], hasher=HASHER).keys
    assert ["type: boolean in a, string in b"] == drift.notes()


def test_untyped_text_does_not_count_as_a_type_change() -> None:
    a = env("a", {"PORT": "80"})
    b = env("b", {"PORT": ("80", ValueType.INTEGER)})
    assert () == compare([a, b], hasher=HASHER).keys


def test_flags_that_flip_say_on_or_off() -> None:
    envs = [env("staging", {"FEATURE_X": "on"}), env("prod", {"FEATURE_X": "off"})]
    (drift,) = compare(envs, hasher=HASHER).keys
    assert ["off in prod"] == drift.notes()


def test_expected_rule_between_two_environments_covers_only_that_pair() -> None:
    envs = [env("dev", {"POOL": "20"}), env("staging", {"POOL": "20"}), env("prod", {"POOL": "5"})]
    pair = DriftConfig(expected=(Expected(("POOL",), ("staging", "prod"), "pgbouncer"),))
    prod_vs_any = DriftConfig(expected=(Expected(("POOL",), ("prod", "*"), "pgbouncer"),))
    assert Status.UNEXPECTED == compare(envs, config=pair, hasher=HASHER).keys[0].status
    drift = compare(envs, config=prod_vs_any, hasher=HASHER).keys[0]
    assert (Status.EXPECTED, ("pgbouncer",)) == (drift.status, drift.reasons)


def test_runtime_keys_are_expected_unless_turned_off() -> None:
    envs = [env("a", {"HOSTNAME": "pod-1"}), env("b", {"HOSTNAME": "pod-2"})]
    default = compare(envs, hasher=HASHER).keys[0].status
    off = compare(envs, config=DriftConfig(runtime_keys=False), hasher=HASHER).keys[0].status
    assert (Status.EXPECTED, Status.UNEXPECTED) == (default, off)


def test_custom_killer_patterns_extend_the_built_in_list() -> None:
    envs = [env("a", {"QUEUE_DEPTH_ALARM": "100"}), env("b", {"QUEUE_DEPTH_ALARM": "1000"})]
    config = DriftConfig(killer=("*_ALARM",))
    assert Killer.CUSTOM == compare(envs, config=config, hasher=HASHER).keys[0].killer


def test_secrets_compare_by_digest_and_show_no_value() -> None:
    envs = [
        env("dev", {"DB_PASSWORD": "one"}),
        env("staging", {"DB_PASSWORD": "one"}),
        env("prod", {"DB_PASSWORD": "two"}),
    ]
    (drift,) = compare(envs, hasher=HASHER).keys
    assert ("<secret>", "<secret>", "<secret>") == tuple(v.text for v in drift.values if v)
    assert ["secret differs (dev = staging ≠ prod)"] == drift.notes()


def test_a_password_change_inside_a_url_is_drift_with_the_host_visible() -> None:
    a = env("a", {"DATABASE_URL": "postgres://app:one@db:5432/app"})
    b = env("b", {"DATABASE_URL": "postgres://app:two@db:5432/app"})
    (drift,) = compare([a, b], hasher=HASHER).keys
    assert ["postgres://app:****@db:5432/app"] * 2 == [v.text for v in drift.values if v]
    assert ["password differs (a ≠ b)"] == drift.notes()

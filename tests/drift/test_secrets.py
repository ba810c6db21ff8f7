from __future__ import annotations

import pytest

from faultwise.drift import (
    ConfigEntry,
    KeyedHasher,
    ScryptHasher,
    Secrecy,
    SecretPolicy,
    ValueType,
)
from faultwise.drift._secrets import redact

HASHER = KeyedHasher(b"1" * 16)


def shown(key: str, value: str, policy: SecretPolicy | None = None) -> tuple[str, Secrecy]:
    observed = redact(
        ConfigEntry(key, value, ValueType.TEXT, "f:1"), HASHER, policy or SecretPolicy()
    )
    return observed.text, observed.secrecy


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgres://app:hunter2@db:5432/app", "postgres://app:****@db:5432/app"),
        ("redis://:hunter2@cache:6379/0", "redis://:****@cache:6379/0"),
        ("host=db user=app password=hunter2 dbname=x", "host=db user=app password=**** dbname=x"),
        ("Server=db;User Id=a;Password=hunter2;", "Server=db;User Id=a;Password=****;"),
        (
            "jdbc:mysql://db/x?user=a&password=hunter2&ssl=1",
            "jdbc:mysql://db/x?user=a&password=****&ssl=1",
        ),
        ("https://maps.example.com/api?key=hunter2", "https://maps.example.com/api?key=****"),
    ],
)
def test_passwords_inside_connection_strings_are_masked(value: str, expected: str) -> None:
    assert (expected, Secrecy.PART) == shown("CONNECTION", value)


def test_values_that_look_like_credentials_are_secret_whatever_the_key() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9"
    for value in (pem, jwt, "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36, "xoxb-1234567890-abc"):
        assert ("<secret>", Secrecy.WHOLE) == shown("SOMETHING", value)


def test_user_policy_adds_and_removes_secret_keys() -> None:
    policy = SecretPolicy(secret=("*_DSN",), public=("CACHE_*",))
    assert ("<secret>", Secrecy.WHOLE) == shown("SENTRY_DSN", "https://k@sentry/1", policy)
    assert ("v2", Secrecy.NONE) == shown("CACHE_TOKEN", "v2", policy)


def test_empty_secret_says_so_without_a_value() -> None:
    assert ("<secret: empty>", Secrecy.WHOLE) == shown("DB_PASSWORD", "")


def test_equal_secrets_have_equal_digests_under_one_salt_only() -> None:
    entry = ConfigEntry("DB_PASSWORD", "same", ValueType.TEXT, "f:1")
    first = redact(entry, KeyedHasher(b"a" * 16), SecretPolicy()).digest
    again = redact(entry, KeyedHasher(b"a" * 16), SecretPolicy()).digest
    other = redact(entry, KeyedHasher(b"b" * 16), SecretPolicy()).digest
    assert (True, False) == (first == again, first == other)


def test_scrypt_digest_is_stable_for_a_salt_and_names_its_parameters() -> None:
    hasher = ScryptHasher(b"s" * 16, n=2**10)
    assert "scrypt:n=1024,r=8,p=1" == hasher.kdf
    assert hasher.digest("x") == ScryptHasher(b"s" * 16, n=2**10).digest("x")
    assert hasher.digest("x") != hasher.digest("y")

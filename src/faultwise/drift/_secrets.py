"""Secrets never leave this module: values become salted digests and redacted text.

A value is secret when its key's name says so (``DB_PASSWORD``, ``apiKey``; see
:mod:`faultwise.drift._keys`), when its source says so (a Kubernetes Secret), when the user's
configuration says so, or when it looks like a credential (a PEM private key, a JWT, an AWS,
GitHub, Slack or Stripe key). A password inside a connection string
(``postgres://app:PASSWORD@db/app``, ``host=db password=PASSWORD``, ``?password=PASSWORD``) is
cut out and the rest of the string stays visible: a production service pointing at the
staging database is drift worth seeing.

Two values are compared through a keyed BLAKE2b digest with a random salt per run, so a digest
printed nowhere still tells "same" from "differs". Snapshots, which must be compared later,
store scrypt digests (RFC 7914) and their salt, so that a stolen snapshot does not make
guessing a password cheap.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Protocol

from faultwise.drift._keys import is_secret_key
from faultwise.drift._model import ConfigEntry, ValueType

__all__ = [
    "KeyedHasher",
    "Observed",
    "ScryptHasher",
    "Secrecy",
    "SecretHasher",
    "SecretPolicy",
    "redact",
]

SECRET_TEXT = "<secret>"
MASK = "****"

_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s]*:)([^@/\s]*)(@)")
_PARAM_PASSWORD = re.compile(
    r"((?<![A-Za-z0-9_])(?:password|passwd|pwd|pass|sslpassword|secret|token|access_token|"
    r"api_?key|apikey|key|client_secret|auth)\s*=\s*)('(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s;&,]+)",
    re.IGNORECASE,
)
_LOOKS_SECRET = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\b[sr]k_live_[A-Za-z0-9]{16,}"  # Stripe
)


class Secrecy(enum.StrEnum):
    NONE = "none"
    WHOLE = "whole"  # the value is a secret: shown as <secret>
    PART = "part"  # a password inside a connection string: the rest is shown


class SecretHasher(Protocol):
    """Turns a secret into a digest; equal secrets give equal digests under one hasher."""

    def digest(self, secret: str) -> str: ...


@dataclass(frozen=True, slots=True)
class KeyedHasher:
    """Keyed BLAKE2b: fast, for comparing within one run. ``KeyedHasher.random()`` per run."""

    salt: bytes

    @classmethod
    def random(cls) -> KeyedHasher:
        return cls(os.urandom(16))

    def digest(self, secret: str) -> str:
        data = secret.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self.salt, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class ScryptHasher:
    """scrypt (memory-hard), for digests that are written to a snapshot with their salt."""

    salt: bytes
    n: int = 2**13
    r: int = 8
    p: int = 1

    @property
    def kdf(self) -> str:
        return f"scrypt:n={self.n},r={self.r},p={self.p}"

    def digest(self, secret: str) -> str:
        data = secret.encode("utf-8", "surrogatepass")
        key = hashlib.scrypt(data, salt=self.salt, n=self.n, r=self.r, p=self.p, dklen=16)
        return key.hex()


@dataclass(frozen=True, slots=True)
class SecretPolicy:
    """The user's additions: keys that are secret (``secret``) or are not (``public``)."""

    secret: tuple[str, ...] = ()
    public: tuple[str, ...] = ()

    def is_secret(self, key: str) -> bool:
        lowered = key.lower()
        if any(fnmatch.fnmatchcase(lowered, p.lower()) for p in self.public):
            return False
        if any(fnmatch.fnmatchcase(lowered, p.lower()) for p in self.secret):
            return True
        return is_secret_key(key)


@dataclass(frozen=True, slots=True)
class Observed:
    """A value as faultwise may show it: ``text`` never holds a secret."""

    text: str
    type: ValueType
    source: str
    secrecy: Secrecy = Secrecy.NONE
    digest: str = ""  # salted digest of the secret (part); empty when nothing is secret

    @property
    def identity(self) -> tuple[str, str]:
        """What equality means: the visible text and the secret's digest (types apart)."""
        return self.text, self.digest

    @property
    def typed(self) -> bool:
        """Whether the source gave a type (JSON, YAML, TOML) rather than plain text."""
        return self.type is not ValueType.TEXT


def redact(entry: ConfigEntry, hasher: SecretHasher, policy: SecretPolicy) -> Observed:
    """The entry with every secret replaced: whole values by ``<secret>``, passwords inside
    connection strings by ``****``; the secret parts survive only as ``hasher`` digests."""
    text = entry.text
    if entry.secret or policy.is_secret(entry.key) or _LOOKS_SECRET.search(text):
        shown = SECRET_TEXT if text else "<secret: empty>"
        return Observed(shown, entry.type, entry.source, Secrecy.WHOLE, hasher.digest(text))
    parts: list[str] = []

    def cut(match: re.Match[str]) -> str:
        parts.append(match.group(2))
        return match.group(1) + MASK + (match.group(3) if match.lastindex == 3 else "")

    shown = _PARAM_PASSWORD.sub(cut, _URL_PASSWORD.sub(cut, text))
    if not parts:
        return Observed(text, entry.type, entry.source)
    digest = hasher.digest("\x00".join(parts))
    return Observed(shown, entry.type, entry.source, Secrecy.PART, digest)

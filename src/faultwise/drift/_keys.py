"""What a key's name says: is it a secret, is it a "killer" key.

Names are split into lowercase words on ``.``, ``_``, ``-``, ``/``, brackets and camelCase
(``maxPoolSize`` -> max pool size), so ``KEY`` matches ``API_KEY`` and ``apiKey`` but not
``MONKEY`` or ``KEYSPACE``. A Kubernetes ``Kind/name.`` prefix is not part of the name: a
Deployment called ``token-service`` does not make its log level a secret.
"""

from __future__ import annotations

import enum
import itertools
import re
from functools import lru_cache

__all__ = ["Killer", "is_secret_key", "killer_of", "words"]


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_OBJECT_PREFIX = re.compile(r"[A-Z][A-Za-z0-9]*/[^.\[]+")
_CONTAINER = re.compile(r"\b(?:c|initC|ephemeralC)ontainers\.[^.\[]+")

_SECRET_WORDS = _set(
    "password passwords passwd pwd pass passphrase secret secrets token tokens apikey apikeys "
    "credential credentials creds private privatekey key keys authorization bearer jwt "
    "salt pat sessionkey signingkey"
)
# a secret word followed by one of these names a property of the secret, not the secret
_ABOUT_SECRET = _set(
    "ttl expiry expires expiration lifetime age length len min max size count file path dir "
    "name names id prefix suffix pattern separator header type algorithm alg url uri endpoint "
    "enabled enable disabled disable required rotation timeout interval days hours minutes "
    "seconds ms policy format version field param location env var ref source provider "
    "issuer audience mount space bucket store manager cache refresh reset"
)
# "key" after one of these is an identifier, not a credential
_NOT_A_CREDENTIAL_KEY = _set(
    "public primary partition sort foreign routing cache idempotency shard hash lookup group "
    "row hot dedup dedupe redis object message"
)
_REFERENCE_WORDS = frozenset({"value", "from"})  # Kubernetes valueFrom: a reference, not a value


class Killer(enum.StrEnum):
    """Why a key can take production down when it drifts."""

    POOL = "pool"
    TIMEOUT = "timeout"
    RETRY = "retry"
    FEATURE_FLAG = "feature-flag"
    SCALING = "scaling"
    RESOURCES = "resources"
    LIMIT = "limit"
    BREAKER = "breaker"
    CUSTOM = "custom"


_KILLER_WORDS: tuple[tuple[Killer, frozenset[str], tuple[tuple[str, ...], ...]], ...] = (
    (
        Killer.TIMEOUT,
        _set(
            "timeout timeouts deadline ttl expiry expiration expire expires keepalive lifetime "
            "grace"
        ),
        (("max", "age"), ("idle", "time"), ("period", "seconds"), ("initial", "delay")),
    ),
    (
        Killer.POOL,
        _set("pool pools poolsize overflow maxconn maxconns maxconnections"),
        (
            ("max", "connections"),
            ("max", "conns"),
            ("min", "connections"),
            ("connection", "limit"),
            ("max", "idle"),
            ("max", "open"),
            ("max", "clients"),
        ),
    ),
    (
        Killer.RETRY,
        _set("retry retries retried attempts backoff redelivery"),
        (),
    ),
    (
        Killer.FEATURE_FLAG,
        _set("feature features flag flags toggle toggles ff enabled enable disabled disable"),
        (),
    ),
    (
        Killer.SCALING,
        _set(
            "replicas replica workers concurrency threads processes instances shards partitions "
            "autoscaling gunicorn uvicorn prefetch"
        ),
        (
            ("worker", "count"),
            ("num", "workers"),
        ),
    ),
    (
        Killer.RESOURCES,
        _set("cpu cpus memory mem heap xmx xms gomaxprocs gomemlimit resources storage"),
        (),
    ),
    (
        Killer.BREAKER,
        _set("circuit breaker threshold thresholds"),
        (),
    ),
    (
        Killer.LIMIT,
        _set(
            "limit limits quota quotas burst throttle throttling ratelimit rps qps max maximum "
            "capacity batch buffer queue"
        ),
        (("rate", "limit"),),
    ),
)


@lru_cache(maxsize=65536)
def words(key: str) -> tuple[str, ...]:
    """The lowercase words of a key, without Kubernetes ``Kind/name`` and container names."""
    name = _OBJECT_PREFIX.sub("", key, count=1) if _OBJECT_PREFIX.match(key) else key
    name = _CONTAINER.sub("", name)  # a container called "queue" says nothing about its keys
    return tuple(w.lower() for w in _WORD.findall(name))


@lru_cache(maxsize=65536)
def is_secret_key(key: str) -> bool:
    """Whether the key's name says its value is a secret (``DB_PASSWORD``, ``apiKey``)."""
    parts = words(key)
    if _REFERENCE_WORDS <= set(parts):
        return False
    for index, word in enumerate(parts):
        if word not in _SECRET_WORDS:
            continue
        after = parts[index + 1 :]
        if any(w in _ABOUT_SECRET for w in after):
            continue
        if word in {"key", "keys"} and index > 0 and parts[index - 1] in _NOT_A_CREDENTIAL_KEY:
            continue
        return True
    return False


@lru_cache(maxsize=65536)
def killer_of(key: str) -> Killer | None:
    """The built-in reason this key is dangerous when it drifts, or ``None``."""
    parts = words(key)
    found = set(parts)
    pairs = set(itertools.pairwise(parts))
    for killer, singles, sequences in _KILLER_WORDS:
        if found & singles or pairs & set(sequences):
            return killer
    return None

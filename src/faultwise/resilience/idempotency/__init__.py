"""Idempotency keys for retried writes: a decorator, ASGI/WSGI middleware, three stores.

>>> from faultwise.resilience.idempotency import Idempotency, MemoryIdempotencyStore, idempotent
>>> @idempotent(MemoryIdempotencyStore(), key="request_id")
... def charge(request_id: str, cents: int) -> dict[str, int]:
...     return {"charged": cents}
>>> charge("r-1", 500) == charge("r-1", 500)   # the second call returns the stored result
True

HTTP: :class:`IdempotencyMiddleware` (ASGI) and :class:`IdempotencyWSGIMiddleware` honour
the ``Idempotency-Key`` header (IETF draft "The Idempotency-Key HTTP Header Field", Stripe).
Stores: :class:`MemoryIdempotencyStore` here; ``RedisIdempotencyStore`` /
``AsyncRedisIdempotencyStore`` (extra ``redis``) and ``PostgresIdempotencyStore`` /
``AsyncPostgresIdempotencyStore`` (extra ``postgres``) are imported from here too, and load
their driver only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faultwise.resilience.idempotency._codec import JSON, PICKLE, JsonCodec, PickleCodec
from faultwise.resilience.idempotency._core import (
    AsyncIdempotencyStore,
    Begin,
    Claim,
    Claimed,
    Codec,
    Completed,
    Idempotency,
    IdempotencyConfig,
    IdempotencyError,
    IdempotencyKeyReused,
    IdempotencyRejected,
    IdempotencyReleased,
    IdempotencyReplayed,
    IdempotencyStore,
    IdempotencyStoreFailed,
    InFlight,
    KeyReusedError,
    Replay,
    RequestInProgressError,
)
from faultwise.resilience.idempotency._decorator import idempotent
from faultwise.resilience.idempotency._memory import MemoryIdempotencyStore
from faultwise.resilience.idempotency.asgi import IdempotencyMiddleware
from faultwise.resilience.idempotency.wsgi import IdempotencyWSGIMiddleware

if TYPE_CHECKING:
    from faultwise.resilience.idempotency._postgres import (
        AsyncPostgresIdempotencyStore,
        PostgresIdempotencyStore,
    )
    from faultwise.resilience.idempotency._redis import (
        AsyncRedisIdempotencyStore,
        RedisIdempotencyStore,
    )

__all__ = [
    "JSON",
    "PICKLE",
    "AsyncIdempotencyStore",
    "AsyncPostgresIdempotencyStore",
    "AsyncRedisIdempotencyStore",
    "Begin",
    "Claim",
    "Claimed",
    "Codec",
    "Completed",
    "Idempotency",
    "IdempotencyConfig",
    "IdempotencyError",
    "IdempotencyKeyReused",
    "IdempotencyMiddleware",
    "IdempotencyRejected",
    "IdempotencyReleased",
    "IdempotencyReplayed",
    "IdempotencyStore",
    "IdempotencyStoreFailed",
    "IdempotencyWSGIMiddleware",
    "InFlight",
    "JsonCodec",
    "KeyReusedError",
    "MemoryIdempotencyStore",
    "PickleCodec",
    "PostgresIdempotencyStore",
    "RedisIdempotencyStore",
    "Replay",
    "RequestInProgressError",
    "idempotent",
]

_LAZY = {
    "RedisIdempotencyStore": "_redis",
    "AsyncRedisIdempotencyStore": "_redis",
    "PostgresIdempotencyStore": "_postgres",
    "AsyncPostgresIdempotencyStore": "_postgres",
}


def __getattr__(name: str) -> Any:
    """The Redis and PostgreSQL stores, imported on first use (their drivers are extras)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

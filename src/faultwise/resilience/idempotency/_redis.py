"""Idempotency keys in Redis: one hash per key, claimed and completed by Lua scripts.

Redis expires the hash itself (the lease while in flight, the TTL once done), so expiry runs
on the server's clock and a crashed replica's claim frees itself. Needs the ``redis`` extra.

>>> store = RedisIdempotencyStore(redis.Redis.from_url(URL))  # doctest: +SKIP
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from faultwise._errors import require
from faultwise.resilience.idempotency._core import Begin, Claimed, Completed, InFlight

require("redis", "redis")

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["AsyncRedisIdempotencyStore", "RedisIdempotencyStore"]

# KEYS[1] key; ARGV fingerprint, token, lease ms. Fields: s state (p in flight, d done),
# f fingerprint, t owner token, b stored result.
_BEGIN = """
local held = redis.call('HMGET', KEYS[1], 's', 'f', 'b')
if not held[1] then
  redis.call('HSET', KEYS[1], 's', 'p', 'f', ARGV[1], 't', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'c'}
end
if held[1] == 'p' then return {'p', held[2]} end
return {'d', held[2], held[3]}
"""
# KEYS[1] key; ARGV token, result, ttl ms.
_COMPLETE = """
local held = redis.call('HMGET', KEYS[1], 's', 't')
if held[1] ~= 'p' or held[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 's', 'd', 'b', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
# KEYS[1] key; ARGV token.
_RELEASE = """
local held = redis.call('HMGET', KEYS[1], 's', 't')
if held[1] ~= 'p' or held[2] ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


class _RedisKeys:
    """What both twins share: the key prefix, the three scripts, reading their replies."""

    __slots__ = ("_begin", "_complete", "_prefix", "_release")

    def __init__(self, client: Any, prefix: str) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the Redis client must not decode responses (results are bytes)")
        self._prefix = prefix
        self._begin = client.register_script(_BEGIN)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    def _begin_call(self, key: str, fingerprint: str, lease: float) -> tuple[Any, str]:
        token = secrets.token_hex(16)
        return self._begin(keys=[self._prefix + key], args=[fingerprint, token, _ms(lease)]), token

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._prefix!r})"


class RedisIdempotencyStore(_RedisKeys):
    """Keys shared by every replica through Redis (a ``redis.Redis`` client, not decoding)."""

    __slots__ = ()

    def __init__(self, client: redis.Redis, *, prefix: str = "faultwise:idempotency:") -> None:
        super().__init__(client, prefix)

    def begin(self, key: str, fingerprint: str, lease: float) -> Begin:
        reply, token = self._begin_call(key, fingerprint, lease)
        return _begun(reply, token)

    def complete(self, key: str, token: str, payload: bytes, ttl: float) -> bool:
        return bool(self._complete(keys=[self._prefix + key], args=[token, payload, _ms(ttl)]))

    def release(self, key: str, token: str) -> bool:
        return bool(self._release(keys=[self._prefix + key], args=[token]))


class AsyncRedisIdempotencyStore(_RedisKeys):
    """The asyncio twin of :class:`RedisIdempotencyStore` (a ``redis.asyncio.Redis`` client)."""

    __slots__ = ()

    def __init__(
        self, client: redis.asyncio.Redis, *, prefix: str = "faultwise:idempotency:"
    ) -> None:
        super().__init__(client, prefix)

    async def begin_async(self, key: str, fingerprint: str, lease: float) -> Begin:
        reply, token = self._begin_call(key, fingerprint, lease)
        return _begun(await reply, token)

    async def complete_async(self, key: str, token: str, payload: bytes, ttl: float) -> bool:
        args = [token, payload, _ms(ttl)]
        return bool(await self._complete(keys=[self._prefix + key], args=args))

    async def release_async(self, key: str, token: str) -> bool:
        return bool(await self._release(keys=[self._prefix + key], args=[token]))


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _begun(reply: list[bytes], token: str) -> Begin:
    state = reply[0]
    if state == b"c":
        return Claimed(token)
    if state == b"p":
        return InFlight(reply[1].decode())
    return Completed(reply[1].decode(), reply[2])

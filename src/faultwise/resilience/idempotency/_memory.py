"""The in-process idempotency store: one dict under one lock, expiry by the injected clock."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience.idempotency._core import Begin, Claimed, Completed, InFlight

__all__ = ["MemoryIdempotencyStore"]

_SWEEP_EVERY = 1024  # claims between sweeps of expired keys: amortised O(1) per claim


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    token: str
    payload: bytes | None
    expires: float


class MemoryIdempotencyStore:
    """Keys in this process only (one replica, tests, the lab); sync and async methods.

    Expired keys are dropped as new ones are claimed, so memory stays bounded by the keys
    alive within ``ttl``.
    """

    __slots__ = ("_claims", "_entries", "_lock", "_now", "_tokens")

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._now = clock.now
        self._tokens = itertools.count()
        self._claims = 0

    def begin(self, key: str, fingerprint: str, lease: float) -> Begin:
        now = self._now()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= now:
                token = str(next(self._tokens))
                self._entries[key] = _Entry(fingerprint, token, None, now + lease)
                self._claims += 1
                if self._claims % _SWEEP_EVERY == 0:
                    self._sweep(now)
                return Claimed(token)
            if entry.payload is None:
                return InFlight(entry.fingerprint)
            return Completed(entry.fingerprint, entry.payload)

    def complete(self, key: str, token: str, payload: bytes, ttl: float) -> bool:
        now = self._now()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.token != token or entry.expires <= now:
                return False
            entry.payload = payload
            entry.expires = now + ttl
            return True

    def release(self, key: str, token: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.token != token or entry.payload is not None:
                return False
            del self._entries[key]
            return True

    async def begin_async(self, key: str, fingerprint: str, lease: float) -> Begin:
        return self.begin(key, fingerprint, lease)

    async def complete_async(self, key: str, token: str, payload: bytes, ttl: float) -> bool:
        return self.complete(key, token, payload, ttl)

    async def release_async(self, key: str, token: str) -> bool:
        return self.release(key, token)

    def __len__(self) -> int:
        """Keys held, expired ones included until the next sweep."""
        return len(self._entries)

    def _sweep(self, now: float) -> None:
        expired = [key for key, entry in self._entries.items() if entry.expires <= now]
        for key in expired:
            del self._entries[key]

    def __repr__(self) -> str:
        return f"MemoryIdempotencyStore(keys={len(self._entries)})"

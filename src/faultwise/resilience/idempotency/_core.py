"""Idempotency keys: run a write once, hand every retry of it the stored result.

The semantics follow the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's
API: the first request with a key executes; a duplicate that arrives while it runs waits for
it (up to ``wait`` seconds) or is refused (HTTP 409); a duplicate after it finished gets the
stored result; the same key with a different request (its *fingerprint*) is refused (HTTP
422); results are kept for ``ttl`` seconds; a failed execution releases the key so a retry
can run. A claim is a lease: if the process holding it dies, the key frees itself after
``lease`` seconds.

Stores hold, per key, the request fingerprint and either an owner token (in flight) or the
stored result (done). :class:`MemoryIdempotencyStore` is the in-process store; Redis and
PostgreSQL stores (extras ``redis`` and ``postgres``) share one key space across replicas.

>>> from faultwise.resilience.idempotency import Idempotency, MemoryIdempotencyStore
>>> idem = Idempotency(MemoryIdempotencyStore(), wait=5.0)
>>> claim = idem.claim("order-42", fingerprint="sha256:...")
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeAlias, TypeVar

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.resilience._base import Emitter, Event, RejectedError, ResilienceError

__all__ = [
    "AsyncIdempotencyStore",
    "Begin",
    "Claim",
    "Claimed",
    "Completed",
    "Idempotency",
    "IdempotencyConfig",
    "IdempotencyError",
    "IdempotencyKeyReused",
    "IdempotencyRejected",
    "IdempotencyReleased",
    "IdempotencyReplayed",
    "IdempotencyStore",
    "IdempotencyStoreFailed",
    "InFlight",
    "KeyReusedError",
    "Replay",
    "RequestInProgressError",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Claimed:
    """``begin`` gave this caller the key: it must execute, then complete or release."""

    token: str


@dataclass(frozen=True, slots=True)
class InFlight:
    """Another caller holds the key and is still executing."""

    fingerprint: str


@dataclass(frozen=True, slots=True)
class Completed:
    """The key's execution finished; ``payload`` is its stored result."""

    fingerprint: str
    payload: bytes


Begin: TypeAlias = Claimed | InFlight | Completed
"""What a store's ``begin`` answers."""


class IdempotencyStore(Protocol):
    """Where keys live (thread-safe, shared by whoever must see the same keys).

    ``begin`` atomically claims a free (absent or expired) key for ``lease`` seconds, or says
    what holds it. ``complete`` stores the result for ``ttl`` seconds and ``release`` frees
    the key; both act only while ``token`` still owns the claim and say whether it did.
    """

    def begin(self, key: str, fingerprint: str, lease: float) -> Begin: ...
    def complete(self, key: str, token: str, payload: bytes, ttl: float) -> bool: ...
    def release(self, key: str, token: str) -> bool: ...


class AsyncIdempotencyStore(Protocol):
    """The asyncio twin of :class:`IdempotencyStore`."""

    async def begin_async(self, key: str, fingerprint: str, lease: float) -> Begin: ...
    async def complete_async(self, key: str, token: str, payload: bytes, ttl: float) -> bool: ...
    async def release_async(self, key: str, token: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class IdempotencyConfig:
    """How long results live, how long a claim lasts, how long a duplicate waits.

    ``ttl`` (Stripe keeps keys 24 h), ``lease`` (an unfinished claim frees itself after it:
    set it above your slowest request), ``wait`` (0: a concurrent duplicate is refused at
    once, as the draft's 409; more: it polls every ``poll`` s, doubling up to ``max_poll``,
    with jitter, until the first finishes or ``wait`` runs out).
    """

    ttl: float = 86_400.0
    lease: float = 60.0
    wait: float = 0.0
    poll: float = 0.005
    max_poll: float = 0.1

    def __post_init__(self) -> None:
        for name in ("ttl", "lease", "poll", "max_poll"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not (self.wait >= 0 and math.isfinite(self.wait)):
            raise ValueError(f"wait must be >= 0, got {self.wait!r}")


@dataclass(frozen=True, slots=True)
class Claim:
    """This caller owns ``key``: execute, then :meth:`Idempotency.complete` or ``release``."""

    key: str
    token: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key already finished: ``payload`` is the stored result to hand back."""

    key: str
    payload: bytes


class Idempotency(Emitter):
    """Claims, completes and releases keys in a store, waiting for in-flight duplicates.

    The building block of :func:`idempotent` and the ``Idempotency-Key`` middleware::

        match idem.claim(key, fingerprint):
            case Replay(payload=payload):
                return decode(payload)
            case Claim() as claim:
                try:
                    result = charge(order)
                except BaseException:
                    idem.release(claim)
                    raise
                idem.complete(claim, encode(result))

    ``claim`` raises :class:`KeyReusedError` (the key came with another fingerprint) and
    :class:`RequestInProgressError` (still in flight after ``wait``). ``store`` needs the
    sync methods for ``claim``/``complete``/``release`` and the async ones for their
    ``_async`` twins; :class:`MemoryIdempotencyStore` has both.
    """

    __slots__ = ("_clock", "_random", "config", "name", "store")

    def __init__(
        self,
        store: IdempotencyStore | AsyncIdempotencyStore,
        *,
        ttl: float = 86_400.0,
        lease: float = 60.0,
        wait: float = 0.0,
        poll: float = 0.005,
        max_poll: float = 0.1,
        name: str = "idempotency",
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.config = IdempotencyConfig(ttl, lease, wait, poll, max_poll)
        self.name = name
        self._clock = clock
        self._random = rng if rng is not None else random.Random()

    def claim(self, key: str, fingerprint: str) -> Claim | Replay:
        """Claim ``key`` or get its stored result, waiting up to ``wait`` s for a duplicate."""
        store: IdempotencyStore = self.store  # type: ignore[assignment]
        started, attempt = self._clock.now(), 0
        while True:
            outcome = self._decide(
                key, fingerprint, store.begin(key, fingerprint, self.config.lease), started, attempt
            )
            if not isinstance(outcome, float):
                return outcome
            self._clock.sleep(outcome)
            attempt += 1

    async def claim_async(self, key: str, fingerprint: str) -> Claim | Replay:
        """The asyncio twin of :meth:`claim`."""
        store: AsyncIdempotencyStore = self.store  # type: ignore[assignment]
        started, attempt = self._clock.now(), 0
        while True:
            begun = await store.begin_async(key, fingerprint, self.config.lease)
            outcome = self._decide(key, fingerprint, begun, started, attempt)
            if not isinstance(outcome, float):
                return outcome
            await self._clock.sleep_async(outcome)
            attempt += 1

    def complete(self, claim: Claim, payload: bytes) -> None:
        """Store the result of a claimed execution for ``ttl`` seconds."""
        store: IdempotencyStore = self.store  # type: ignore[assignment]
        self._completed(claim, store.complete(claim.key, claim.token, payload, self.config.ttl))

    async def complete_async(self, claim: Claim, payload: bytes) -> None:
        """The asyncio twin of :meth:`complete`."""
        store: AsyncIdempotencyStore = self.store  # type: ignore[assignment]
        done = await store.complete_async(claim.key, claim.token, payload, self.config.ttl)
        self._completed(claim, done)

    def release(self, claim: Claim, reason: str = "failed") -> None:
        """Free a claimed key without a result, so a retry executes again."""
        store: IdempotencyStore = self.store  # type: ignore[assignment]
        store.release(claim.key, claim.token)
        self._emit(IdempotencyReleased(self.name, claim.key, reason))

    async def release_async(self, claim: Claim, reason: str = "failed") -> None:
        """The asyncio twin of :meth:`release`."""
        store: AsyncIdempotencyStore = self.store  # type: ignore[assignment]
        await store.release_async(claim.key, claim.token)
        self._emit(IdempotencyReleased(self.name, claim.key, reason))

    def run(self, key: str, fingerprint: str, fn: Callable[[], T], codec: Codec[T]) -> T:
        """Run ``fn`` once per key; duplicates get ``codec.decode`` of the stored result."""
        claimed = self.claim(key, fingerprint)
        if isinstance(claimed, Replay):
            return codec.decode(claimed.payload)
        try:
            result = fn()
            payload = codec.encode(result)
        except BaseException:
            self.release(claimed)
            raise
        self.complete(claimed, payload)
        return result

    async def run_async(
        self, key: str, fingerprint: str, fn: Callable[[], Awaitable[T]], codec: Codec[T]
    ) -> T:
        """The asyncio twin of :meth:`run`."""
        claimed = await self.claim_async(key, fingerprint)
        if isinstance(claimed, Replay):
            return codec.decode(claimed.payload)
        try:
            result = await fn()
            payload = codec.encode(result)
        except BaseException:
            await self.release_async(claimed)
            raise
        await self.complete_async(claimed, payload)
        return result

    def _decide(
        self, key: str, fingerprint: str, begun: Begin, started: float, attempt: int
    ) -> Claim | Replay | float:
        """Turn a store's answer into a claim, a replay, an error, or a pause before polling."""
        if isinstance(begun, Claimed):
            return Claim(key, begun.token)
        if begun.fingerprint != fingerprint:
            self._emit(IdempotencyKeyReused(self.name, key))
            raise KeyReusedError(key)
        if isinstance(begun, Completed):
            self._emit(IdempotencyReplayed(self.name, key))
            return Replay(key, begun.payload)
        left = started + self.config.wait - self._clock.now()
        if left <= 0:
            self._emit(IdempotencyRejected(self.name, key))
            raise RequestInProgressError(key, strategy=self.name)
        pause = min(self.config.max_poll, self.config.poll * 2.0**attempt)
        return min(left, pause * (0.5 + 0.5 * self._random.random()))

    def store_failed(self, key: str, action: str, error: BaseException) -> None:
        """Report a store failure the caller worked around (see :class:`IdempotencyStoreFailed`)."""
        self._emit(IdempotencyStoreFailed(self.name, key, action, repr(error)))

    def _completed(self, claim: Claim, done: bool) -> None:
        if not done:  # the lease ran out and another caller took the key: say so
            self._emit(IdempotencyReleased(self.name, claim.key, "lease_expired"))

    def __repr__(self) -> str:
        return f"Idempotency(store={self.store!r}, config={self.config!r})"


def as_idempotency(target: Idempotency | IdempotencyStore | AsyncIdempotencyStore) -> Idempotency:
    """``target`` itself, or default :class:`Idempotency` settings over a store."""
    return target if isinstance(target, Idempotency) else Idempotency(target)


class Codec(Protocol[T]):
    """Turns a result into bytes for the store and back."""

    def encode(self, value: T) -> bytes: ...
    def decode(self, payload: bytes) -> T: ...


class IdempotencyError(ResilienceError):
    """Base of the errors raised for an idempotency key."""


class RequestInProgressError(RejectedError, IdempotencyError):
    """A request with this key is still executing (HTTP 409 Conflict)."""

    def __init__(self, key: str, *, strategy: str) -> None:
        super().__init__(
            f"a request with idempotency key {key!r} is still in progress",
            strategy=strategy,
            retry_after=1.0,
        )
        self.key = key


class KeyReusedError(IdempotencyError):
    """The key was first used for a different request (HTTP 422 Unprocessable Content)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")
        self.key = key


@dataclass(frozen=True, slots=True)
class IdempotencyReplayed(Event):
    """A duplicate got the stored result instead of executing."""

    kind: ClassVar[str] = "idempotency"
    event: ClassVar[str] = "replayed"
    key: str


@dataclass(frozen=True, slots=True)
class IdempotencyRejected(Event):
    """A duplicate was refused because the first request was still in flight (409)."""

    kind: ClassVar[str] = "idempotency"
    event: ClassVar[str] = "in_progress"
    key: str


@dataclass(frozen=True, slots=True)
class IdempotencyKeyReused(Event):
    """A key came back with a different request fingerprint (422)."""

    kind: ClassVar[str] = "idempotency"
    event: ClassVar[str] = "key_reused"
    key: str


@dataclass(frozen=True, slots=True)
class IdempotencyReleased(Event):
    """A claim ended without a stored result: ``reason`` is ``failed`` (the execution raised
    or answered a retryable status) or ``lease_expired`` (it outlived its lease)."""

    kind: ClassVar[str] = "idempotency"
    event: ClassVar[str] = "released"
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class IdempotencyStoreFailed(Event):
    """The store could not be reached: ``action`` says what the caller did instead
    (``refused``: answered 503 without executing; ``not_stored``: the executed request's
    response went out but was not stored, or ``not_released``: a failed request's key was
    not freed; either way the key frees itself when its lease ends)."""

    kind: ClassVar[str] = "idempotency"
    event: ClassVar[str] = "store_failed"
    key: str
    action: str
    error: str

"""Shared resilience state in Redis: one breaker, one token bucket, one retry budget for a
whole fleet of processes, with a local fast path and a chosen behaviour when Redis is down.

>>> shared = SharedState("redis://127.0.0.1:6379/0", refresh=0.1, fail="open")  # doctest: +SKIP
>>> breaker = shared.circuit_breaker("payments", minimum_calls=20)  # doctest: +SKIP
>>> limiter = shared.rate_limiter("payments", rate=200.0, burst=50)  # doctest: +SKIP
>>> budget = shared.retry_budget("payments", ratio=0.2)  # doctest: +SKIP

Calls never wait on Redis except the rate limiter, once per batch of tokens. A syncer (a
daemon thread here, an asyncio task in :class:`AsyncSharedState`) drains each process's
counts into Redis every ``refresh`` seconds, or at once when a breaker changes state, in one
pipelined round trip, and brings back the fleet's counts and breaker states. Every Redis
command runs server-side in a Lua script, on the server's clock. Needs the ``redis`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, TypedDict, Unpack

from faultwise import _fork
from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise._errors import require
from faultwise.resilience._circuit_breaker import CircuitBreaker, CircuitState
from faultwise.resilience._rate_limiter import RateLimiter
from faultwise.resilience._retry_budget import RetryBudget
from faultwise.resilience._stores import WindowCounts
from faultwise.resilience.shared._local import (
    FailMode,
    Hub,
    SharedBucket,
    SharedSum,
    SharedWindow,
)

require("redis", "redis")
import redis  # noqa: E402
import redis.asyncio  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402

__all__ = ["AsyncSharedState", "SharedState"]

# KEYS[1]: a hash of "<slice>:<i>" -> count. ARGV: slice width ms, slices kept, then one
# delta per counter. Adds the deltas to the current slice, drops old slices, returns totals.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local width, slices = tonumber(ARGV[1]), tonumber(ARGV[2])
local slice = math.floor(now / width)
local k = #ARGV - 2
local totals = {}
for i = 1, k do
  totals[i] = 0
  local delta = tonumber(ARGV[i + 2])
  if delta ~= 0 then redis.call('HINCRBY', KEYS[1], string.format('%d:%d', slice, i), delta) end
end
local fields = redis.call('HGETALL', KEYS[1])
for j = 1, #fields, 2 do
  local sep = string.find(fields[j], ':', 1, true)
  if tonumber(string.sub(fields[j], 1, sep - 1)) <= slice - slices then
    redis.call('HDEL', KEYS[1], fields[j])
  else
    local i = tonumber(string.sub(fields[j], sep + 1))
    totals[i] = totals[i] + tonumber(fields[j + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], width * (slices + 1))
return totals
"""

# KEYS[1]: the breaker's state hash (s state, u open-until ms, e epoch); KEYS[2]: its window.
# ARGV: '1' to publish, the new state, its open ms, the epoch the publisher last saw. A
# publish wins only if nobody changed the state since that epoch; closing clears the window.
_STATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 's', 'u', 'e')
local state, untilms, epoch = held[1] or 'closed', tonumber(held[2]) or 0, tonumber(held[3]) or 0
if ARGV[1] == '1' and epoch == tonumber(ARGV[4]) then
  state, untilms, epoch = ARGV[2], now + tonumber(ARGV[3]), epoch + 1
  redis.call('HSET', KEYS[1], 's', state, 'u', string.format('%d', untilms), 'e', epoch)
  if state == 'closed' then redis.call('DEL', KEYS[2]) end
end
redis.call('PEXPIRE', KEYS[1], 604800000)
return {state, math.max(0, untilms - now), epoch}
"""

# KEYS[1]: the bucket (t tokens, ts last refill, server seconds). ARGV: rate, burst, tokens
# wanted, tokens given back, max wait. Grants up to the wanted batch, or reserves one token
# ahead (the bucket goes negative) when the wait for it is within max wait.
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(held[1]) or burst
local last = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate + tonumber(ARGV[4]))
local granted, wait = 0, 0
if tokens >= 1 then
  granted = math.min(tonumber(ARGV[3]), math.floor(tokens))
  tokens = tokens - granted
else
  wait = (1 - tokens) / rate
  if wait <= tonumber(ARGV[5]) then
    granted = 1
    tokens = tokens - 1
  else
    wait = 0
  end
end
redis.call('HSET', KEYS[1], 't', string.format('%.9f', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate + 60) * 1000))
return {granted, string.format('%.9f', wait), string.format('%.9f', tokens)}
"""

_ERRORS = (redis.RedisError, OSError)
_STATES = {state.value: state for state in CircuitState}


class SharedOptions(TypedDict, total=False):
    """The keyword options of :class:`SharedState` and :class:`AsyncSharedState`."""

    refresh: float
    fail: FailMode | str
    timeout: float
    prefix: str
    name: str
    clock: Clock
    background: bool


def _client_checked(client: Any) -> Any:
    timeout = client.get_connection_kwargs().get("socket_timeout")
    if timeout is None:
        raise ValueError(
            "the Redis client has no socket_timeout: a stalled Redis would hang calls; "
            "pass a URL (faultwise sets short timeouts) or set socket_timeout"
        )
    return client


class _Shared(Hub):
    """What the sync and async twins share: keys, factories, building and reading a sync."""

    __slots__ = (
        "_background",
        "_bucket_script",
        "_client",
        "_owned",
        "_prefix",
        "_state_script",
        "_window_script",
    )

    def __init__(
        self,
        redis: str | Any,
        *,
        refresh: float = 0.1,
        fail: FailMode | str = FailMode.OPEN,
        timeout: float = 0.1,
        prefix: str = "faultwise:",
        name: str = "shared_state",
        clock: Clock = SYSTEM_CLOCK,
        background: bool = True,
    ) -> None:
        super().__init__(name, refresh, fail, clock)
        self._owned = isinstance(redis, str)
        client = self._connect(redis, timeout) if isinstance(redis, str) else redis
        self._client = _client_checked(client)
        self._prefix = prefix
        self._background = background
        self._window_script = client.register_script(_WINDOW)
        self._state_script = client.register_script(_STATE)
        self._bucket_script = client.register_script(_BUCKET)

    @staticmethod
    def _connect(url: str, timeout: float) -> Any:
        """A client with short timeouts and no retries, so a stalled Redis fails fast."""
        raise NotImplementedError

    def circuit_breaker(self, name: str, *, window: int = 60, **options: Any) -> CircuitBreaker:
        """A :class:`CircuitBreaker` whose window (the last ``window`` seconds) and state
        are shared with every process using this ``name``; other options as the breaker's."""
        shared = SharedWindow(self, name, window)
        breaker = CircuitBreaker(name=name, window=shared, clock=self.clock, **options)
        shared.attach(breaker)
        self.participants.append(shared)
        self._started()
        return breaker

    def rate_limiter(
        self,
        name: str,
        rate: float,
        *,
        burst: float | None = None,
        local_rate: float | None = None,
        max_batch: int | None = None,
        **options: Any,
    ) -> RateLimiter:
        """A :class:`RateLimiter` with one token bucket for every process using ``name``.

        ``local_rate`` is this process's own rate while Redis is down in fail-open mode
        (default: the shared rate); ``max_batch`` caps the tokens fetched at once (default a
        tenth of the burst)."""
        bucket = self._bucket(name, local_rate, max_batch)
        limiter = RateLimiter(
            rate, burst=burst, name=name, clock=self.clock, store=bucket, **options
        )
        bucket.bind(limiter.config.rate, limiter.config.burst, max_batch)
        self._started()
        return limiter

    def retry_budget(self, name: str, ratio: float = 0.2, **options: Any) -> RetryBudget:
        """A :class:`RetryBudget` shared by every process using ``name`` (same options)."""
        ttl = float(options.get("ttl", 10.0))
        shared = SharedSum(self, name, ttl)
        budget = RetryBudget(ratio, name=name, clock=self.clock, store=shared, **options)
        self.participants.append(shared)
        self._started()
        return budget

    def _bucket(self, name: str, local_rate: float | None, max_batch: int | None) -> SharedBucket:
        raise NotImplementedError

    def _started(self) -> None:
        """Start the syncer if it is not running (the twins decide how)."""

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    def _plan(self) -> tuple[list[Any], list[tuple[Any, list[str], list[Any]]]]:
        """One sync of every participant: what to apply after, and the scripts to run."""
        plan: list[Any] = []
        calls: list[tuple[Any, list[str], list[Any]]] = []
        for part in self.participants:
            if isinstance(part, SharedWindow):
                (calls_, failures, slow), publish = part.drain()
                window_key = self._key("breaker-window", part.name)
                state, open_for = publish if publish else (CircuitState.CLOSED, 0.0)
                flag = int(publish is not None)
                state_args = [flag, state.value, round(open_for * 1000), part.known_epoch]
                calls.append(
                    (self._state_script, [self._key("breaker", part.name), window_key], state_args)
                )
                window_args = [1000, part.seconds, calls_, failures, slow]
                calls.append((self._window_script, [window_key], window_args))
                plan.append((part, publish))
            else:
                slices = 10
                width = max(1, round(part.window * 1000 / slices))
                args = [width, slices, part.drain()]
                calls.append((self._window_script, [self._key("budget", part.name)], args))
                plan.append((part, None))
        return plan, calls

    def _apply(self, plan: list[Any], results: list[Any]) -> None:
        replies = iter(results)
        for part, _ in plan:
            if isinstance(part, SharedWindow):
                state, open_ms, epoch = next(replies)
                calls, failures, slow = next(replies)
                counts = WindowCounts(calls, failures, slow)
                part.applied(counts, _STATES[state.decode()], open_ms / 1000, int(epoch))
            else:
                part.applied(int(next(replies)[0]))

    def _failed(self, plan: list[Any], error: BaseException) -> None:
        for part, publish in plan:
            if isinstance(part, SharedWindow):
                part.unpublished(publish)
        self.mark_down(error)

    def _bucket_args(self, bucket: SharedBucket, max_wait: float) -> tuple[list[str], list[Any]]:
        want, stale = bucket.request()
        return [self._key("bucket", bucket.name)], [
            bucket.rate,
            bucket.burst,
            want,
            stale,
            max_wait,
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, available={self.available})"


def _granted(bucket: SharedBucket, reply: list[Any]) -> float | None:
    granted, wait, tokens = reply
    return bucket.granted(int(granted), float(wait), float(tokens))


class _SyncBucket(SharedBucket):
    __slots__ = ("_shared",)

    def __init__(
        self, shared: SharedState, name: str, local_rate: float | None, max_batch: int | None
    ):
        super().__init__(shared, name, local_rate, max_batch)
        self._shared = shared

    def take(self, max_wait: float) -> float | None:
        if self.take_local():
            return 0.0
        shared = self._shared
        if not shared.available:
            return self.degraded(max_wait)
        keys, args = shared._bucket_args(self, max_wait)
        try:
            reply = shared._bucket_script(keys=keys, args=args)
        except _ERRORS as exc:
            shared.mark_down(exc)
            return self.degraded(max_wait)
        return _granted(self, reply)


class _AsyncBucket(SharedBucket):
    __slots__ = ("_shared",)

    def __init__(
        self, shared: AsyncSharedState, name: str, local_rate: float | None, max_batch: int | None
    ):
        super().__init__(shared, name, local_rate, max_batch)
        self._shared = shared

    def take(self, max_wait: float) -> float | None:
        """Without awaiting, only a token of the current batch (the async drivers await
        :meth:`take_async`, which asks Redis for more)."""
        if self.take_local():
            return 0.0
        return None if self._shared.available else self.degraded(max_wait)

    async def take_async(self, max_wait: float) -> float | None:
        if self.take_local():
            return 0.0
        shared = self._shared
        shared._started()
        if not shared.available:
            return self.degraded(max_wait)
        keys, args = shared._bucket_args(self, max_wait)
        try:
            reply = await shared._bucket_script(keys=keys, args=args)
        except _ERRORS as exc:
            shared.mark_down(exc)
            return self.degraded(max_wait)
        return _granted(self, reply)


class SharedState(_Shared):
    """Breakers, limiters and retry budgets shared through Redis (redis-py, threads).

    ``redis`` is a URL (a client with ``timeout``-second socket timeouts and no retries is
    made, so a stalled Redis fails fast) or a ``redis.Redis`` that must have a socket
    timeout. ``refresh``: seconds between syncs, the staleness of the fleet view. ``fail``:
    :class:`FailMode` (``"open"`` or ``"closed"``) while Redis is unreachable; the switch,
    and the way back, are :class:`SharedStateUnavailable` and :class:`SharedStateRestored`
    events (``on_event``). ``background=False`` leaves syncing to explicit :meth:`sync`
    calls (tests, simulations).
    """

    __slots__ = ("__weakref__", "_stop", "_thread", "_wake")

    def __init__(self, redis: str | Any, **options: Unpack[SharedOptions]) -> None:
        super().__init__(redis, **options)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        _fork.track(self)

    @staticmethod
    def _connect(url: str, timeout: float) -> Any:
        return redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )

    def sync(self) -> None:
        """One round trip: flush this process's counts, fetch the fleet's, adopt states."""
        plan, calls = self._plan()
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args in calls:
            script(keys=keys, args=args, client=pipe)
        if not calls:
            pipe.ping()
        try:
            replies = pipe.execute()
        except _ERRORS as exc:
            self._failed(plan, exc)
            return
        self.mark_up()
        self._apply(plan, replies)

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop the syncer (after one last flush) and close a client made from a URL."""
        _fork.untrack(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5 * self.refresh + 1.0)
            self._thread = None
        self.sync()
        if self._owned:
            self._client.close()

    def __enter__(self) -> SharedState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _bucket(self, name: str, local_rate: float | None, max_batch: int | None) -> SharedBucket:
        return _SyncBucket(self, name, local_rate, max_batch)

    def _started(self) -> None:
        if self._background and self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(
                target=self._loop, name=f"faultwise-{self.name}", daemon=True
            )
            self._thread.start()

    def _forked(self) -> None:
        """In a forked child (gunicorn ``--preload`` makes the state before forking its
        workers): the parent's syncer thread is not here, so start this process's own, from
        nothing pending; redis-py opens the child's own connections by itself."""
        running = self._thread is not None and not self._stop.is_set()
        self._stop, self._wake, self._thread = threading.Event(), threading.Event(), None
        for participant in self.participants:
            participant.forked()
        if running:
            self._started()

    def _loop(self) -> None:
        now = time.monotonic
        tick = now()
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception as exc:  # a bug must not kill the syncer silently
                self.mark_down(exc)
            tick = max(tick + self.refresh, now())  # a fixed rate: the sync's time included
            self._wake.wait(tick - now())
            self._wake.clear()


class AsyncSharedState(_Shared):
    """The asyncio twin of :class:`SharedState` (redis.asyncio; the syncer is a task).

    The syncer starts with the first strategy made inside a running event loop, or with the
    first awaited rate-limiter call, or with :meth:`start`; :meth:`aclose` stops it.
    """

    __slots__ = ("_loop", "_task", "_wake")

    def __init__(self, redis: str | Any, **options: Unpack[SharedOptions]) -> None:
        super().__init__(redis, **options)
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @staticmethod
    def _connect(url: str, timeout: float) -> Any:
        return redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
        )

    async def sync(self) -> None:
        """One round trip: flush this process's counts, fetch the fleet's, adopt states."""
        plan, calls = self._plan()
        pipe = self._client.pipeline(transaction=False)
        for script, keys, args in calls:
            await script(keys=keys, args=args, client=pipe)  # queues: nothing is sent yet
        if not calls:
            pipe.ping()
        try:
            replies = await pipe.execute()
        except _ERRORS as exc:
            self._failed(plan, exc)
            return
        self.mark_up()
        self._apply(plan, replies)

    async def start(self) -> None:
        """Start the syncer in the running loop (idempotent)."""
        self._started()

    async def aclose(self) -> None:
        """Stop the syncer after one last flush, and close a client made from a URL."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sync()
        if self._owned:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncSharedState:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def wake(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _bucket(self, name: str, local_rate: float | None, max_batch: int | None) -> SharedBucket:
        return _AsyncBucket(self, name, local_rate, max_batch)

    def _started(self) -> None:
        if not self._background or self._task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: start() or the first awaited call starts it
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name=f"faultwise-{self.name}")

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        loop = asyncio.get_running_loop()
        tick = loop.time()
        while True:
            try:
                await self.sync()
            except Exception as exc:  # a bug must not kill the syncer silently
                self.mark_down(exc)
            tick = max(tick + self.refresh, loop.time())  # a fixed rate: the sync included
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), tick - loop.time())
            wake.clear()

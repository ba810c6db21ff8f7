"""Bulkhead: at most ``max_concurrent`` calls at once, a bounded queue, a bounded wait.

One slow dependency must not take every thread or task of the caller with it. The pure
interface is :meth:`Bulkhead.try_acquire` / :meth:`Bulkhead.release`; the drivers add waiting
(a FIFO queue of at most ``max_queue`` callers, each waiting at most ``max_wait`` seconds or
until the current deadline). Threads and asyncio tasks can share one bulkhead. A slot is
always given back: when the call ends, fails, or is cancelled, even while it waits.

>>> from faultwise.resilience import Bulkhead, Policy
>>> policy = Policy(Bulkhead(10, max_queue=20, max_wait=0.5))
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from faultwise.resilience._base import Event, Next, RejectedError, Strategy
from faultwise.resilience._deadline import remaining

__all__ = ["Bulkhead", "BulkheadConfig", "BulkheadFullError", "BulkheadRejected"]

W = TypeVar("W", "_ThreadWaiter", "_TaskWaiter")


@dataclass(frozen=True, slots=True)
class BulkheadConfig:
    """``max_concurrent`` calls, ``max_queue`` waiting callers, ``max_wait`` seconds each."""

    max_concurrent: int
    max_queue: int
    max_wait: float

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {self.max_concurrent!r}")
        if self.max_queue < 0:
            raise ValueError(f"max_queue must be >= 0, got {self.max_queue!r}")
        if not self.max_wait >= 0:
            raise ValueError(f"max_wait must be >= 0, got {self.max_wait!r}")


class Bulkhead(Strategy):
    """Limit concurrent calls. Defaults are resilience4j's: 25 concurrent, no waiting.

    With ``max_queue`` > 0 and ``max_wait`` > 0, up to ``max_queue`` callers wait in FIFO
    order, each for at most ``max_wait`` seconds (less when the deadline is sooner).
    """

    __slots__ = ("_active", "_lock", "_max", "_waiters", "config")
    kind: ClassVar[str] = "bulkhead"

    def __init__(
        self,
        max_concurrent: int = 25,
        *,
        max_queue: int = 0,
        max_wait: float = 0.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.config = BulkheadConfig(max_concurrent, max_queue, max_wait)
        self._max = max_concurrent
        self._lock = threading.Lock()
        self._active = 0
        self._waiters: deque[_ThreadWaiter | _TaskWaiter] = deque()

    @property
    def in_use(self) -> int:
        """Slots taken right now."""
        return self._active

    @property
    def queued(self) -> int:
        """Callers waiting for a slot."""
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a slot if one is free (never waits, never queues)."""
        return self._take()

    def release(self) -> None:
        """Give a slot back: to the first waiter in line, or to the pool."""
        lock = self._lock
        lock.acquire()  # (acquire/release rather than `with`: this is the hot path)
        try:
            waiters = self._waiters
            while waiters:
                if waiters.popleft().grant():
                    return  # the slot passed straight to a waiter
            self._active -= 1
        finally:
            lock.release()

    def _take(self) -> bool:
        """The fast path: take a free slot when nobody waits for one."""
        lock = self._lock
        lock.acquire()
        if self._active < self._max and not self._waiters:
            self._active += 1
            lock.release()
            return True
        lock.release()
        return False

    # -- waiting ----------------------------------------------------------------------------

    def _wait_budget(self) -> float:
        left = remaining()
        wait = self.config.max_wait
        return wait if left is None else max(min(wait, left), 0.0)

    def _take_or_queue(self, waiter: Callable[[], W]) -> W | None:
        """Take a slot (``None``) or join the queue as ``waiter()``; raises when full."""
        with self._lock:
            if self._active < self.config.max_concurrent and not self._waiters:
                self._active += 1
                return None
            if len(self._waiters) < self.config.max_queue and self._wait_budget() > 0:
                queued = waiter()
                self._waiters.append(queued)
                return queued
        raise self._rejected()

    def _abandon(self, waiter: _ThreadWaiter | _TaskWaiter) -> bool:
        """A waiter gives up; returns whether it had been granted a slot meanwhile."""
        with self._lock:
            if waiter.granted:
                return True
            if waiter in self._waiters:  # (an expired async waiter has left already)
                self._waiters.remove(waiter)
            return False

    def _rejected(self) -> BulkheadFullError:
        self._emit(BulkheadRejected(self.name, self._active, len(self._waiters)))
        return BulkheadFullError(f"{self.name}: bulkhead full", strategy=self.name)

    def acquire(self) -> None:
        """Take a slot, waiting in line if configured; raises :class:`BulkheadFullError`."""
        waiter = self._take_or_queue(_ThreadWaiter)
        if waiter is None:
            return
        waiter.wake.acquire(timeout=self._wait_budget())
        if not self._abandon(waiter):
            raise self._rejected()

    async def acquire_async(self) -> None:
        """Take a slot, awaiting in line if configured; a cancelled waiter leaves nothing."""
        loop = asyncio.get_running_loop()
        waiter = self._take_or_queue(lambda: _TaskWaiter(loop))
        if waiter is None:
            return
        # The wait ends by a grant or by this timer; no task cancellation is involved, so a
        # timeout cannot be confused with a cancellation from outside.
        timer = loop.call_later(self._wait_budget(), self._expire, waiter)
        try:
            await waiter.future
        except BaseException:
            if self._abandon(waiter):
                self.release()  # granted, then cancelled: pass the slot on
            raise
        finally:
            timer.cancel()
        if not waiter.granted:
            raise self._rejected()

    def _expire(self, waiter: _TaskWaiter) -> None:
        """The wait ran out: leave the queue unless a slot was granted meanwhile."""
        self._abandon(waiter)
        if not waiter.future.done():
            waiter.future.set_result(None)

    # -- drivers ----------------------------------------------------------------------------

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        if not self._take():
            self.acquire()
        try:
            return next(args, kwargs)
        finally:
            self.release()

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        if not self._take():
            await self.acquire_async()
        try:
            return await next(args, kwargs)
        finally:
            self.release()


class _ThreadWaiter:
    __slots__ = ("granted", "wake")

    def __init__(self) -> None:
        self.granted = False
        self.wake = threading.Lock()
        self.wake.acquire()

    def grant(self) -> bool:
        self.granted = True
        self.wake.release()
        return True


class _TaskWaiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.granted = False
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def grant(self) -> bool:
        if self.future.done():  # cancelled while queued: skip it
            return False
        self.granted = True
        self.loop.call_soon_threadsafe(self._wake)
        return True

    def _wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class BulkheadFullError(RejectedError):
    """No slot was free and the queue was full, or the wait ran out."""


@dataclass(frozen=True, slots=True)
class BulkheadRejected(Event):
    """A call was turned away with ``in_use`` slots taken and ``queued`` callers waiting."""

    kind: ClassVar[str] = "bulkhead"
    event: ClassVar[str] = "rejected"
    in_use: int
    queued: int

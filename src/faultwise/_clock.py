"""Time as a parameter.

Every strategy that reads time or sleeps takes a :class:`Clock`. Production code uses
:data:`SYSTEM_CLOCK`; tests use :class:`faultwise.testing.FakeClock`; the lab's simulation
drives the same objects in virtual time.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What faultwise needs from time: a monotonic reading, a wall clock, and two sleeps."""

    def now(self) -> float:
        """Monotonic time in seconds (only differences are meaningful)."""
        ...

    def wall_ns(self) -> int:
        """Wall-clock time in nanoseconds since the Unix epoch (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...

    async def sleep_async(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``time.time_ns``, ``time.sleep``, ``asyncio.sleep``."""

    __slots__ = ()

    now = staticmethod(time.monotonic)
    wall_ns = staticmethod(time.time_ns)

    @staticmethod
    def sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    @staticmethod
    async def sleep_async(seconds: float) -> None:
        # imported here so that importing faultwise does not import asyncio (start-up cost,
        # and coverage's --source=faultwise.resilience re-import trap)
        import asyncio

        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()

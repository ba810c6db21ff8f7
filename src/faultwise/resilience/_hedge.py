"""Hedging (asyncio): when a call is slow, start another; the first success wins.

After ``delay`` seconds without an answer a hedged attempt starts (at most ``max_hedges``);
a failed attempt starts the next one at once. The first success is returned and every
other attempt is cancelled; if all fail, the last error is raised. Hedging multiplies load
on a slow dependency, so keep it for idempotent reads and pair it with a budget or a
breaker. Defaults are Polly's: one extra attempt after 2 s.

>>> from faultwise.resilience import Hedge, Policy
>>> policy = Policy(Hedge(delay=0.05))
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise.resilience._base import Event, Next, Strategy

__all__ = ["Hedge", "HedgeConfig", "HedgeStarted"]


@dataclass(frozen=True, slots=True)
class HedgeConfig:
    """``delay`` seconds before each hedged attempt, at most ``max_hedges`` of them."""

    delay: float
    max_hedges: int

    def __post_init__(self) -> None:
        if not self.delay >= 0:
            raise ValueError(f"delay must be >= 0, got {self.delay!r}")
        if self.max_hedges < 1:
            raise ValueError(f"max_hedges must be >= 1, got {self.max_hedges!r}")


class Hedge(Strategy):
    """Start up to ``max_hedges`` extra attempts, ``delay`` s apart, first success wins."""

    __slots__ = ("config",)
    kind: ClassVar[str] = "hedge"

    def __init__(self, delay: float = 2.0, *, max_hedges: int = 1, name: str | None = None):
        super().__init__(name)
        self.config = HedgeConfig(delay, max_hedges)

    @property
    def supports_sync(self) -> bool:
        return False

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        async def attempt() -> Any:
            return await next(args, kwargs)

        running = {asyncio.ensure_future(attempt())}
        hedges = 0
        last_error: BaseException | None = None
        try:
            while running:
                wait = self.config.delay if hedges < self.config.max_hedges else None
                done, running = await asyncio.wait(
                    running, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    if task.exception() is None:
                        return task.result()
                    last_error = task.exception()
                if hedges < self.config.max_hedges:  # timed out, or an attempt failed
                    hedges += 1
                    self._emit(HedgeStarted(self.name, hedges + 1))
                    running.add(asyncio.ensure_future(attempt()))
            assert last_error is not None
            raise last_error
        finally:
            for task in running:
                task.cancel()


@dataclass(frozen=True, slots=True)
class HedgeStarted(Event):
    """Attempt number ``attempt`` (2 = the first hedge) was started."""

    kind: ClassVar[str] = "hedge"
    event: ClassVar[str] = "hedge"
    attempt: int

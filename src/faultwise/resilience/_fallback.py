"""Fallback: when the call fails, answer with something else.

``handler(error)`` gives the substitute result (``error`` is ``None`` when a result matched
``on_result``). An ``async def`` handler is awaited; a policy with one cannot run sync calls.

>>> from faultwise.resilience import Fallback, Policy
>>> policy = Policy(Fallback(lambda error: []))
>>> policy.run(lambda: 1 / 0)
[]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from faultwise.resilience._base import Event, Next, Strategy, type_name

__all__ = ["Fallback", "FallbackConfig", "FallbackUsed"]

ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class FallbackConfig:
    """The handler, the errors it covers, and an optional result predicate."""

    handler: Callable[[BaseException | None], Any]
    on: tuple[type[BaseException], ...]
    on_result: Callable[[Any], bool] | None


class Fallback(Strategy):
    """Replace a failure (an ``on`` error, default ``Exception``) with ``handler(error)``."""

    __slots__ = ("_async_handler", "config")
    kind: ClassVar[str] = "fallback"

    def __init__(
        self,
        handler: Callable[[BaseException | None], Any],
        *,
        on: ErrorTypes = Exception,
        on_result: Callable[[Any], bool] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.config = FallbackConfig(handler, on if isinstance(on, tuple) else (on,), on_result)
        self._async_handler = inspect.iscoroutinefunction(handler)

    @property
    def supports_sync(self) -> bool:
        return not self._async_handler

    def _used(self, error: BaseException | None) -> None:
        self._emit(FallbackUsed(self.name, None if error is None else type_name(error)))

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        try:
            result = next(args, kwargs)
        except self.config.on as exc:
            self._used(exc)
            return self.config.handler(exc)
        check = self.config.on_result
        if check is not None and check(result):
            self._used(None)
            return self.config.handler(None)
        return result

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        error: BaseException | None = None
        try:
            result = await next(args, kwargs)
        except self.config.on as exc:
            error = exc
        else:
            check = self.config.on_result
            if check is None or not check(result):
                return result
        self._used(error)
        substitute = self.config.handler(error)
        return await substitute if self._async_handler else substitute


@dataclass(frozen=True, slots=True)
class FallbackUsed(Event):
    """The fallback answered instead of the call (``error_type``: ``None`` for a result)."""

    kind: ClassVar[str] = "fallback"
    event: ClassVar[str] = "fallback"
    error_type: str | None

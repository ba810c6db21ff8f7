"""What every strategy shares: the error base, the event base, listeners, the strategy base.

A strategy is driven through two tiny methods, ``_run(next, args, kwargs)`` and its async twin.
``next`` runs the rest of the policy (inner strategies, then the user's function) with the
opaque ``args``/``kwargs`` pair; a strategy never looks inside them, so a policy packs the
arguments once at the entry and nobody copies them again.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = [
    "Event",
    "Listener",
    "RejectedError",
    "ResilienceError",
    "Strategy",
]

T = TypeVar("T")
Next = Callable[[Any, dict[str, Any]], Any]
"""The rest of the policy: ``next(args, kwargs)`` returns the result (or an awaitable)."""


class ResilienceError(Exception):
    """Base of every error raised by :mod:`faultwise.resilience` itself."""


class RejectedError(ResilienceError):
    """A strategy refused to start the call (the call was never made).

    ``strategy`` is the rejecting strategy's name; ``retry_after`` is a hint in seconds (when
    the strategy knows one, e.g. the rest of a breaker's open time) that a retry honours.
    """

    def __init__(self, message: str, *, strategy: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.strategy = strategy
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: ``strategy`` is the emitting strategy's name.

    ``kind`` (the strategy kind, e.g. ``"circuit_breaker"``) and ``event`` (a stable name such
    as ``"state_changed"``) are class constants, ready to be metric labels.
    """

    kind: ClassVar[str] = "strategy"
    event: ClassVar[str] = "event"
    strategy: str


Listener = Callable[[Event], object]
"""A function that receives events. It must be fast and must not raise."""


class Emitter:
    """Listener registry. Emitting iterates a tuple: no lock, no copy, nothing when empty."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: tuple[Listener, ...] = ()

    def on_event(self, listener: Listener) -> Callable[[], None]:
        """Deliver every event of this strategy to ``listener``; returns an unsubscribe function.

        >>> from faultwise.resilience import CircuitBreaker
        >>> seen = []
        >>> unsubscribe = CircuitBreaker().on_event(seen.append)
        """
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a broken metrics hook must never break the call
                warnings.warn(
                    f"faultwise event listener {listener!r} raised {exc!r}",
                    RuntimeWarning,
                    stacklevel=2,
                )


class Strategy(Emitter):
    """Base of every strategy: a name, listeners, and the two drivers ``_run``/``_run_async``.

    Use strategies through :class:`~faultwise.resilience.Policy`; ``call``/``call_async`` run
    one strategy alone.
    """

    __slots__ = ("name",)
    kind: ClassVar[str] = "strategy"

    def __init__(self, name: str | None) -> None:
        super().__init__()
        self.name = name if name is not None else self.kind

    @property
    def supports_sync(self) -> bool:
        """Whether the strategy can run synchronous calls (hedging, for one, cannot)."""
        return True

    def _run(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def _run_async(self, next: Next, args: Any, kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` through this strategy alone."""
        result: T = self._run(_invoke, (fn, args), kwargs)
        return result

    async def call_async(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` through this strategy alone."""
        result: T = await self._run_async(_invoke, (fn, args), kwargs)
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _invoke(payload: tuple[Callable[..., Any], tuple[Any, ...]], kwargs: dict[str, Any]) -> Any:
    fn, args = payload
    return fn(*args, **kwargs)


def type_name(error: BaseException) -> str:
    """A stable name for an error's type: ``ConnectionError``, ``httpx.ReadTimeout``."""
    cls = type(error)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"

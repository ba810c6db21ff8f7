"""Policy: strategies composed in order, first = outermost, as a decorator or a call.

The chain of strategies is built once (when the policy is made, or when a function is
decorated), and whether a function is async is decided then, not on every call. A call packs
its arguments once; each strategy passes the same tuple and dict inward, so the success path
allocates nothing beyond what the strategies themselves need.

>>> from faultwise.resilience import CircuitBreaker, Policy, Retry, Timeout
>>> policy = Policy(Timeout(2.0), Retry(attempts=3), CircuitBreaker())
>>> @policy
... def charge(order_id: int) -> str:
...     return f"charged {order_id}"
>>> charge(7)
'charged 7'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

from faultwise.resilience._base import Listener, Next, Strategy, _invoke

__all__ = ["Policy"]

P = ParamSpec("P")
T = TypeVar("T")


def _chain(strategies: tuple[Strategy, ...], innermost: Next, *, is_async: bool) -> Next:
    next = innermost
    for strategy in reversed(strategies):
        next = functools.partial(strategy._run_async if is_async else strategy._run, next)
    return next


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` returns a coroutine (functions, partials, callable objects)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 (an object with an async __call__)
    )


class Policy:
    """Strategies applied in order, the first outermost.

    Use it as a decorator (a sync function stays sync, an ``async def`` gets an async
    wrapper, and both keep their signatures for type checkers) or call through it with
    :meth:`run` and :meth:`run_async`. A strategy object can sit in many policies: its state
    (a breaker's window, a bulkhead's slots) is then shared.
    """

    __slots__ = ("_async_only", "_run_async_chain", "_run_chain", "name", "strategies")

    def __init__(self, *strategies: Strategy, name: str = "policy") -> None:
        for strategy in strategies:
            if not isinstance(strategy, Strategy):
                raise TypeError(f"Policy takes strategies, got {strategy!r}")
        self.name = name
        self.strategies = strategies
        self._async_only = next((s for s in strategies if not s.supports_sync), None)
        self._run_chain = _chain(strategies, _invoke, is_async=False)
        self._run_async_chain = _chain(strategies, _invoke, is_async=True)

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate ``fn``: every call to it goes through the policy."""

        def invoke(args: Any, kwargs: dict[str, Any]) -> Any:
            return fn(*args, **kwargs)

        if is_async_callable(fn):
            chain = _chain(self.strategies, invoke, is_async=True)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await chain(args, kwargs)

            return async_wrapper
        self._check_sync()
        chain = _chain(self.strategies, invoke, is_async=False)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return chain(args, kwargs)

        return wrapper

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` through the policy."""
        self._check_sync()
        result: T = self._run_chain((fn, args), kwargs)
        return result

    async def run_async(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``fn(*args, **kwargs)`` through the policy."""
        result: T = await self._run_async_chain((fn, args), kwargs)
        return result

    def on_event(self, listener: Listener) -> Callable[[], None]:
        """Send every strategy's events to ``listener``; returns an unsubscribe function."""
        unsubscribes = [strategy.on_event(listener) for strategy in self.strategies]

        def unsubscribe() -> None:
            for undo in unsubscribes:
                undo()

        return unsubscribe

    def _check_sync(self) -> None:
        if self._async_only is not None:
            raise TypeError(f"{self._async_only!r} works only with async functions (run_async)")

    def __repr__(self) -> str:
        inner = ", ".join(repr(s) for s in self.strategies)
        return f"Policy({inner})"

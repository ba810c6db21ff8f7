"""Resilience state shared by many processes through Redis: one circuit breaker, one token
bucket, one retry budget for a whole fleet.

>>> from faultwise.resilience.shared import SharedState
>>> shared = SharedState("redis://127.0.0.1:6379/0", fail="open")  # doctest: +SKIP
>>> breaker = shared.circuit_breaker("payments", failure_rate=0.5)  # doctest: +SKIP

The strategies are the usual :class:`~faultwise.resilience.CircuitBreaker`,
:class:`~faultwise.resilience.RateLimiter` and :class:`~faultwise.resilience.RetryBudget`,
with stores that keep the fleet's state in Redis and the hot path in the process.
:class:`AsyncSharedState` is the redis.asyncio twin. Needs the ``redis`` extra.
"""

from faultwise.resilience.shared._local import (
    FailMode,
    SharedStateRestored,
    SharedStateUnavailable,
)
from faultwise.resilience.shared._redis import AsyncSharedState, SharedState

__all__ = [
    "AsyncSharedState",
    "FailMode",
    "SharedState",
    "SharedStateRestored",
    "SharedStateUnavailable",
]

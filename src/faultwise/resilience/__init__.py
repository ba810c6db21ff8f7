"""Defend: resilience strategies composed into a policy, sync and asyncio.

>>> from faultwise.resilience import CircuitBreaker, Policy, Retry, Timeout, full_jitter
>>> policy = Policy(
...     Timeout(2.0),
...     Retry(attempts=3, backoff=full_jitter(0.1, cap=2.0)),
...     CircuitBreaker(),
... )

Every strategy is a small state machine (``decide``, ``try_acquire``/``on_success``/
``on_failure``/``release``) with thin sync and async drivers; time and randomness are
injected; every state change, retry, rejection and fallback is an :class:`Event` delivered to
listeners registered with ``on_event``.
"""

from faultwise.resilience._backoff import (
    Backoff,
    ConstantBackoff,
    DecorrelatedBackoff,
    ExponentialBackoff,
    Jitter,
    LinearBackoff,
    SumBackoff,
    equal_jitter,
    full_jitter,
)
from faultwise.resilience._base import Event, Listener, RejectedError, ResilienceError, Strategy
from faultwise.resilience._bulkhead import (
    Bulkhead,
    BulkheadConfig,
    BulkheadFullError,
    BulkheadRejected,
)
from faultwise.resilience._circuit_breaker import (
    BreakerRejected,
    BreakerSnapshot,
    BreakerStateChanged,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
    Permit,
)
from faultwise.resilience._concurrency_limit import (
    AIMDLimit,
    ConcurrencyLimit,
    ConcurrencyLimitConfig,
    ConcurrencyLimited,
    ConcurrencyLimitError,
    Gradient2Limit,
    LimitAlgorithm,
    LimitChanged,
)
from faultwise.resilience._deadline import (
    DEADLINE_HEADER,
    Deadline,
    current_deadline,
    deadline,
    deadline_from_headers,
    deadline_to_headers,
    remaining,
)
from faultwise.resilience._fallback import Fallback, FallbackConfig, FallbackUsed
from faultwise.resilience._hedge import Hedge, HedgeConfig, HedgeStarted
from faultwise.resilience._policy import Policy
from faultwise.resilience._rate_limiter import (
    RateLimited,
    RateLimitedError,
    RateLimiter,
    RateLimiterConfig,
)
from faultwise.resilience._retry import (
    Retry,
    RetryConfig,
    RetryGaveUp,
    RetryScheduled,
    StopReason,
)
from faultwise.resilience._retry_budget import BudgetExhaustedError, RetryBudget, RetryBudgetConfig
from faultwise.resilience._stores import CountWindow, TimeWindow, WindowCounts
from faultwise.resilience._throttle import (
    AdaptiveThrottle,
    AdaptiveThrottleConfig,
    Throttled,
    ThrottledError,
)
from faultwise.resilience._timeout import TimedOut, Timeout, TimeoutConfig, TimeoutExceeded

__all__ = [
    "DEADLINE_HEADER",
    "AIMDLimit",
    "AdaptiveThrottle",
    "AdaptiveThrottleConfig",
    "Backoff",
    "BreakerRejected",
    "BreakerSnapshot",
    "BreakerStateChanged",
    "BudgetExhaustedError",
    "Bulkhead",
    "BulkheadConfig",
    "BulkheadFullError",
    "BulkheadRejected",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "CircuitState",
    "ConcurrencyLimit",
    "ConcurrencyLimitConfig",
    "ConcurrencyLimitError",
    "ConcurrencyLimited",
    "ConstantBackoff",
    "CountWindow",
    "Deadline",
    "DecorrelatedBackoff",
    "Event",
    "ExponentialBackoff",
    "Fallback",
    "FallbackConfig",
    "FallbackUsed",
    "Gradient2Limit",
    "Hedge",
    "HedgeConfig",
    "HedgeStarted",
    "Jitter",
    "LimitAlgorithm",
    "LimitChanged",
    "LinearBackoff",
    "Listener",
    "Permit",
    "Policy",
    "RateLimited",
    "RateLimitedError",
    "RateLimiter",
    "RateLimiterConfig",
    "RejectedError",
    "ResilienceError",
    "Retry",
    "RetryBudget",
    "RetryBudgetConfig",
    "RetryConfig",
    "RetryGaveUp",
    "RetryScheduled",
    "StopReason",
    "Strategy",
    "SumBackoff",
    "Throttled",
    "ThrottledError",
    "TimeWindow",
    "TimedOut",
    "Timeout",
    "TimeoutConfig",
    "TimeoutExceeded",
    "WindowCounts",
    "current_deadline",
    "deadline",
    "deadline_from_headers",
    "deadline_to_headers",
    "equal_jitter",
    "full_jitter",
    "remaining",
]

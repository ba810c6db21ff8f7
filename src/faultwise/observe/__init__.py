"""Minimum viable observability: context, JSON logs, metrics, health, pools and clients.

>>> from faultwise.observe import ObserveMiddleware, configure_logging
>>> configure_logging("checkout")                   # doctest: +SKIP
>>> app.add_middleware(ObserveMiddleware)           # doctest: +SKIP

Needs the ``observe`` extra (prometheus-client, orjson): ``pip install 'faultwise[observe]'``.
"""

from faultwise._errors import require as _require

_require("prometheus_client", "observe")
_require("orjson", "observe")

from faultwise.observe._clients import (  # noqa: E402
    AsyncObservedTransport,
    ObservedAdapter,
    ObservedTransport,
    instrument_session,
)
from faultwise.observe._context import (  # noqa: E402
    ContextThreadPoolExecutor,
    RequestContext,
    current,
    new_context,
    outgoing_headers,
    parse_traceparent,
    request_context,
    wrap,
)
from faultwise.observe._events import ResilienceListener  # noqa: E402
from faultwise.observe._health import (  # noqa: E402
    Check,
    CheckResult,
    Health,
    HealthReport,
    HealthStatus,
    callable_check,
    http_check,
    postgres_check,
    rabbitmq_check,
    redis_check,
    sqlalchemy_check,
)
from faultwise.observe._logging import (  # noqa: E402
    JsonFormatter,
    JsonHandler,
    ObservedLogger,
    ObservedLogRecord,
    StructlogRenderer,
    configure_logging,
)
from faultwise.observe._metrics import (  # noqa: E402
    DB_BUCKETS,
    HTTP_BUCKETS,
    mark_process_dead,
    scrape_registry,
)
from faultwise.observe._pools import PoolPinned, PoolReleased, PoolState, PoolWatch  # noqa: E402
from faultwise.observe.asgi import ObserveMiddleware, starlette_route  # noqa: E402
from faultwise.observe.wsgi import ObserveWSGIMiddleware, instrument_flask  # noqa: E402

__all__ = [
    "DB_BUCKETS",
    "HTTP_BUCKETS",
    "AsyncObservedTransport",
    "Check",
    "CheckResult",
    "ContextThreadPoolExecutor",
    "Health",
    "HealthReport",
    "HealthStatus",
    "JsonFormatter",
    "JsonHandler",
    "ObserveMiddleware",
    "ObserveWSGIMiddleware",
    "ObservedAdapter",
    "ObservedLogRecord",
    "ObservedLogger",
    "ObservedTransport",
    "PoolPinned",
    "PoolReleased",
    "PoolState",
    "PoolWatch",
    "RequestContext",
    "ResilienceListener",
    "StructlogRenderer",
    "callable_check",
    "configure_logging",
    "current",
    "http_check",
    "instrument_flask",
    "instrument_session",
    "mark_process_dead",
    "new_context",
    "outgoing_headers",
    "parse_traceparent",
    "postgres_check",
    "rabbitmq_check",
    "redis_check",
    "request_context",
    "scrape_registry",
    "sqlalchemy_check",
    "starlette_route",
    "wrap",
]

"""Minimum viable observability: context, JSON logs, metrics, health, pools and clients.

>>> from faultwise.observe import ObserveMiddleware, configure_logging
>>> configure_logging("checkout")                   # doctest: +SKIP
>>> app.add_middleware(ObserveMiddleware)           # doctest: +SKIP

Needs the ``observe`` extra (prometheus-client, orjson): ``pip install 'faultwise[observe]'``.
"""

from faultwise._errors import require as _require

_require("prometheus_client", "observe")
_require("orjson", "observe")

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
from faultwise.observe._logging import (  # noqa: E402
    JsonFormatter,
    JsonHandler,
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
from faultwise.observe.asgi import ObserveMiddleware, starlette_route  # noqa: E402

__all__ = [
    "DB_BUCKETS",
    "HTTP_BUCKETS",
    "ContextThreadPoolExecutor",
    "JsonFormatter",
    "JsonHandler",
    "ObserveMiddleware",
    "ObservedLogRecord",
    "RequestContext",
    "StructlogRenderer",
    "configure_logging",
    "current",
    "mark_process_dead",
    "new_context",
    "outgoing_headers",
    "parse_traceparent",
    "request_context",
    "scrape_registry",
    "starlette_route",
    "wrap",
]

"""What the ASGI and WSGI middlewares share: start a request, finish it.

``start`` reads the incoming ids into a :class:`RequestContext` and makes it current;
``finish`` records the duration, counts errors and writes the access-log line. The two
adapters only translate their protocol's headers, status and route into these calls.
"""

from __future__ import annotations

import logging
from contextvars import Token
from typing import Final

from prometheus_client import CollectorRegistry

from faultwise.observe import _context
from faultwise.observe._logging import ObservedLogRecord
from faultwise.observe._metrics import HttpServerMetrics, metric_set, normalize_method

__all__ = ["ACCESS_LOGGER", "Observer"]

ACCESS_LOGGER: Final = "faultwise.access"
UNMATCHED_ROUTE: Final = ""  # Prometheus' spelling of "no http.route": never the raw path


class Observer:
    """Per-request bookkeeping shared by :class:`ObserveMiddleware` and its WSGI twin."""

    __slots__ = ("_access", "_active", "_metrics", "_sampled")

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None,
        access_log: bool | logging.Logger,
        sampled: bool,
    ) -> None:
        self._metrics = metric_set(HttpServerMetrics, registry)
        self._active = self._metrics.active
        if access_log is True:
            access_log = logging.getLogger(ACCESS_LOGGER)
        self._access: logging.Logger | None = access_log or None
        self._sampled = sampled

    def start(
        self, request_id: str | None, traceparent: str | None, tracestate: str | None
    ) -> tuple[_context.RequestContext, Token[_context.RequestContext | None]]:
        ctx = _context.new_context(
            request_id=request_id,
            traceparent=traceparent,
            tracestate=tracestate,
            sampled=self._sampled,
        )
        self._active.inc()
        return ctx, _context.current_var.set(ctx)

    def finish(  # noqa: PLR0917  (positional: the per-request path)
        self,
        token: Token[_context.RequestContext | None],
        method: str,
        path: str,
        route: str,
        status: int,
        seconds: float,
        client: str | None,
        error: BaseException | None,
    ) -> None:
        self._active.dec()
        method = normalize_method(method)
        self._metrics.duration_child(method, route, status).observe(seconds)
        if error is not None or status >= 500:
            error_type = type(error).__qualname__ if error is not None else str(status)
            self._metrics.errors.labels(method, route, error_type).inc()
        access = self._access
        if access is not None:
            level = logging.ERROR if status >= 500 or error is not None else logging.INFO
            if access.isEnabledFor(level):
                self._log(access, level, method, path, route, status, seconds, client, error)
        try:
            _context.current_var.reset(token)
        except ValueError:  # finished in another context (a WSGI iterable closed elsewhere)
            _context.current_var.set(None)

    @staticmethod
    def _log(  # noqa: PLR0917
        logger: logging.Logger,
        level: int,
        method: str,
        path: str,
        route: str,
        status: int,
        seconds: float,
        client: str | None,
        error: BaseException | None,
    ) -> None:
        # Build the record directly: no findCaller frame walk, no record factory indirection.
        record = ObservedLogRecord(
            logger.name, level, __file__, 0, f"{method} {path} {status}", None, None, "access"
        )
        attrs = record.__dict__
        attrs["http.request.method"] = method
        attrs["url.path"] = path
        attrs["http.route"] = route
        attrs["http.response.status_code"] = status
        attrs["http.server.request.duration"] = seconds
        if client is not None:
            attrs["client.address"] = client
        if error is not None:
            attrs["error.type"] = type(error).__qualname__
        logger.handle(record)

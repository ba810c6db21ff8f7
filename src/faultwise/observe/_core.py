"""What the ASGI and WSGI middlewares share: start a request, finish it.

``start`` reads the incoming ids into a :class:`RequestContext` and makes it current;
``finish`` records the duration, counts errors and writes the access-log line. The two
adapters only translate their protocol's headers, status and route into these calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, suppress
from contextvars import Token
from typing import Any, Final, Generic, TypeVar

import orjson
from prometheus_client import CollectorRegistry

from faultwise.observe import _context
from faultwise.observe._context import current_var
from faultwise.observe._logging import (
    LEVEL_NAMES,
    json_handlers,
    log_event,
    rfc3339_ns,
    thread_name,
    thread_names,
    write_failed,
)
from faultwise.observe._metrics import (
    KNOWN_METHODS,
    HttpServerMetrics,
    metric_set,
    scrape_registry,
)
from faultwise.resilience import DEADLINE_HEADER, deadline, deadline_from_headers

__all__ = ["ACCESS_LOGGER", "MiddlewareBase", "Observer"]

ACCESS_LOGGER: Final = "faultwise.access"
UNMATCHED_ROUTE: Final = ""  # Prometheus' spelling of "no http.route": never the raw path
_INFO: Final = logging.INFO
_ERROR: Final = logging.ERROR
_dumps: Final = orjson.dumps  # bound once: looked up as globals on the per-request path
_NEWLINE: Final = orjson.OPT_APPEND_NEWLINE
_time_ns: Final = time.time_ns


class Observer:
    """Per-request bookkeeping shared by :class:`ObserveMiddleware` and its WSGI twin."""

    __slots__ = ("_access", "_enter", "_leave", "_metrics", "_observers", "_sampled")

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None,
        access_log: bool | logging.Logger,
        sampled: bool,
    ) -> None:
        self._metrics = metric_set(HttpServerMetrics, registry)
        self._observers = self._metrics.observers
        self._enter = self._metrics.enter
        self._leave = self._metrics.leave
        if access_log is True:
            access_log = logging.getLogger(ACCESS_LOGGER)
        self._access: logging.Logger | None = access_log or None
        self._sampled = sampled

    def start(
        self, request_id: str | None, traceparent: str | None, tracestate: str | None
    ) -> tuple[_context.RequestContext, Token[_context.RequestContext | None]]:
        ctx = _context.make_context(request_id, traceparent, tracestate, self._sampled)
        self._enter()
        return ctx, current_var.set(ctx)

    @staticmethod
    def enter_deadline(timeout_ms: str) -> AbstractContextManager[object] | None:
        """Make the caller's remaining budget (``x-request-timeout-ms``) this request's
        :func:`faultwise.resilience.deadline`; None when the header is malformed."""
        seconds = deadline_from_headers({DEADLINE_HEADER: timeout_ms})
        if seconds is None:
            return None
        scope = deadline(seconds)
        scope.__enter__()
        return scope

    @staticmethod
    def exit_deadline(scope: AbstractContextManager[object]) -> None:
        # ValueError: exited in another context (a WSGI iterable closed elsewhere)
        with suppress(ValueError):
            scope.__exit__(None, None, None)

    def finish(  # noqa: PLR0917  (positional: the per-request path)
        self,
        ctx: _context.RequestContext,
        token: Token[_context.RequestContext | None],
        method: str,
        path: str,
        route: str,
        status: int,
        seconds: float,
        client: str | None,
        error: BaseException | None,
    ) -> None:
        self._leave()
        if method not in KNOWN_METHODS:
            method = "_OTHER"
        observe = self._observers.get((method, route, status))
        if observe is None:
            observe = self._metrics.observer(method, route, status)
        observe(seconds)
        level = _INFO
        if error is not None or status >= 500:
            level = _ERROR
            error_type = type(error).__qualname__ if error is not None else str(status)
            self._metrics.errors.labels(method, route, error_type).inc()
        access = self._access
        if access is not None and access.isEnabledFor(level):
            handlers = json_handlers(access, level)
            message = f"{method} {path} {status}"
            if handlers is None:  # any other handler: a record, through logging
                attrs = {
                    "http.request.method": method,
                    "url.path": path,
                    "http.route": route,
                    "http.response.status_code": status,
                    "http.server.request.duration": seconds,
                }
                if client is not None:
                    attrs["client.address"] = client
                if error is not None:
                    attrs["error.type"] = type(error).__qualname__
                log_event(access, level, message, attrs)
            else:  # JSON handlers: the line built here in one go (the ids are the request's)
                # The attributes are spelled out again, not merged from a dict like the one
                # above: one dict fewer per request. test_any_other_access_handler_gets_a_
                # record_with_the_same_fields keeps the two paths' fields equal.
                timestamp = rfc3339_ns(_time_ns())
                try:
                    thread: str = thread_names.name  # thread_name() inlined
                except AttributeError:
                    thread = thread_name()
                severity, name = LEVEL_NAMES[level], access.name
                for handler in handlers:
                    fields = handler.formatter._fields  # type: ignore[union-attr]
                    out = {
                        "timestamp": timestamp,
                        "severity": severity,
                        "message": message,
                        "service": fields.service,
                        "logger": name,
                        "trace_id": ctx[1],
                        "span_id": ctx[2],
                        "request_id": ctx[0],
                        "thread": thread,
                        "http.request.method": method,
                        "url.path": path,
                        "http.route": route,
                        "http.response.status_code": status,
                        "http.server.request.duration": seconds,
                    }
                    if client is not None:
                        out["client.address"] = client
                    if error is not None:
                        out["error.type"] = type(error).__qualname__
                    if fields.static:
                        out.update(fields.static)
                    try:
                        handler.stream.write(_dumps(out, option=_NEWLINE))
                    except Exception:
                        write_failed(handler, name, level, message)
        try:
            current_var.reset(token)
        except ValueError:  # finished in another context (a WSGI iterable closed elsewhere)
            current_var.set(None)


A = TypeVar("A")  # the app type: an ASGI or a WSGI callable
R = TypeVar("R")  # what a route is read from: an ASGI scope or a WSGI environ


class MiddlewareBase(Generic[A, R]):
    """The options and endpoints the ASGI and WSGI middlewares share."""

    def __init__(
        self,
        app: A,
        *,
        registry: CollectorRegistry | None = None,
        metrics_path: str | None = "/metrics",
        health: Any = None,
        exclude_paths: Iterable[str] = (),
        access_log: bool | logging.Logger = True,
        route: Callable[[R], str] | None = None,
        sampled: bool = True,
        traceresponse: bool = False,
    ) -> None:
        self.app = app
        self._traceresponse = traceresponse
        self._observer = Observer(registry=registry, access_log=access_log, sampled=sampled)
        self._route: Callable[[R], str] = route if route is not None else self._default_route
        endpoints: dict[str, A] = dict.fromkeys(exclude_paths, app)
        if metrics_path:
            endpoints[metrics_path] = self._metrics_app(scrape_registry(registry))
        if health is not None:
            endpoints.update(self._health_endpoints(health))
        self._endpoints = endpoints

    @staticmethod
    def _default_route(request: R, /) -> str:
        raise NotImplementedError

    @staticmethod
    def _metrics_app(registry: CollectorRegistry) -> A:
        raise NotImplementedError

    @staticmethod
    def _health_endpoints(health: Any) -> dict[str, A]:
        raise NotImplementedError

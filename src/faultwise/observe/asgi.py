"""Pure ASGI middleware: request and trace ids, metrics, an access log, /metrics and health.

>>> app.add_middleware(ObserveMiddleware, health=Health(postgres_check(DSN)))  # doctest: +SKIP

A plain class with ``__init__(app, ...)`` and ``async __call__(scope, receive, send)``: no
``BaseHTTPMiddleware`` (which costs ~100 µs a request and breaks contextvars and streaming).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app

from faultwise.observe._core import UNMATCHED_ROUTE, Observer
from faultwise.observe._metrics import scrape_registry

__all__ = ["ASGIApp", "ObserveMiddleware", "starlette_route"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_templates: dict[int, tuple[object, str]] = {}


def _find_template(routes: Iterable[Any], target: object, prefix: str) -> str | None:
    for route in routes:
        if route is target:
            return prefix + str(getattr(route, "path", ""))
        children = getattr(route, "routes", None)
        if children:
            found = _find_template(children, target, prefix + str(getattr(route, "path", "")))
            if found is not None:
                return found
    return None


def starlette_route(scope: Scope) -> str:
    """The route template Starlette or FastAPI matched (``/items/{item_id}``), mounts included.

    Starlette's router stores the matched route in ``scope["route"]``; under a ``Mount`` the
    inner route replaces the outer one, so the full template is found once by walking the
    top-level router and cached per route object.
    """
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    cached = _templates.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    router = scope.get("router")
    template = _find_template(getattr(router, "routes", ()), route, "") if router else None
    if template is None:
        template = str(getattr(route, "path", UNMATCHED_ROUTE))
    _templates[id(route)] = (route, template)
    return template


class ObserveMiddleware:
    """Observe every HTTP request of an ASGI app.

    Per request: a deadline from ``x-request-timeout-ms`` (the caller's remaining budget) is
    made current for :mod:`faultwise.resilience` (``remaining()``, timeouts, outgoing calls); the
    request id (an incoming ``X-Request-ID``, else the trace id) and W3C trace
    context are made current for logs and outgoing calls; the request id is returned in
    ``x-request-id`` (and, with ``traceresponse=True``, this request's span in W3C's draft
    ``traceresponse`` header); ``http_server_request_duration_seconds`` is recorded by method, route
    template and status; 5xx responses and exceptions count in
    ``http_server_request_errors_total``; one access-log line goes to the ``faultwise.access``
    logger. ``metrics_path`` serves Prometheus metrics; with a ``health``, ``/livez`` and
    ``/readyz`` answer probes. Those endpoints and ``exclude_paths`` stay out of the request
    metrics and the access log.

    ``route`` maps a finished request's scope to its route template (default: Starlette and
    FastAPI). ``sampled`` is the sampled flag of traces this service starts.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        metrics_path: str | None = "/metrics",
        health: Any = None,
        exclude_paths: Iterable[str] = (),
        access_log: bool | logging.Logger = True,
        route: Callable[[Scope], str] = starlette_route,
        sampled: bool = True,
        traceresponse: bool = False,
    ) -> None:
        self.app = app
        self._traceresponse = traceresponse
        self._observer = Observer(registry=registry, access_log=access_log, sampled=sampled)
        self._route = route
        endpoints: dict[str, ASGIApp] = dict.fromkeys(exclude_paths, app)
        if metrics_path:
            endpoints[metrics_path] = make_asgi_app(scrape_registry(registry))
        if health is not None:
            endpoints.update(health.asgi_endpoints())
        self._endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        endpoint = self._endpoints.get(path)
        if endpoint is not None:
            await endpoint(scope, receive, send)
            return
        request_id = traceparent = tracestate = timeout_ms = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
            elif name == b"x-request-timeout-ms":
                timeout_ms = value.decode("latin-1")
        ctx, token = self._observer.start(request_id, traceparent, tracestate)
        budget = self._observer.enter_deadline(timeout_ms) if timeout_ms is not None else None
        extra_headers = [(b"x-request-id", ctx[0].encode())]
        if self._traceresponse:
            extra_headers.append((b"traceresponse", ctx.traceparent.encode()))
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        error: BaseException | None = None
        started = perf_counter()
        try:
            await self.app(scope, receive, send_observed)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if budget is not None:
                self._observer.exit_deadline(budget)
            client = scope.get("client")
            self._observer.finish(
                token,
                scope["method"],
                path,
                self._route(scope),
                status,
                perf_counter() - started,
                client[0] if client else None,
                error,
            )

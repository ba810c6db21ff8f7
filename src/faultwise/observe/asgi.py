"""Pure ASGI middleware: request and trace ids, metrics, an access log, /metrics and health.

>>> app.add_middleware(ObserveMiddleware, health=Health(postgres_check(DSN)))  # doctest: +SKIP

A plain class with ``__init__(app, ...)`` and ``async __call__(scope, receive, send)``: no
``BaseHTTPMiddleware`` (which costs ~100 µs a request and breaks contextvars and streaming).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import Any, Final

from prometheus_client import make_asgi_app

from faultwise.observe._core import UNMATCHED_ROUTE, MiddlewareBase

__all__ = ["ASGIApp", "ObserveMiddleware", "starlette_route"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_templates: dict[int, tuple[object, str]] = {}
_READ: Final = frozenset((b"traceparent", b"x-request-id", b"tracestate", b"x-request-timeout-ms"))


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


class ObserveMiddleware(MiddlewareBase[ASGIApp, Scope]):
    """Observe every HTTP request of an ASGI app.

    Per request: the request id (an incoming ``X-Request-ID``, else the trace id) and the W3C
    trace context are made current for logs and outgoing calls, and the request id is returned
    in ``x-request-id`` (with ``traceresponse=True``, also this request's span in W3C's draft
    ``traceresponse`` header); ``x-request-timeout-ms`` becomes the request's
    :func:`faultwise.resilience.deadline`; ``http_server_request_duration_seconds`` is
    recorded by method, route template and status; 5xx responses and exceptions count in
    ``http_server_request_errors_total``; one access line goes to the ``faultwise.access``
    logger.

    Options: ``registry`` (default prometheus_client's), ``metrics_path`` (``/metrics``;
    None to serve none), ``health`` (a :class:`Health`: ``/livez`` and ``/readyz``),
    ``exclude_paths`` (passed straight to the app), ``access_log`` (False, or a logger),
    ``route`` (scope -> route template; default Starlette and FastAPI), ``sampled`` (the flag
    of traces this service starts). The endpoints and excluded paths stay out of the request
    metrics and the access log.
    """

    _default_route = staticmethod(starlette_route)

    _metrics_app = staticmethod(make_asgi_app)

    @staticmethod
    def _health_endpoints(health: Any) -> dict[str, ASGIApp]:
        endpoints: dict[str, ASGIApp] = health.asgi_endpoints()
        return endpoints

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
            if name not in _READ:  # most headers: one set lookup, not four comparisons
                continue
            if name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"tracestate":
                tracestate = value.decode("latin-1")
            else:
                timeout_ms = value.decode("latin-1")
        observer = self._observer
        ctx, token = observer.start(request_id, traceparent, tracestate)
        budget = observer.enter_deadline(timeout_ms) if timeout_ms is not None else None
        request_header = (b"x-request-id", ctx[0].encode())
        trace_header = (b"traceresponse", ctx.traceparent.encode()) if self._traceresponse else None
        status = 500

        def send_observed(message: Message) -> Awaitable[None]:
            # a plain function handing back the server's own awaitable: no coroutine of its
            # own per message, and the app awaits (or schedules) exactly what it would have
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), request_header]  # a copy: never the app's
                if trace_header is not None:
                    headers.append(trace_header)
                message["headers"] = headers
            return send(message)

        error: BaseException | None = None
        started = perf_counter()
        try:
            await self.app(scope, receive, send_observed)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if budget is not None:
                observer.exit_deadline(budget)
            client = scope.get("client")
            observer.finish(
                ctx,
                token,
                scope["method"],
                path,
                self._route(scope),
                status,
                perf_counter() - started,
                client[0] if client else None,
                error,
            )

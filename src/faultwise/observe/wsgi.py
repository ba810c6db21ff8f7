"""The WSGI twin of :class:`~faultwise.observe.ObserveMiddleware`, and Flask in one call.

>>> instrument_flask(app, health=Health(postgres_check(DSN)))  # doctest: +SKIP

A request ends when its response iterable is exhausted or closed, whichever comes first, so
streamed bodies are timed to their last byte and the request context stays current while the
body is produced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from prometheus_client import make_wsgi_app

from faultwise.observe._core import UNMATCHED_ROUTE, MiddlewareBase

__all__ = ["ROUTE_KEY", "ObserveWSGIMiddleware", "instrument_flask"]

ROUTE_KEY: Final = "faultwise.route"
"""The WSGI environ key a framework hook sets to the matched route template."""

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def environ_route(environ: Environ) -> str:
    """The route template a framework hook stored under :data:`ROUTE_KEY`."""
    route: str = environ.get(ROUTE_KEY, UNMATCHED_ROUTE)
    return route


class _Response:
    """The app's response iterable; finishes the request when the server closes it."""

    __slots__ = ("_body", "_done")

    def __init__(self, body: Iterable[bytes], done: Callable[[BaseException | None], None]):
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)  # the last byte is out; close() may come later or never

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        done, self._done = self._done, _noop
        done(error)


def _noop(error: BaseException | None) -> None:
    return None


class ObserveWSGIMiddleware(MiddlewareBase[WSGIApp, Environ]):
    """Observe every request of a WSGI app: the same ids, metrics, access log and endpoints as
    the ASGI middleware.

    ``route`` maps the environ to the route template after the app ran (default: the value a
    framework hook stored under :data:`ROUTE_KEY`; :func:`instrument_flask` installs one).
    """

    _default_route = staticmethod(environ_route)

    _metrics_app = staticmethod(make_wsgi_app)

    @staticmethod
    def _health_endpoints(health: Any) -> dict[str, WSGIApp]:
        endpoints: dict[str, WSGIApp] = health.wsgi_endpoints()
        return endpoints

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        endpoint = self._endpoints.get(path)
        if endpoint is not None:
            return endpoint(environ, start_response)
        ctx, token = self._observer.start(
            environ.get("HTTP_X_REQUEST_ID"),
            environ.get("HTTP_TRACEPARENT"),
            environ.get("HTTP_TRACESTATE"),
        )
        timeout_ms = environ.get("HTTP_X_REQUEST_TIMEOUT_MS")
        budget = self._observer.enter_deadline(timeout_ms) if timeout_ms is not None else None
        extra_headers = [("x-request-id", ctx.request_id)]
        if self._traceresponse:
            extra_headers.append(("traceresponse", ctx.traceparent))
        status = [500]

        def start_observed(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            status[0] = int(status_line[:3])
            return start_response(status_line, headers + extra_headers, exc_info)

        started = time.perf_counter()

        def done(error: BaseException | None) -> None:
            if budget is not None:
                self._observer.exit_deadline(budget)
            self._observer.finish(
                ctx,
                token,
                environ.get("REQUEST_METHOD", "GET"),
                path,
                self._route(environ),
                status[0],
                time.perf_counter() - started,
                environ.get("REMOTE_ADDR"),
                error,
            )

        try:
            body = self.app(environ, start_observed)
        except BaseException as exc:
            done(exc)
            raise
        return _Response(body, done)


def instrument_flask(app: Any, **options: Any) -> ObserveWSGIMiddleware:
    """Wrap a Flask app's ``wsgi_app`` and record Flask's url rule as the route template.

    Takes the options of :class:`ObserveWSGIMiddleware`; returns the middleware.
    """
    from flask import request

    def record_route() -> None:
        rule = request.url_rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule

    # first, so a before_request that answers early cannot skip it
    app.before_request_funcs.setdefault(None, []).insert(0, record_route)
    middleware = ObserveWSGIMiddleware(app.wsgi_app, **options)
    app.wsgi_app = middleware
    return middleware

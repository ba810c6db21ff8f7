"""Outgoing HTTP calls: propagate the request, time it, log it (httpx sync and async, requests).

Every call gets ``traceparent``, ``tracestate`` and ``x-request-id`` from the current request
(unless the caller set them) and ``x-request-timeout-ms`` from the current deadline, is timed
into ``http_client_request_duration_seconds`` (to the response headers, as OpenTelemetry
measures it), and writes one line to the ``faultwise.client`` logger. An optional
:class:`faultwise.resilience.Policy` wraps each call; every attempt it makes is measured.

>>> client = httpx.Client(transport=ObservedTransport())            # doctest: +SKIP
>>> client = httpx.AsyncClient(transport=AsyncObservedTransport())  # doctest: +SKIP
>>> session = instrument_session(requests.Session())               # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from faultwise.observe import _context
from faultwise.observe._logging import log_event
from faultwise.observe._metrics import HttpClientMetrics, metric_set, normalize_method
from faultwise.resilience import deadline_to_headers

if TYPE_CHECKING:
    import httpx
    import requests

    from faultwise.resilience import Policy

__all__ = ["AsyncObservedTransport", "ObservedAdapter", "ObservedTransport", "instrument_session"]

CLIENT_LOGGER: Final = "faultwise.client"


class _ClientObserver:
    """Header propagation, the histogram and the log line, shared by every client adapter."""

    __slots__ = ("_children", "_duration", "_log")

    def __init__(self, registry: CollectorRegistry | None, logger: logging.Logger | None) -> None:
        self._duration = metric_set(HttpClientMetrics, registry).duration
        self._children: dict[tuple[str, str, str, int | None, str], Any] = {}
        self._log = logger if logger is not None else logging.getLogger(CLIENT_LOGGER)

    @staticmethod
    def inject(headers: MutableMapping[str, Any]) -> None:
        for name, value in _context.outgoing_headers().items():
            if name not in headers:
                headers[name] = value
        deadline_to_headers(headers)

    def record(
        self,
        method: str,
        url: str,
        status: int | None,
        started: float,
        error: BaseException | None = None,
    ) -> None:
        """Time (from ``started``, a ``perf_counter`` reading) and log one finished attempt."""
        seconds = time.perf_counter() - started
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = str(parts.port or (443 if parts.scheme == "https" else 80))
        method = normalize_method(method.upper())
        error_type = (
            type(error).__qualname__
            if error is not None
            else (str(status) if status is not None and status >= 500 else "")
        )
        key = (method, host, port, status, error_type)
        child = self._children.get(key)
        if child is None:
            child = self._duration.labels(
                method, host, port, "" if status is None else str(status), error_type
            )
            self._children[key] = child
        child.observe(seconds)
        level = logging.WARNING if error_type else logging.INFO
        if not self._log.isEnabledFor(level):
            return
        # never the query string or user:password@: they hold secrets
        where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
        outcome = str(status) if status is not None else type(error).__name__
        attrs: dict[str, Any] = {
            "http.request.method": method,
            "url.full": where,
            "server.address": host,
            "server.port": int(port),
        }
        if status is not None:
            attrs["http.response.status_code"] = status
        attrs["http.client.request.duration"] = seconds
        if error_type:
            attrs["error.type"] = error_type
        log_event(self._log, level, f"{method} {where} {outcome}", attrs)


def _httpx() -> Any:
    from faultwise._errors import require

    return require("httpx", "lab")


class ObservedTransport:
    """An ``httpx`` transport that observes every request and hands it to ``transport``
    (default ``httpx.HTTPTransport()``), through ``policy`` when one is given."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        policy: Policy | None = None,
        registry: CollectorRegistry | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._inner = transport if transport is not None else _httpx().HTTPTransport()
        self._policy = policy
        self._observer = _ClientObserver(registry, logger)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._policy is not None:
            return self._policy.run(self._attempt, request)
        return self._attempt(request)

    def _attempt(self, request: httpx.Request) -> httpx.Response:
        self._observer.inject(request.headers)
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
        except BaseException as exc:
            self._observer.record(request.method, str(request.url), None, started, exc)
            raise
        self._observer.record(request.method, str(request.url), response.status_code, started)
        return response

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> ObservedTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncObservedTransport:
    """The ``httpx.AsyncClient`` twin of :class:`ObservedTransport`."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        policy: Policy | None = None,
        registry: CollectorRegistry | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._inner = transport if transport is not None else _httpx().AsyncHTTPTransport()
        self._policy = policy
        self._observer = _ClientObserver(registry, logger)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._policy is not None:
            return await self._policy.run_async(self._attempt, request)
        return await self._attempt(request)

    async def _attempt(self, request: httpx.Request) -> httpx.Response:
        self._observer.inject(request.headers)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            self._observer.record(request.method, str(request.url), None, started, exc)
            raise
        self._observer.record(request.method, str(request.url), response.status_code, started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> AsyncObservedTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


try:
    from requests.adapters import HTTPAdapter as _HTTPAdapter
except ImportError:  # requests is optional: the class exists, using it needs requests
    _HTTPAdapter = object  # type: ignore[assignment,misc]


class ObservedAdapter(_HTTPAdapter):
    """A ``requests`` transport adapter that observes every request it sends."""

    def __init__(
        self,
        *,
        policy: Policy | None = None,
        registry: CollectorRegistry | None = None,
        logger: logging.Logger | None = None,
        **adapter_options: Any,
    ) -> None:
        if _HTTPAdapter is object:
            raise ImportError("ObservedAdapter needs the requests package: pip install requests")
        super().__init__(**adapter_options)
        self._policy = policy
        self._observer = _ClientObserver(registry, logger)

    def send(  # type: ignore[override]  # passes requests' keyword options through unchanged
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        if self._policy is not None:
            return self._policy.run(self._attempt, request, **kwargs)
        return self._attempt(request, **kwargs)

    def _attempt(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._observer.inject(request.headers)
        method, url = request.method or "GET", request.url or ""
        started = time.perf_counter()
        try:
            response: requests.Response = super().send(request, **kwargs)
        except BaseException as exc:
            self._observer.record(method, url, None, time.perf_counter() - started, exc)
            raise
        self._observer.record(
            method, url, response.status_code, time.perf_counter() - started, None
        )
        return response


def instrument_session(session: requests.Session, **options: Any) -> requests.Session:
    """Mount an :class:`ObservedAdapter` on a ``requests.Session`` for http and https."""
    adapter = ObservedAdapter(**options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session

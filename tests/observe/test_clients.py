from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
from prometheus_client import CollectorRegistry

from faultwise.observe import (
    AsyncObservedTransport,
    ObservedTransport,
    instrument_session,
    request_context,
)
from faultwise.resilience import ConstantBackoff, Policy, Retry, deadline

from .helpers import capture_logs, sample

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
DURATION = "http_client_request_duration_seconds_count"


def seen_headers(store: list[httpx.Headers], status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        store.append(request.headers)
        return httpx.Response(status, text="ok")

    return httpx.MockTransport(handler)


def labels(
    status: str, error: str = "", host: str = "api.test", port: str = "80"
) -> dict[str, str]:
    return {
        "http_request_method": "GET",
        "server_address": host,
        "server_port": port,
        "http_response_status_code": status,
        "error_type": error,
    }


def test_httpx_calls_carry_the_request_trace_and_deadline() -> None:
    headers: list[httpx.Headers] = []
    transport = ObservedTransport(seen_headers(headers), registry=CollectorRegistry())
    with (
        httpx.Client(transport=transport) as client,
        request_context(request_id="r-1", traceparent=f"00-{TRACE}-00f067aa0ba902b7-01") as ctx,
        deadline(2.0),
    ):
        client.get("http://api.test/items")
    (sent,) = headers
    assert (f"00-{TRACE}-{ctx.span_id}-01", "r-1") == (sent["traceparent"], sent["x-request-id"])
    assert 1900 <= int(sent["x-request-timeout-ms"]) <= 2000


def test_headers_the_caller_set_are_kept() -> None:
    headers: list[httpx.Headers] = []
    transport = ObservedTransport(seen_headers(headers), registry=CollectorRegistry())
    with httpx.Client(transport=transport) as client, request_context():
        client.get("http://api.test/", headers={"x-request-id": "mine"})
    assert "mine" == headers[0]["x-request-id"]


def test_outside_a_request_nothing_is_added() -> None:
    headers: list[httpx.Headers] = []
    transport = ObservedTransport(seen_headers(headers), registry=CollectorRegistry())
    with httpx.Client(transport=transport) as client:
        client.get("http://api.test/")
    assert {"traceparent", "x-request-id", "x-request-timeout-ms"}.isdisjoint(headers[0])


def test_httpx_calls_are_timed_and_logged_without_the_query() -> None:
    registry = CollectorRegistry()
    transport = ObservedTransport(seen_headers([], status=503), registry=registry)
    with capture_logs("faultwise.client") as logs, httpx.Client(transport=transport) as client:
        client.get("http://user:pa55@api.test/search?token=s3cret")
    assert 1.0 == sample(registry, DURATION, **labels("503", "503"))
    (line,) = logs.lines()
    assert {
        "severity": "WARNING",
        "message": "GET http://api.test/search 503",
        "url.full": "http://api.test/search",
        "server.address": "api.test",
        "server.port": 80,
        "http.response.status_code": 503,
        "error.type": "503",
    } == {
        k: line[k]
        for k in (
            "severity",
            "message",
            "url.full",
            "server.address",
            "server.port",
            "http.response.status_code",
            "error.type",
        )
    }
    assert (False, False) == ("s3cret" in str(line), "pa55" in str(line))


def test_a_failed_call_is_recorded_with_its_error_type() -> None:
    registry = CollectorRegistry()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = ObservedTransport(httpx.MockTransport(refuse), registry=registry)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError):
        client.get("https://api.test/")
    assert 1.0 == sample(registry, DURATION, **labels("", "ConnectError", port="443"))


def test_a_policy_on_the_transport_retries_and_every_attempt_is_measured() -> None:
    registry = CollectorRegistry()
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    policy = Policy(Retry(3, backoff=ConstantBackoff(0.0)))
    transport = ObservedTransport(httpx.MockTransport(flaky), registry=registry, policy=policy)
    with httpx.Client(transport=transport) as client:
        assert 200 == client.get("http://api.test/").status_code
    assert (2.0, 1.0) == (
        sample(registry, DURATION, **labels("", "ConnectError")),
        sample(registry, DURATION, **labels("200")),
    )


async def test_async_httpx_calls_are_observed_and_propagated() -> None:
    registry = CollectorRegistry()
    headers: list[httpx.Headers] = []
    transport = AsyncObservedTransport(seen_headers(headers), registry=registry)
    async with httpx.AsyncClient(transport=transport) as client:
        with request_context(request_id="async-1"):
            await client.get("http://api.test/")
    assert ("async-1", 1.0) == (
        headers[0]["x-request-id"],
        sample(registry, DURATION, **labels("200")),
    )


async def test_async_policy_retries() -> None:
    registry = CollectorRegistry()
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(204)

    policy = Policy(Retry(2, backoff=ConstantBackoff(0.0)))
    transport = AsyncObservedTransport(httpx.MockTransport(flaky), registry=registry, policy=policy)
    async with httpx.AsyncClient(transport=transport) as client:
        assert 204 == (await client.get("http://api.test/")).status_code
    assert 1.0 == sample(registry, DURATION, **labels("", "ReadTimeout"))


@pytest.fixture
def echo_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP server on 127.0.0.1 that records the headers it receives."""
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200 if self.path != "/fail" else 500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join()


def test_requests_session_calls_are_observed_and_propagated(
    echo_server: tuple[str, list[dict[str, str]]],
) -> None:
    base, received = echo_server
    registry = CollectorRegistry()
    port = base.rsplit(":", 1)[1]
    with requests.Session() as session:
        instrument_session(session, registry=registry)
        with request_context(request_id="req-9"), deadline(5.0):
            assert 200 == session.get(f"{base}/ok").status_code
            assert 500 == session.get(f"{base}/fail").status_code
    assert ("req-9", True) == (
        received[0]["x-request-id"],
        int(received[0]["x-request-timeout-ms"]) <= 5000,
    )
    assert (1.0, 1.0) == (
        sample(registry, DURATION, **labels("200", host="127.0.0.1", port=port)),
        sample(registry, DURATION, **labels("500", "500", host="127.0.0.1", port=port)),
    )


def test_real_httpx_transport_against_a_local_server(
    echo_server: tuple[str, list[dict[str, str]]],
) -> None:
    base, received = echo_server
    registry = CollectorRegistry()
    transport = ObservedTransport(registry=registry)
    with httpx.Client(transport=transport) as client, request_context(request_id="real"):
        client.get(f"{base}/ok")
    assert "real" == received[0]["x-request-id"]

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from faultwise.observe import ObserveMiddleware, current

from .helpers import capture_logs, sample

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
DURATION = "http_server_request_duration_seconds_count"


async def item(request: Request) -> PlainTextResponse:
    ctx = current()
    assert ctx is not None
    (value,) = request.path_params.values()
    return PlainTextResponse(f"{value} {ctx.request_id}")


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("kaput")


async def teapot(request: Request) -> PlainTextResponse:
    return PlainTextResponse("busy", status_code=503)


def requests(registry: CollectorRegistry, route: str, status: str, method: str = "GET") -> Any:
    """How many requests the duration histogram counted for one label set (None: none)."""
    return sample(
        registry,
        DURATION,
        http_request_method=method,
        http_route=route,
        http_response_status_code=status,
    )


def make_app(registry: CollectorRegistry, **options: Any) -> Starlette:
    app = Starlette(
        routes=[
            Route("/items/{item_id}", item),
            Route("/boom", boom),
            Route("/busy", teapot),
            Mount("/api/v1", routes=[Mount("/shop", routes=[Route("/carts/{cart_id}", item)])]),
        ]
    )
    app.add_middleware(ObserveMiddleware, registry=registry, **options)
    return app


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_request_duration_is_recorded_by_route_template_not_path() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        for n in range(3):
            assert 200 == (await c.get(f"/items/{n}")).status_code
    labels = {
        "http_request_method": "GET",
        "http_route": "/items/{item_id}",
        "http_response_status_code": "200",
    }
    assert 3.0 == sample(registry, DURATION, **labels)
    assert None is sample(registry, DURATION, **{**labels, "http_route": "/items/0"})


async def test_nested_mounts_give_the_full_template() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        await c.get("/api/v1/shop/carts/77")
    assert 1.0 == requests(registry, "/api/v1/shop/carts/{cart_id}", "200", "GET")


async def test_an_unmatched_path_is_recorded_with_an_empty_route() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        assert 404 == (await c.get("/wp-admin/secret.php")).status_code
    assert 1.0 == requests(registry, "", "404", "GET")


async def test_unknown_methods_are_recorded_as_other() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        await c.request("BREW", "/items/1")
    assert 1.0 == requests(registry, "/items/{item_id}", "405", "_OTHER")


async def test_the_request_id_is_honoured_and_returned() -> None:
    async with client(make_app(CollectorRegistry())) as c:
        response = await c.get("/items/5", headers={"x-request-id": "edge-123"})
    assert ("5 edge-123", "edge-123") == (response.text, response.headers["x-request-id"])


async def test_the_trace_is_continued_and_returned_in_traceresponse() -> None:
    async with client(make_app(CollectorRegistry(), traceresponse=True)) as c:
        response = await c.get(
            "/items/5", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
        )
    version, trace_id, span_id, flags = response.headers["traceresponse"].split("-")
    assert ("00", TRACE, "01", f"5 {TRACE}") == (version, trace_id, flags, response.text)
    assert "00f067aa0ba902b7" != span_id


async def test_errors_are_counted_by_status_and_exception_type() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        assert 500 == (await c.get("/boom")).status_code
        assert 503 == (await c.get("/busy")).status_code
    errors = "http_server_request_errors_total"
    assert (1.0, 1.0) == (
        sample(
            registry,
            errors,
            http_request_method="GET",
            http_route="/boom",
            error_type="RuntimeError",
        ),
        sample(registry, errors, http_request_method="GET", http_route="/busy", error_type="503"),
    )
    assert 1.0 == requests(registry, "/boom", "500", "GET")


async def test_in_flight_gauge_counts_the_running_request() -> None:
    registry = CollectorRegistry()
    seen: list[float | None] = []

    async def probe(request: Request) -> PlainTextResponse:
        seen.append(sample(registry, "http_server_active_requests"))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/probe", probe)])
    app.add_middleware(ObserveMiddleware, registry=registry)
    async with client(app) as c:
        await c.get("/probe")
    assert ([1.0], 0.0) == (seen, sample(registry, "http_server_active_requests"))


async def test_one_access_log_line_per_request() -> None:
    with capture_logs("faultwise.access") as logs:
        async with client(make_app(CollectorRegistry())) as c:
            await c.get("/items/9", headers={"x-request-id": "rid-9"})
            await c.get("/boom")
    ok, failed = logs.lines()
    assert {
        "severity": "INFO",
        "message": "GET /items/9 200",
        "request_id": "rid-9",
        "http.request.method": "GET",
        "url.path": "/items/9",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
        "client.address": "127.0.0.1",
    } == {
        k: ok[k]
        for k in ok.keys()
        & {
            "severity",
            "message",
            "request_id",
            "http.request.method",
            "url.path",
            "http.route",
            "http.response.status_code",
            "client.address",
        }
    }
    assert 0 < ok["http.server.request.duration"] < 5
    assert ("ERROR", 500, "RuntimeError") == (
        failed["severity"],
        failed["http.response.status_code"],
        failed["error.type"],
    )


async def test_any_other_access_handler_gets_a_record_with_the_same_fields() -> None:
    import logging

    from faultwise.observe import JsonFormatter

    class Records(logging.Handler):  # formats each record as it comes, inside the request
        def __init__(self) -> None:
            super().__init__()
            self.setFormatter(JsonFormatter(service="test"))
            self.lines: list[dict[str, Any]] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(orjson.loads(self.format(record)))

    records = Records()
    with capture_logs("faultwise.access") as logs:
        logging.getLogger("faultwise.access").addHandler(records)  # not JSON: a record for both
        async with client(make_app(CollectorRegistry())) as c:
            await c.get("/items/9", headers={"x-request-id": "rid-9"})
            await c.get("/boom")
    ok, failed = records.lines
    direct = logs.lines()
    with capture_logs("faultwise.access") as logs:
        async with client(make_app(CollectorRegistry())) as c:
            await c.get("/items/9", headers={"x-request-id": "rid-9"})
            await c.get("/boom")
    fast = logs.lines()
    assert ["rid-9", "rid-9", "rid-9"] == [
        direct[0]["request_id"],
        fast[0]["request_id"],
        ok["request_id"],
    ]
    varying = {"timestamp", "trace_id", "span_id", "request_id", "http.server.request.duration"}
    for lines in (direct, fast, [ok, failed]):
        for line in lines:
            for key in varying:
                line.pop(key)
    assert fast == direct == [ok, failed]
    assert ("/items/{item_id}", "RuntimeError") == (ok["http.route"], failed["error.type"])


async def test_the_access_log_can_be_turned_off() -> None:
    with capture_logs("faultwise.access") as logs:
        async with client(make_app(CollectorRegistry(), access_log=False)) as c:
            await c.get("/items/1")
    assert [] == logs.lines()


async def test_metrics_endpoint_serves_prometheus_text_and_is_not_measured() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        await c.get("/items/1")
        response = await c.get("/metrics")
        again = await c.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "http_server_request_duration_seconds_bucket" in again.text
    assert 'http_route="/metrics"' not in again.text
    assert "x-request-id" not in response.headers


async def test_excluded_paths_bypass_the_middleware() -> None:
    registry = CollectorRegistry()
    with capture_logs("faultwise.access") as logs:
        async with client(make_app(registry, exclude_paths=["/busy"])) as c:
            assert "x-request-id" not in (await c.get("/busy")).headers
            await c.get("/items/2")
    assert None is requests(registry, "/busy", "503", "GET")
    assert ["/items/2"] == [line["url.path"] for line in logs.lines()]


async def test_buckets_are_the_otel_advisory_seconds_buckets() -> None:
    registry = CollectorRegistry()
    async with client(make_app(registry)) as c:
        await c.get("/items/1")
    text = (await client(make_app(registry, metrics_path="/m")).get("/m")).text
    bounds = [
        line.split('le="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("http_server_request_duration_seconds_bucket")
    ]
    expected = "0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1.0 2.5 5.0 7.5 10.0 +Inf"
    assert expected.split() == bounds


async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await ObserveMiddleware(raw, registry=CollectorRegistry())({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert ["lifespan"] == seen


@pytest.mark.parametrize("registry_count", [2])
async def test_two_middlewares_can_share_one_registry(registry_count: int) -> None:
    registry = CollectorRegistry()
    apps = [make_app(registry) for _ in range(registry_count)]
    for app in apps:
        async with client(app) as c:
            await c.get("/items/1")
    assert 2.0 == requests(registry, "/items/{item_id}", "200", "GET")


def deadline_app(registry: CollectorRegistry) -> Starlette:
    from faultwise.resilience import remaining

    async def left(request: Request) -> PlainTextResponse:
        budget = remaining()
        return PlainTextResponse("none" if budget is None else f"{budget:.3f}")

    app = Starlette(routes=[Route("/left", left)])
    app.add_middleware(ObserveMiddleware, registry=registry)
    return app


async def test_the_callers_deadline_becomes_the_request_deadline() -> None:
    from faultwise.resilience import remaining

    async with client(deadline_app(CollectorRegistry())) as c:
        with_budget = (await c.get("/left", headers={"x-request-timeout-ms": "1500"})).text
        without = (await c.get("/left")).text
        malformed = (await c.get("/left", headers={"x-request-timeout-ms": "1.5s"})).text
    assert 1.4 < float(with_budget) <= 1.5
    assert ("none", "none", None) == (without, malformed, remaining())

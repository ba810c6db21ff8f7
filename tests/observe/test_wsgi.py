from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry
from werkzeug.test import Client

from faultwise.observe import ObserveWSGIMiddleware, current, instrument_flask

from .helpers import capture_logs, sample

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
DURATION = "http_server_request_duration_seconds_count"


def flask_app(registry: CollectorRegistry, **options: Any) -> Flask:
    app = Flask("shop")

    @app.get("/orders/<int:order_id>")
    def order(order_id: int) -> dict[str, Any]:
        ctx = current()
        return {"id": order_id, "request_id": ctx.request_id if ctx else None}

    @app.get("/fail")
    def fail() -> str:
        raise RuntimeError("db down")

    instrument_flask(app, registry=registry, **options)
    return app


def test_flask_requests_are_recorded_by_url_rule() -> None:
    registry = CollectorRegistry()
    client = flask_app(registry).test_client()
    for n in (1, 2):
        assert 200 == client.get(f"/orders/{n}", buffered=True).status_code
    assert 2.0 == sample(
        registry,
        DURATION,
        http_request_method="GET",
        http_route="/orders/<int:order_id>",
        http_response_status_code="200",
    )


def test_flask_unmatched_paths_have_an_empty_route() -> None:
    registry = CollectorRegistry()
    assert 404 == flask_app(registry).test_client().get("/nope/123", buffered=True).status_code
    assert 1.0 == sample(
        registry,
        DURATION,
        http_request_method="GET",
        http_route="",
        http_response_status_code="404",
    )


def test_flask_errors_are_counted_as_5xx() -> None:
    registry = CollectorRegistry()
    assert 500 == flask_app(registry).test_client().get("/fail", buffered=True).status_code
    assert 1.0 == sample(
        registry,
        "http_server_request_errors_total",
        http_request_method="GET",
        http_route="/fail",
        error_type="500",
    )


def test_flask_request_context_carries_ids_in_and_out() -> None:
    client = flask_app(CollectorRegistry(), traceresponse=True).test_client()
    response = client.get(
        "/orders/3",
        headers={"x-request-id": "edge-1", "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
    )
    assert ("edge-1", "edge-1") == (response.json["request_id"], response.headers["x-request-id"])
    assert response.headers["traceresponse"].startswith(f"00-{TRACE}-")


def test_flask_access_log_line() -> None:
    with capture_logs("faultwise.access") as logs:
        flask_app(CollectorRegistry()).test_client().get("/orders/8", buffered=True)
    (line,) = logs.lines()
    assert ("GET /orders/8 200", "/orders/<int:order_id>", 200) == (
        line["message"],
        line["http.route"],
        line["http.response.status_code"],
    )


def test_flask_metrics_endpoint_is_served_and_not_measured() -> None:
    registry = CollectorRegistry()
    client = flask_app(registry).test_client()
    client.get("/orders/1", buffered=True)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'http_route="/orders/<int:order_id>"' in text
    assert "/metrics" not in text


def test_a_streamed_body_is_timed_to_its_end_with_the_context_current() -> None:
    registry = CollectorRegistry()
    seen: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        for chunk in (b"a", b"b"):
            ctx = current()
            seen.append(ctx.request_id if ctx else None)
            yield chunk

    wrapped = ObserveWSGIMiddleware(app, registry=registry, route=lambda environ: "/stream")
    response = Client(wrapped).get("/stream", headers={"x-request-id": "s-1"})
    assert (b"ab", ["s-1", "s-1"]) == (response.get_data(), seen)
    assert None is current()
    assert 1.0 == sample(
        registry,
        DURATION,
        http_request_method="GET",
        http_route="/stream",
        http_response_status_code="200",
    )


def test_an_app_that_raises_is_recorded_and_reraised() -> None:
    registry = CollectorRegistry()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        Client(ObserveWSGIMiddleware(app, registry=registry)).get("/x")
    assert 1.0 == sample(
        registry,
        "http_server_request_errors_total",
        http_request_method="GET",
        http_route="",
        error_type="ValueError",
    )
    assert 0.0 == sample(registry, "http_server_active_requests")


def test_the_callers_deadline_becomes_the_flask_request_deadline() -> None:
    from faultwise.resilience import remaining

    app = Flask("deadline")

    @app.get("/left")
    def left() -> str:
        budget = remaining()
        return "none" if budget is None else f"{budget:.3f}"

    instrument_flask(app, registry=CollectorRegistry())
    client = app.test_client()
    with_budget = client.get("/left", headers={"x-request-timeout-ms": "800"}, buffered=True)
    without = client.get("/left", buffered=True)
    assert 0.7 < float(with_budget.get_data(as_text=True)) <= 0.8
    assert ("none", None) == (without.get_data(as_text=True), remaining())

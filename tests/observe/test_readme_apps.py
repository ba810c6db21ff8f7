"""The FastAPI and Flask apps of the README (and docs/observe.md), run exactly as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOC = ROOT / "docs" / "observe.md"

pytestmark = pytest.mark.integration


def example(name: str, document: Path = README) -> str:
    text = document.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert found is not None, f"no {name} example in {document}"
    return found.group(1)


def run_example(name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"readme_{name}"}
    exec(compile(example(name), f"README.md:{name}", "exec"), namespace)
    return namespace


@pytest.fixture(autouse=True)
def restore_logging(logging_state: None) -> None:
    """The examples call configure_logging: undone after each test."""


def json_lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


def route_count(route: str) -> float | None:
    return REGISTRY.get_sample_value(
        "http_server_request_duration_seconds_count",
        {"http_request_method": "GET", "http_route": route, "http_response_status_code": "200"},
    )


@pytest.mark.parametrize("name", ["fastapi", "flask"])
def test_the_examples_are_at_most_ten_lines(name: str) -> None:
    assert len(example(name).rstrip("\n").splitlines()) <= 10


@pytest.mark.parametrize("name", ["fastapi", "flask"])
def test_the_docs_show_the_same_example_as_the_readme(name: str) -> None:
    assert example(name) == example(name, DOC)


async def test_the_fastapi_example_is_fully_instrumented(
    postgres_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    app = run_example("fastapi")["app"]
    before = route_count("/orders/{order_id}") or 0.0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        response = await client.get("/orders/7", headers={"x-request-id": "readme-1"})
        ready = await client.get("/readyz")
        live = await client.get("/livez")
        metrics = (await client.get("/metrics")).text
    assert (200, {"id": 7}, "readme-1") == (
        response.status_code,
        response.json(),
        response.headers["x-request-id"],
    )
    assert (200, "pass", 200) == (ready.status_code, ready.json()["status"], live.status_code)
    assert 'http_route="/orders/{order_id}"' in metrics
    assert before + 1 == route_count("/orders/{order_id}")
    (access,) = [
        line
        for line in json_lines(capfd.readouterr().err)
        if line.get("logger") == "faultwise.access"
    ]
    assert ("orders", "readme-1", "/orders/{order_id}") == (
        access["service"],
        access["request_id"],
        access["http.route"],
    )


def test_the_flask_example_is_fully_instrumented(
    postgres_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    app = run_example("flask")["app"]
    before = route_count("/orders/<int:order_id>") or 0.0
    client = app.test_client()
    response = client.get("/orders/7", headers={"x-request-id": "readme-2"}, buffered=True)
    ready = client.get("/readyz", buffered=True)
    metrics = client.get("/metrics", buffered=True).get_data(as_text=True)
    assert (200, {"id": 7}, "readme-2") == (
        response.status_code,
        response.json,
        response.headers["x-request-id"],
    )
    assert (200, "pass") == (ready.status_code, ready.json["status"])
    assert 'http_route="/orders/<int:order_id>"' in metrics
    assert before + 1 == route_count("/orders/<int:order_id>")
    (access,) = [
        line
        for line in json_lines(capfd.readouterr().err)
        if line.get("logger") == "faultwise.access"
    ]
    assert ("orders", "readme-2", "GET /orders/7 200") == (
        access["service"],
        access["request_id"],
        access["message"],
    )

"""The ``Idempotency-Key`` middleware: ASGI (Starlette through httpx) and WSGI (Flask)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import flask
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from faultwise.resilience import Event
from faultwise.resilience.idempotency import (
    Idempotency,
    IdempotencyMiddleware,
    IdempotencyStoreFailed,
    IdempotencyWSGIMiddleware,
    MemoryIdempotencyStore,
)


class Orders:
    """A toy order service that counts how often each handler really ran."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail_next: int | None = None
        self.delay = 0.0

    async def create(self, request: Request) -> Response:
        self.runs += 1
        body = await request.json()
        await asyncio.sleep(self.delay)
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return JSONResponse({"error": "try again"}, status_code=status)
        return JSONResponse(
            {"order": self.runs, "item": body["item"]},
            status_code=201,
            headers={"location": f"/orders/{self.runs}"},
        )

    async def crash(self, request: Request) -> Response:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("database went away")
        return JSONResponse({"ok": self.runs})

    async def big(self, request: Request) -> Response:
        self.runs += 1

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * 1000

        return StreamingResponse(chunks(), media_type="text/plain")


def asgi_client(orders: Orders, idem: Idempotency, **options: object) -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/orders", orders.create, methods=["POST", "GET"]),
            Route("/crash", orders.crash, methods=["POST"]),
            Route("/big", orders.big, methods=["POST"]),
        ]
    )
    app.add_middleware(IdempotencyMiddleware, idempotency=idem, **options)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def post(key: str | None, item: str = "book", **headers: str) -> dict[str, object]:
    if key is not None:
        headers["Idempotency-Key"] = key
    return {"json": {"item": item}, "headers": headers}


async def test_asgi_a_duplicate_gets_the_stored_response_marked_replayed() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        first = await client.post("/orders", **post("k1"))
        second = await client.post("/orders", **post("k1"))
    assert 1 == orders.runs
    assert (201, first.content, "/orders/1") == (
        second.status_code,
        second.content,
        second.headers["location"],
    )
    assert (None, "true") == (
        first.headers.get("idempotent-replayed"),
        second.headers["idempotent-replayed"],
    )


async def test_asgi_the_same_key_with_another_body_gets_422_problem_json() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        await client.post("/orders", **post("k1", "book"))
        reused = await client.post("/orders", **post("k1", "lamp"))
    assert (422, "application/problem+json") == (
        reused.status_code,
        reused.headers["content-type"],
    )
    assert 422 == reused.json()["status"]
    assert 1 == orders.runs


async def test_asgi_a_concurrent_duplicate_gets_409_with_retry_after_when_not_waiting() -> None:
    orders = Orders()
    orders.delay = 0.2
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        first, second = await asyncio.gather(
            client.post("/orders", **post("k1")),
            client.post("/orders", **post("k1")),
        )
    assert [201, 409] == sorted([first.status_code, second.status_code])
    conflict = first if first.status_code == 409 else second
    assert "1" == conflict.headers["retry-after"]
    assert 1 == orders.runs


async def test_asgi_concurrent_duplicates_that_wait_all_get_the_first_response() -> None:
    orders = Orders()
    orders.delay = 0.05
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore(), wait=5.0)) as client:
        responses = await asyncio.gather(*(client.post("/orders", **post("k1")) for _ in range(30)))
    assert 1 == orders.runs
    assert {(201, b'{"order":1,"item":"book"}')} == {(r.status_code, r.content) for r in responses}


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_asgi_a_retryable_answer_releases_the_key(status: int) -> None:
    orders = Orders()
    orders.fail_next = status
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        failed = await client.post("/orders", **post("k1"))
        retried = await client.post("/orders", **post("k1"))
    assert (status, 201, 2) == (failed.status_code, retried.status_code, orders.runs)


async def test_asgi_a_client_error_is_final_and_replayed() -> None:
    orders = Orders()
    orders.fail_next = 400
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        first = await client.post("/orders", **post("k1"))
        second = await client.post("/orders", **post("k1"))
    assert (400, 400, 1) == (first.status_code, second.status_code, orders.runs)


async def test_asgi_an_exception_releases_the_key() -> None:
    orders = Orders()
    idem = Idempotency(MemoryIdempotencyStore())
    async with asgi_client(orders, idem) as client:
        crashed = await client.post("/crash", **post("k1"))
        retried = await client.post("/crash", **post("k1"))
        replayed = await client.post("/crash", **post("k1"))
    assert (500, 200, 200) == (crashed.status_code, retried.status_code, replayed.status_code)
    assert (2, "true") == (orders.runs, replayed.headers["idempotent-replayed"])


async def test_asgi_requests_without_a_key_or_with_safe_methods_pass_through() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        await client.post("/orders", **post(None))
        await client.post("/orders", **post(None))
        fetched = await client.request("GET", "/orders", **post("k1"))
    assert (3, 201) == (orders.runs, fetched.status_code)


async def test_asgi_a_required_key_that_is_missing_gets_400() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore()), required=True) as client:
        missing = await client.post("/orders", **post(None))
    assert (400, 0) == (missing.status_code, orders.runs)


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
async def test_asgi_an_invalid_key_gets_400(key: str) -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        response = await client.post(
            "/orders", json={"item": "b"}, headers=[(b"idempotency-key", key.encode())]
        )
    assert (400, 0) == (response.status_code, orders.runs)


async def test_asgi_a_structured_field_string_key_is_the_same_key_as_a_bare_one() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        await client.post("/orders", **post('"8e03978e-40d5-43e8-bc93-6894a57f9324"'))
        second = await client.post("/orders", **post("8e03978e-40d5-43e8-bc93-6894a57f9324"))
    assert ("true", 1) == (second.headers["idempotent-replayed"], orders.runs)


async def test_asgi_two_callers_with_the_same_key_do_not_share_responses() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        alice = await client.post("/orders", **post("k1", Authorization="Bearer alice"))
        bob = await client.post("/orders", **post("k1", Authorization="Bearer bob"))
    assert (201, 201, 2) == (alice.status_code, bob.status_code, orders.runs)
    assert "idempotent-replayed" not in bob.headers


async def test_asgi_a_response_over_max_body_is_not_replayed_and_not_rerun() -> None:
    orders = Orders()
    idem = Idempotency(MemoryIdempotencyStore())
    async with asgi_client(orders, idem, max_body=1000) as client:
        first = await client.post("/big", **post("k1"))
        second = await client.post("/big", **post("k1"))
    assert (200, 4000) == (first.status_code, len(first.content))
    assert (409, 1) == (second.status_code, orders.runs)


class BrokenStore(MemoryIdempotencyStore):
    async def begin_async(self, key: str, fingerprint: str, lease: float) -> object:  # type: ignore[override]
        raise ConnectionError("store down")


async def test_asgi_an_unreachable_store_refuses_with_503_and_an_event() -> None:
    orders = Orders()
    idem = Idempotency(BrokenStore())
    events: list[Event] = []
    idem.on_event(events.append)
    async with asgi_client(orders, idem) as client:
        response = await client.post("/orders", **post("k1"))
    assert (503, 0) == (response.status_code, orders.runs)
    assert [("refused", "ConnectionError('store down')")] == [
        (e.action, e.error) for e in events if isinstance(e, IdempotencyStoreFailed)
    ]


async def test_asgi_the_fingerprint_covers_the_query_string() -> None:
    orders = Orders()
    async with asgi_client(orders, Idempotency(MemoryIdempotencyStore())) as client:
        await client.post("/orders?dry_run=0", **post("k1"))
        other = await client.post("/orders?dry_run=1", **post("k1"))
    assert 422 == other.status_code


def flask_app(orders: Orders, idem: Idempotency, **options: object) -> flask.Flask:
    app = flask.Flask("orders")

    @app.post("/orders")
    def create() -> tuple[dict[str, object], int, dict[str, str]]:
        orders.runs += 1
        if orders.fail_next is not None:
            status, orders.fail_next = orders.fail_next, None
            return {"error": "try again"}, status, {}
        item = flask.request.get_json()["item"]
        return {"order": orders.runs, "item": item}, 201, {"Location": f"/orders/{orders.runs}"}

    @app.post("/stream")
    def stream() -> flask.Response:
        orders.runs += 1

        def chunks() -> Iterator[str]:
            yield "a"
            yield "b"

        return flask.Response(chunks())

    app.wsgi_app = IdempotencyWSGIMiddleware(app.wsgi_app, idem, **options)  # type: ignore[method-assign]
    return app


def test_wsgi_a_duplicate_gets_the_stored_response_marked_replayed() -> None:
    orders = Orders()
    client = flask_app(orders, Idempotency(MemoryIdempotencyStore())).test_client()
    first = client.post("/orders", **post("k1"))
    second = client.post("/orders", **post("k1"))
    assert (201, 201, 1) == (first.status_code, second.status_code, orders.runs)
    assert (first.data, "/orders/1", "true") == (
        second.data,
        second.headers["Location"],
        second.headers["Idempotent-Replayed"],
    )


def test_wsgi_the_same_key_with_another_body_gets_422() -> None:
    orders = Orders()
    client = flask_app(orders, Idempotency(MemoryIdempotencyStore())).test_client()
    client.post("/orders", **post("k1", "book"))
    reused = client.post("/orders", **post("k1", "lamp"))
    assert (422, "Idempotency-Key reused") == (reused.status_code, reused.json["title"])


def test_wsgi_a_5xx_releases_the_key_and_the_retry_runs() -> None:
    orders = Orders()
    orders.fail_next = 502
    client = flask_app(orders, Idempotency(MemoryIdempotencyStore())).test_client()
    failed = client.post("/orders", **post("k1"))
    retried = client.post("/orders", **post("k1"))
    assert (502, 201, 2) == (failed.status_code, retried.status_code, orders.runs)


def test_wsgi_a_streamed_body_is_stored_whole() -> None:
    orders = Orders()
    client = flask_app(orders, Idempotency(MemoryIdempotencyStore())).test_client()
    first = client.post("/stream", **post("k1")).data  # the body is produced as it is read
    second = client.post("/stream", **post("k1")).data
    assert (b"ab", b"ab", 1) == (first, second, orders.runs)


def test_wsgi_a_duplicate_while_the_body_still_streams_gets_409() -> None:
    orders = Orders()
    client = flask_app(orders, Idempotency(MemoryIdempotencyStore())).test_client()
    streaming = client.post("/stream", **post("k1"))
    duplicate = client.post("/stream", **post("k1"))
    assert (409, b"ab", 1) == (duplicate.status_code, streaming.data, orders.runs)


def test_wsgi_a_required_key_that_is_missing_gets_400() -> None:
    orders = Orders()
    app = flask_app(orders, Idempotency(MemoryIdempotencyStore()), required=True)
    response = app.test_client().post("/orders", **post(None))
    assert (400, "application/problem+json") == (response.status_code, response.content_type)
    assert 400 == json.loads(response.data)["status"]


def test_wsgi_the_key_of_another_request_in_flight_gets_422() -> None:
    orders = Orders()
    idem = Idempotency(MemoryIdempotencyStore())
    idem.claim("k1", "another request's fingerprint")  # another replica is running it
    app = flask_app(orders, idem, partition_header=None)
    response = app.test_client().post("/orders", **post("k1"))
    assert (422, 0) == (response.status_code, orders.runs)

"""Every idempotency store keeps the same contract; Redis and PostgreSQL under 100 duplicates."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
import redis
import redis.asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faultwise.resilience.idempotency import (
    AsyncIdempotencyStore,
    AsyncPostgresIdempotencyStore,
    AsyncRedisIdempotencyStore,
    Claimed,
    Completed,
    Idempotency,
    IdempotencyMiddleware,
    IdempotencyStore,
    InFlight,
    MemoryIdempotencyStore,
    PostgresIdempotencyStore,
    RedisIdempotencyStore,
    idempotent,
)

PAYLOAD = bytes(range(256))  # every byte value survives the round trip


@pytest.fixture
def table(postgres_url: str) -> Iterator[str]:
    name = f"idem_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture(params=["memory", "redis", "postgres"])
def sync_store(request: pytest.FixtureRequest) -> Iterator[IdempotencyStore]:
    if request.param == "memory":
        yield MemoryIdempotencyStore()
        return
    request.applymarker(pytest.mark.integration)
    if request.param == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        yield RedisIdempotencyStore(client, prefix=request.getfixturevalue("prefix"))
        client.close()
        return
    store = PostgresIdempotencyStore(
        request.getfixturevalue("postgres_url"), table=request.getfixturevalue("table")
    )
    yield store
    store.close()


@pytest.fixture(params=["memory", "redis", "postgres"])
async def async_store(request: pytest.FixtureRequest) -> AsyncIterator[AsyncIdempotencyStore]:
    if request.param == "memory":
        yield MemoryIdempotencyStore()
        return
    request.applymarker(pytest.mark.integration)
    if request.param == "redis":
        client = redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url"))
        yield AsyncRedisIdempotencyStore(client, prefix=request.getfixturevalue("prefix"))
        await client.aclose()
        return
    store = AsyncPostgresIdempotencyStore(
        request.getfixturevalue("postgres_url"),
        table=request.getfixturevalue("table"),
        max_size=20,
    )
    yield store
    await store.close()


def test_store_a_free_key_is_claimed_once_then_reported_in_flight(
    sync_store: IdempotencyStore,
) -> None:
    claimed = sync_store.begin("k", "fp-1", 30.0)
    assert isinstance(claimed, Claimed)
    assert InFlight("fp-1") == sync_store.begin("k", "fp-2", 30.0)


def test_store_a_completed_key_returns_its_payload_and_fingerprint(
    sync_store: IdempotencyStore,
) -> None:
    claimed = sync_store.begin("k", "fp-1", 30.0)
    assert isinstance(claimed, Claimed)
    assert sync_store.complete("k", claimed.token, PAYLOAD, 60.0)
    assert Completed("fp-1", PAYLOAD) == sync_store.begin("k", "fp-1", 30.0)
    assert not sync_store.release("k", claimed.token)  # a stored result is never released
    assert Completed("fp-1", PAYLOAD) == sync_store.begin("k", "fp-1", 30.0)


def test_store_only_the_owner_token_completes_or_releases(sync_store: IdempotencyStore) -> None:
    claimed = sync_store.begin("k", "fp", 30.0)
    assert isinstance(claimed, Claimed)
    assert (False, False) == (
        sync_store.complete("k", "not-the-token", b"x", 60.0),
        sync_store.release("k", "not-the-token"),
    )
    assert sync_store.release("k", claimed.token)
    assert isinstance(sync_store.begin("k", "fp", 30.0), Claimed)


def test_store_an_expired_lease_lets_the_next_caller_claim(sync_store: IdempotencyStore) -> None:
    stale = sync_store.begin("k", "fp", 0.001)
    assert isinstance(stale, Claimed)
    deadline = time.monotonic() + 2.0  # expiry runs on the server's clock
    fresh = sync_store.begin("k", "fp", 30.0)
    while not isinstance(fresh, Claimed) and time.monotonic() < deadline:
        time.sleep(0.005)
        fresh = sync_store.begin("k", "fp", 30.0)
    assert isinstance(fresh, Claimed)
    assert not sync_store.complete("k", stale.token, b"late", 60.0)
    assert sync_store.complete("k", fresh.token, b"fresh", 60.0)


async def test_async_store_keeps_the_same_contract(async_store: AsyncIdempotencyStore) -> None:
    claimed = await async_store.begin_async("k", "fp", 30.0)
    assert isinstance(claimed, Claimed)
    assert InFlight("fp") == await async_store.begin_async("k", "fp", 30.0)
    assert not await async_store.complete_async("k", "other", b"x", 60.0)
    assert await async_store.release_async("k", claimed.token)
    again = await async_store.begin_async("k", "fp", 30.0)
    assert isinstance(again, Claimed)
    assert await async_store.complete_async("k", again.token, PAYLOAD, 60.0)
    assert Completed("fp", PAYLOAD) == await async_store.begin_async("k", "fp", 30.0)


def test_store_a_hundred_threads_with_one_key_execute_once(sync_store: IdempotencyStore) -> None:
    runs: list[int] = []
    barrier = threading.Barrier(100)

    @idempotent(Idempotency(sync_store, wait=30.0), key="key")
    def create(key: str) -> dict[str, int]:
        runs.append(1)
        time.sleep(0.05)
        return {"order": 7}

    results: list[dict[str, int]] = []

    def caller() -> None:
        barrier.wait(timeout=10)
        results.append(create("one-key"))

    threads = [threading.Thread(target=caller) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert (1, [{"order": 7}] * 100) == (len(runs), results)


def counting_app() -> tuple[Starlette, list[int]]:
    runs: list[int] = []

    async def create(request: Request) -> Response:
        runs.append(1)
        body = await request.json()
        await asyncio.sleep(0.05)
        return JSONResponse({"order": len(runs), **body}, status_code=201)

    return Starlette(routes=[Route("/orders", create, methods=["POST"])]), runs


async def hundred_duplicates(store: AsyncIdempotencyStore) -> tuple[int, set[Any]]:
    app, runs = counting_app()
    app.add_middleware(IdempotencyMiddleware, idempotency=Idempotency(store, wait=30.0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        request: Callable[[], Any] = lambda: client.post(  # noqa: E731
            "/orders", json={"item": "book"}, headers={"Idempotency-Key": "order-1"}
        )
        responses = await asyncio.gather(*(request() for _ in range(100)))
    return len(runs), {(r.status_code, r.content) for r in responses}


@pytest.mark.integration
async def test_a_hundred_concurrent_requests_with_one_key_run_once_on_redis(
    redis_url: str, prefix: str
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        runs, answers = await hundred_duplicates(AsyncRedisIdempotencyStore(client, prefix=prefix))
    finally:
        await client.aclose()
    assert (1, {(201, b'{"order":1,"item":"book"}')}) == (runs, answers)


@pytest.mark.integration
async def test_a_hundred_concurrent_requests_with_one_key_run_once_on_postgres(
    postgres_url: str, table: str
) -> None:
    store = AsyncPostgresIdempotencyStore(postgres_url, table=table, max_size=10)
    try:
        runs, answers = await hundred_duplicates(store)
    finally:
        await store.close()
    assert (1, {(201, b'{"order":1,"item":"book"}')}) == (runs, answers)


@pytest.mark.integration
def test_a_redis_client_that_decodes_responses_is_refused(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ValueError, match="decode"):
        RedisIdempotencyStore(client)
    client.close()


@pytest.mark.integration
def test_postgres_purge_deletes_expired_keys(postgres_url: str, table: str) -> None:
    store = PostgresIdempotencyStore(postgres_url, table=table)
    try:
        for n in range(5):
            store.begin(f"k{n}", "fp", 0.001)
        store.begin("alive", "fp", 60.0)
        time.sleep(0.01)
        assert 5 == store.purge()
        assert InFlight("fp") == store.begin("alive", "fp", 60.0)
    finally:
        store.close()

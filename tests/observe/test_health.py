from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from flask import Flask
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from tests.forking import run_forked

from faultwise.observe import (
    Check,
    Health,
    HealthStatus,
    ObserveMiddleware,
    callable_check,
    http_check,
    instrument_flask,
    postgres_check,
    rabbitmq_check,
    redis_check,
    sqlalchemy_check,
)
from faultwise.testing import FakeClock

from .helpers import sample


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def http_port() -> AsyncIterator[int]:
    """A tiny HTTP server: /ok answers 200, anything else 500."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = await reader.readline()
        status = b"200 OK" if b" /ok " in request_line else b"500 Internal Server Error"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status.value for c in report.checks}


# ----------------------------------------------------------------------- real services


@pytest.mark.integration
async def test_checks_pass_against_the_real_services(
    postgres_url: str, redis_url: str, rabbitmq_url: str, http_port: int
) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    health = Health(
        postgres_check(postgres_url),
        redis_check(redis_url),
        rabbitmq_check(rabbitmq_url),
        http_check(f"http://127.0.0.1:{http_port}/ok", name="payments"),
        sqlalchemy_check(engine),
        callable_check(lambda: True, "config"),
    )
    report = await health.ready()
    engine.dispose()
    assert {
        "postgres": "pass",
        "redis": "pass",
        "rabbitmq": "pass",
        "payments": "pass",
        "database": "pass",
        "config": "pass",
    } == statuses(report)
    assert (HealthStatus.PASS, 200) == (report.status, report.http_status)


@pytest.mark.integration
async def test_postgres_check_borrows_from_psycopg_pools(postgres_url: str) -> None:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    with ConnectionPool(postgres_url, min_size=1, max_size=1, open=True) as sync_pool:
        async with AsyncConnectionPool(postgres_url, min_size=1, max_size=1, open=False) as pool:
            report = await Health(
                postgres_check(pool, name="async"), postgres_check(sync_pool, name="sync")
            ).ready()
    assert {"async": "pass", "sync": "pass"} == statuses(report)


@pytest.mark.integration
async def test_redis_check_uses_a_given_client(redis_url: str) -> None:
    import redis.asyncio

    client = redis.asyncio.from_url(redis_url)
    report = await Health(redis_check(client)).ready()
    await client.aclose()
    assert {"redis": "pass"} == statuses(report)


async def test_rabbitmq_check_rejects_a_server_that_is_not_amqp() -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(banner, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    report = await Health(rabbitmq_check(f"amqp://127.0.0.1:{port}/")).ready()
    server.close()
    await server.wait_closed()
    assert ("fail", "RuntimeError: not an AMQP 0-9-1 broker (answered b'SSH-2.0-')") == (
        report.status.value,
        report.checks[0].output,
    )


# --------------------------------------------------------------- closed port, silent server


def every_check(port: int) -> list[Check]:
    return [
        postgres_check(f"postgresql://postgres@127.0.0.1:{port}/test", timeout=0.3),
        redis_check(f"redis://127.0.0.1:{port}/0", timeout=0.3),
        rabbitmq_check(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=0.3),
        http_check(f"http://127.0.0.1:{port}/", name="http", timeout=0.3),
    ]


async def test_every_check_fails_fast_on_a_closed_port() -> None:
    port = closed_port()
    started = time.monotonic()
    report = await Health(*every_check(port)).ready()
    assert time.monotonic() - started < 1.0
    assert {"postgres": "fail", "redis": "fail", "rabbitmq": "fail", "http": "fail"} == statuses(
        report
    )


async def test_every_check_times_out_on_a_server_that_never_answers(silent_port: int) -> None:
    started = time.monotonic()
    report = await Health(*every_check(silent_port)).ready()
    elapsed = time.monotonic() - started
    assert {"postgres": "fail", "redis": "fail", "rabbitmq": "fail", "http": "fail"} == statuses(
        report
    )
    assert elapsed < 0.8
    assert all(
        "timed out" in (c.output or "") or "Timeout" in (c.output or "") for c in report.checks
    )


@pytest.mark.integration
async def test_readyz_answers_within_budget_and_names_the_hanging_dependency(
    silent_port: int, postgres_url: str, redis_url: str
) -> None:
    health = Health(
        postgres_check(postgres_url),
        redis_check(redis_url),
        rabbitmq_check(f"amqp://127.0.0.1:{silent_port}/", timeout=5.0),  # capped by the budget
        budget=0.6,
    )
    app = Starlette()
    app.add_middleware(ObserveMiddleware, registry=CollectorRegistry(), health=health)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        started = time.monotonic()
        response = await client.get("/readyz")
        elapsed = time.monotonic() - started
    body = response.json()
    assert (503, "application/health+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert elapsed < 1.0
    assert ("fail", "rabbitmq: timed out after 0.6 s") == (body["status"], body["output"])
    assert {"postgres:responseTime", "redis:responseTime", "rabbitmq:responseTime"} == set(
        body["checks"]
    )
    assert "pass" == body["checks"]["postgres:responseTime"][0]["status"]


# -------------------------------------------------------------------------- behaviour


async def test_a_probe_that_ignores_cancellation_cannot_hold_the_answer() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # cleanup that ignores the cancellation

    health = Health(Check("stubborn", stubborn, timeout=0.1), budget=0.2)
    started = time.monotonic()
    report = await health.ready()
    assert time.monotonic() - started < 0.5
    assert ("fail", "no answer within the 0.2 s budget") == (
        report.checks[0].status.value,
        report.checks[0].output,
    )


async def test_checks_run_concurrently() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.2)

    health = Health(*(Check(f"c{i}", slow) for i in range(5)))
    started = time.monotonic()
    report = await health.ready()
    assert time.monotonic() - started < 0.6
    assert HealthStatus.PASS is report.status


async def test_a_non_critical_failure_warns_and_stays_ready() -> None:
    report = await Health(
        callable_check(lambda: False, "cache", critical=False), callable_check(lambda: None, "db")
    ).ready()
    assert ({"cache": "warn", "db": "pass"}, HealthStatus.WARN, 200) == (
        statuses(report),
        report.status,
        report.http_status,
    )


async def test_a_check_can_report_warn_itself() -> None:
    async def degraded() -> HealthStatus:
        return HealthStatus.WARN

    report = await Health(callable_check(degraded, "replica")).ready()
    assert ("warn", "check reported warn") == (report.status.value, report.checks[0].output)


async def test_an_exception_becomes_the_failure_output() -> None:
    def broken() -> None:
        raise OSError("disk full")

    report = await Health(callable_check(broken, "disk")).ready()
    assert ("fail", "OSError: disk full") == (report.status.value, report.checks[0].output)


async def test_results_are_cached_for_the_ttl() -> None:
    calls: list[int] = []
    clock = FakeClock()
    health = Health(callable_check(lambda: calls.append(1), "c"), cache_ttl=1.0, clock=clock)
    await health.ready()
    await health.ready()
    clock.advance(1.5)
    await health.ready()
    assert 2 == len(calls)


async def test_concurrent_probes_share_one_run() -> None:
    calls: list[int] = []

    async def probe() -> None:
        calls.append(1)
        await asyncio.sleep(0.05)

    health = Health(Check("c", probe), cache_ttl=0.0)
    reports = await asyncio.gather(*(health.ready() for _ in range(10)))
    assert (1, 1) == (len(calls), len({id(r) for r in reports}))


async def test_a_hanging_sync_check_is_not_started_twice() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hang() -> None:
        calls.append(1)
        release.wait(5)

    health = Health(callable_check(hang, "legacy", timeout=0.1), cache_ttl=0.0)
    first = await health.ready()
    second = await health.ready()
    release.set()
    assert ("timed out after 0.1 s", "RuntimeError: the previous run is still going", 1) == (
        first.checks[0].output,
        second.checks[0].output,
        len(calls),
    )


def test_check_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Health(callable_check(lambda: None, "a"), callable_check(lambda: None, "a"))


async def test_livez_never_runs_a_check() -> None:
    calls: list[int] = []
    health = Health(callable_check(lambda: calls.append(1), "db"), service="orders")
    app = Starlette()
    app.add_middleware(ObserveMiddleware, registry=CollectorRegistry(), health=health)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/livez")
    assert (200, {"status": "pass", "serviceId": "orders"}, []) == (
        response.status_code,
        response.json(),
        calls,
    )


async def test_http_check_fails_on_an_error_status(http_port: int) -> None:
    report = await Health(http_check(f"http://127.0.0.1:{http_port}/broken", name="up")).ready()
    assert ("fail", "RuntimeError: status 500") == (report.status.value, report.checks[0].output)


async def test_probe_endpoints_stay_out_of_request_metrics() -> None:
    registry = CollectorRegistry()
    app = Starlette()
    app.add_middleware(
        ObserveMiddleware, registry=registry, health=Health(callable_check(lambda: None, "c"))
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/livez")
        await client.get("/readyz")
    assert None is sample(
        registry,
        "http_server_request_duration_seconds_count",
        http_request_method="GET",
        http_route="",
        http_response_status_code="200",
    )


def test_flask_serves_readyz_from_a_background_loop() -> None:
    app = Flask("h")
    instrument_flask(
        app,
        registry=CollectorRegistry(),
        health=Health(callable_check(lambda: None, "db"), callable_check(lambda: False, "queue")),
    )
    response = app.test_client().get("/readyz")
    body = orjson.loads(response.get_data())
    assert (503, "application/health+json", "queue: check returned False") == (
        response.status_code,
        response.headers["content-type"],
        body["output"],
    )


def test_a_forked_worker_runs_wsgi_probes_on_its_own_loop() -> None:
    # gunicorn --preload: a probe answered before the fork leaves a loop whose thread the
    # child does not have; the child's probes must start their own, not wait on that one
    health = Health(callable_check(lambda: None, "db"), budget=0.5)
    ready = health.wsgi_endpoints()["/readyz"]
    statuses: list[str] = []
    b"".join(ready({}, lambda status, headers: statuses.append(status)))

    def worker() -> bool:
        started = time.monotonic()
        b"".join(ready({}, lambda status, headers: statuses.append(status)))
        return statuses[-1] == "200 OK" and time.monotonic() - started < 0.5

    assert (0, ["200 OK"]) == (run_forked(worker), statuses)

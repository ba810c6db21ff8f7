from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from tests.forking import run_forked

from faultwise.observe import PoolPinned, PoolReleased, PoolWatch
from faultwise.testing import FakeClock

from .helpers import capture_logs, sample

pytestmark = pytest.mark.integration


def gauges(registry: CollectorRegistry, pool: str) -> dict[str, float | None]:
    label = {"db_client_connection_pool_name": pool}
    return {
        "used": sample(
            registry, "db_client_connection_count", db_client_connection_state="used", **label
        ),
        "idle": sample(
            registry, "db_client_connection_count", db_client_connection_state="idle", **label
        ),
        "max": sample(registry, "db_client_connection_max", **label),
        "pending": sample(registry, "db_client_connection_pending_requests", **label),
    }


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Any]:
    from sqlalchemy import create_engine

    url = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    eng = create_engine(url, pool_size=2, max_overflow=1, pool_timeout=0.2)
    yield eng
    eng.dispose()


def test_sqlalchemy_gauges_follow_checkouts(engine: Any) -> None:
    registry = CollectorRegistry()
    PoolWatch(registry=registry).sqlalchemy(engine, name="orders")
    with engine.connect() as first, engine.connect():
        during = gauges(registry, "orders")
        del first
    after = gauges(registry, "orders")
    assert {"used": 2.0, "idle": 0.0, "max": 3.0, "pending": 0.0} == during
    assert {"used": 0.0, "idle": 2.0, "max": 3.0, "pending": 0.0} == after
    assert 2.0 == sample(
        registry,
        "db_client_connection_wait_time_seconds_count",
        db_client_connection_pool_name="orders",
    )
    assert 2.0 == sample(
        registry,
        "db_client_connection_use_time_seconds_count",
        db_client_connection_pool_name="orders",
    )


def test_sqlalchemy_pool_timeouts_are_counted(engine: Any) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    registry = CollectorRegistry()
    PoolWatch(registry=registry).sqlalchemy(engine, name="orders")
    held = [engine.connect() for _ in range(3)]
    with pytest.raises(PoolTimeoutError):
        engine.connect()
    for conn in held:
        conn.close()
    assert (1.0, 0.0) == (
        sample(
            registry, "db_client_connection_timeouts_total", db_client_connection_pool_name="orders"
        ),
        gauges(registry, "orders")["pending"],
    )


def test_sqlalchemy_waiters_show_as_pending(engine: Any) -> None:
    registry = CollectorRegistry()
    PoolWatch(registry=registry).sqlalchemy(engine, name="orders")
    held = [engine.connect() for _ in range(3)]
    waiting = threading.Thread(target=lambda: engine.connect().close())
    waiting.start()
    seen = 0.0
    for _ in range(100):  # bounded: the waiter gives up after pool_timeout (0.2 s)
        seen = max(seen, gauges(registry, "orders")["pending"] or 0.0)
        if seen:
            break
        threading.Event().wait(0.002)
    held[0].close()
    waiting.join()
    for conn in held[1:]:
        conn.close()
    assert 1.0 == seen


def test_sqlalchemy_statements_are_timed_by_operation(engine: Any) -> None:
    from sqlalchemy import text

    registry = CollectorRegistry()
    PoolWatch(registry=registry).sqlalchemy(engine, name="orders")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.execute(text("  select 2"))
        with pytest.raises(Exception, match="no_such_table"):
            conn.execute(text("SELECT * FROM no_such_table"))
    duration = "db_client_operation_duration_seconds_count"
    assert (2.0, 1.0) == (
        sample(
            registry,
            duration,
            db_system_name="postgresql",
            db_operation_name="SELECT",
            error_type="",
        ),
        sample(
            registry,
            duration,
            db_system_name="postgresql",
            db_operation_name="SELECT",
            error_type="UndefinedTable",
        ),
    )


def test_a_leaking_sqlalchemy_pool_is_reported_after_the_threshold(engine: Any) -> None:
    clock = FakeClock()
    events: list[Any] = []
    watch = PoolWatch(registry=CollectorRegistry(), clock=clock, on_event=events.append)
    watch.sqlalchemy(engine, name="orders")
    leaked = [engine.connect() for _ in range(3)]  # never returned: the leak
    with capture_logs("faultwise.pool") as logs:
        assert [] == watch.poll()  # pinned from now on
        clock.advance(29.0)
        assert [] == watch.poll()
        clock.advance(2.0)
        assert [PoolPinned("orders", 3, 3, 31.0)] == watch.poll()
        clock.advance(10.0)
        assert [] == watch.poll()  # one warning per episode
        leaked.pop().close()
        clock.advance(1.0)
        assert [PoolReleased("orders", 42.0)] == watch.poll()
    for conn in leaked:
        conn.close()
    warning, info = logs.lines()
    assert {
        "severity": "WARNING",
        "message": "pool orders pinned at its maximum (3 of 3 connections in use) for 31 s: "
        "a connection leak or an undersized pool",
        "db.client.connection.pool.name": "orders",
        "event.name": "pool.pinned",
    } == {
        k: warning[k]
        for k in ("severity", "message", "db.client.connection.pool.name", "event.name")
    }
    assert ("INFO", "pool.released") == (info["severity"], info["event.name"])
    assert events == [PoolPinned("orders", 3, 3, 31.0), PoolReleased("orders", 42.0)]


def test_a_busy_pool_that_frees_a_connection_in_time_is_not_reported(engine: Any) -> None:
    clock = FakeClock()
    watch = PoolWatch(registry=CollectorRegistry(), clock=clock)
    watch.sqlalchemy(engine, name="orders")
    held = [engine.connect() for _ in range(3)]
    watch.poll()
    clock.advance(20.0)
    held.pop().close()
    watch.poll()
    held.append(engine.connect())
    clock.advance(1.0)
    watch.poll()
    clock.advance(20.0)  # 41 s since the first poll, but only 20 s pinned this time
    assert [] == watch.poll()
    for conn in held:
        conn.close()


def test_psycopg_pool_gauges_and_leak(postgres_url: str) -> None:
    from psycopg_pool import ConnectionPool, PoolTimeout

    clock = FakeClock()
    registry = CollectorRegistry()
    watch = PoolWatch(registry=registry, clock=clock, pinned_after=5.0)
    with ConnectionPool(postgres_url, min_size=2, max_size=2, timeout=0.2, name="ledger") as pool:
        pool.wait()
        watch.psycopg(pool)
        with pool.connection() as conn:
            conn.execute("SELECT 1")
            one_used = gauges(registry, "ledger")
        leaked = [pool.getconn(), pool.getconn()]
        with pytest.raises(PoolTimeout):
            pool.getconn()
        watch.poll()
        clock.advance(6.0)
        events = watch.poll()
        pinned = gauges(registry, "ledger")
        for conn in leaked:
            pool.putconn(conn)
    assert {"used": 1.0, "idle": 1.0, "max": 2.0, "pending": 0.0} == one_used
    assert {"used": 2.0, "idle": 0.0, "max": 2.0, "pending": 0.0} == pinned
    assert [PoolPinned("ledger", 2, 2, 6.0)] == events
    assert (1.0, 4.0) == (
        sample(
            registry, "db_client_connection_timeouts_total", db_client_connection_pool_name="ledger"
        ),
        sample(
            registry,
            "db_client_connection_wait_time_seconds_count",
            db_client_connection_pool_name="ledger",
        ),
    )


async def test_async_psycopg_pool_is_watched(postgres_url: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    registry = CollectorRegistry()
    watch = PoolWatch(registry=registry)
    async with AsyncConnectionPool(
        postgres_url, min_size=1, max_size=3, name="events", open=False
    ) as pool:
        await pool.wait()
        watch.psycopg(pool)
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
            during = gauges(registry, "events")
    assert (1.0, 3.0) == (during["used"], during["max"])
    assert 1.0 == sample(
        registry,
        "db_client_connection_use_time_seconds_count",
        db_client_connection_pool_name="events",
    )


def test_pool_names_must_be_unique(engine: Any) -> None:
    watch = PoolWatch(registry=CollectorRegistry())
    watch.sqlalchemy(engine, name="a")
    with pytest.raises(ValueError, match="already watched"):
        watch.sqlalchemy(engine, name="a")


def test_the_background_poller_starts_and_stops(engine: Any) -> None:
    events: list[Any] = []
    watch = PoolWatch(registry=CollectorRegistry(), pinned_after=0.0, on_event=events.append)
    watch.sqlalchemy(engine, name="bg")
    held = [engine.connect() for _ in range(3)]
    watch.start(interval=0.01)
    for _ in range(500):  # bounded wait for two polls: pinned, then reported
        if events:
            break
        threading.Event().wait(0.01)
    watch.stop()
    for conn in held:
        conn.close()
    assert [PoolPinned] == [type(e) for e in events]


def test_a_forked_worker_polls_its_pools_in_its_own_thread(engine: Any) -> None:
    # gunicorn --preload: the watch starts polling before the workers are forked
    events: list[Any] = []
    watch = PoolWatch(registry=CollectorRegistry(), pinned_after=0.0, on_event=events.append)
    watch.sqlalchemy(engine, name="forked")
    watch.start(interval=0.01)

    def worker() -> bool:
        held = [engine.connect() for _ in range(3)]  # the worker's own connections, at max
        for _ in range(300):  # bounded wait for the worker's poller: pinned, then reported
            if events:
                return [PoolPinned] == [type(e) for e in events] and len(held) == 3
            time.sleep(0.01)
        return False

    try:
        assert 0 == run_forked(worker)
    finally:
        watch.stop()
    assert [] == events  # nothing was pinned in this process

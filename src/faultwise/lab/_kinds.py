"""The lab's services: what each one does per request, with and without its defense.

Each ``build_<kind>(rt)`` returns the routes and ``/readyz`` checks of one service. Handlers
run on the service's worker pool (:class:`~faultwise.lab._runtime.WorkerPool`); work it sheds
answers 503. The faults are in the code paths a real service has: no timeout on a call, a
connection not returned on an error path, a row lock held across a call, a read-modify-write,
an ack before the work is done.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from faultwise.lab._runtime import PeerError, Runtime
from faultwise.resilience import (
    CircuitBreaker,
    CountWindow,
    Policy,
    RejectedError,
    Timeout,
)

__all__ = ["KINDS"]

log = logging.getLogger("faultwise.lab.app")

Route = Any
Build = Callable[[Runtime], tuple[list[Route], list[Any]]]


def _text(body: str, status: int = 200) -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(body, status_code=status)


async def _on_pool(rt: Runtime, request: Any, fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``fn`` on a worker; shed work answers 503."""
    try:
        return await rt.pool.run(dict(request.headers), fn)
    except RejectedError:
        return _text("overloaded", 503)


def _guard(rt: Runtime, timeout: float | None) -> Policy | None:
    """A dependency guard: a timeout and a breaker when defended, nothing at all when not."""
    if timeout is None:
        return None
    breaker = CircuitBreaker(
        failure_rate=0.5, minimum_calls=10, window=CountWindow(20),
        open_duration=2.0, half_open_calls=3, name=f"{rt.name}-breaker",
    )  # fmt: skip
    return Policy(breaker, Timeout(timeout), name=rt.name)


def _database(rt: Runtime, pool_size: int, pool_timeout: float) -> Any:
    """The service's database (and its pool, watched by observe's PoolWatch)."""
    from faultwise.lab._db import open_database
    from faultwise.observe import PoolWatch

    db_config = rt.config["db"]
    db = open_database(
        db_config["url"], table=db_config["table"], max_size=pool_size, timeout=pool_timeout,
        name=f"{rt.name}-db", hook=rt.db_span_hook("db"),
    )  # fmt: skip
    watch = PoolWatch(pinned_after=float(rt.config.get("pinned_after", 30.0)))
    watch.psycopg(db.pool, name=f"{rt.name}-db")
    rt.stats_sources.append(lambda: {"pool": db.pool.get_stats()})

    async def poll_forever() -> None:
        while True:
            await asyncio.sleep(1.0)
            watch.poll()

    rt.background.append(poll_forever)
    rt.openers.append(db.open)
    rt.closers.append(db.close)
    return db


def _db_check(db: Any) -> Any:
    from faultwise.observe import Check

    async def probe() -> None:
        async with db.pool.connection(timeout=0.5) as conn:
            await db.query(conn)

    return Check("database", probe, 0.5)


# -- retry storm --------------------------------------------------------------------------


def build_backend(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """``GET /work``: one service time of work on a worker (the storm's backend)."""
    from starlette.routing import Route

    service_time = float(rt.config.get("service_time", 0.02))

    async def work(request: Any) -> Any:
        async def job() -> Any:
            await asyncio.sleep(rt.work_time(service_time))
            return _text("ok")

        return await _on_pool(rt, request, job)

    return [Route("/work", work)], []


# -- cascading failure --------------------------------------------------------------------


def build_gateway(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """``GET /catalog`` (served here) and ``GET /orders/{id}`` (from orders), round robin
    ``GET /pay`` over the payments instances; no timeout on calls unless defended."""
    from starlette.routing import Route

    timeout = rt.config.get("call_timeout")
    peers = [rt.peer(name, _guard(rt, timeout)) for name in rt.config.get("peers", {})]
    turn = itertools.count()

    async def catalog(request: Any) -> Any:
        async def job() -> Any:
            await asyncio.sleep(rt.work_time(0.002))
            return _text("catalog")

        return await _on_pool(rt, request, job)

    async def forward(request: Any, path: str, method: str = "GET") -> Any:
        peer = peers[next(turn) % len(peers)]

        async def job() -> Any:
            try:
                response = await peer.request(method, path)
            except (PeerError, TimeoutError, OSError, RejectedError) as exc:
                log.error("%s unavailable: %s", peer.name, type(exc).__name__)
                return _text(f"{peer.name} unavailable", 502)
            return _text(response.body.decode(), response.status_code)

        return await _on_pool(rt, request, job)

    async def orders(request: Any) -> Any:
        return await forward(request, f"/orders/{request.path_params['order_id']}")

    async def pay(request: Any) -> Any:
        return await forward(request, "/payments", "POST")

    routes = [
        Route("/catalog", catalog),
        Route("/orders/{order_id}", orders),
        Route("/pay", pay),
    ]
    return routes, []


def build_orders(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """The orders service: each scenario uses one of its routes (see each route's builder)."""
    c = rt.config
    db = _database(rt, int(c.get("pool_size", 10)), float(c.get("pool_timeout", 30.0)))
    routes = [_read_route(rt, db), _charge_route(rt, db)]
    if "pricing" in c.get("peers", {}):
        routes.append(_reserve_route(rt, db))
    if "queue" in c:
        routes.append(_publish_route(rt))
    return routes, [_db_check(db)]


def _read_route(rt: Runtime, db: Any) -> Route:
    """``GET /orders/{id}``: one read. Without a ``db_timeout`` nothing bounds how long a
    slow database holds the worker and the connection (only the pool's 30 s wait)."""
    from starlette.routing import Route

    guard = _guard(rt, rt.config.get("db_timeout"))

    async def read(request: Any) -> Any:
        async def query() -> None:
            async with db.pool.connection() as conn:
                await db.query(conn)

        async def job() -> Any:
            try:
                await (guard.run_async(query) if guard is not None else query())
            except (TimeoutError, RejectedError, OSError) as exc:
                log.error("database call failed: %s", type(exc).__name__)
                return _text("database unavailable", 503)
            return _text("order")

        return await _on_pool(rt, request, job)

    return Route("/orders/{order_id:int}", read)


def _charge_route(rt: Runtime, db: Any) -> Route:
    """``POST /orders``: charges a card on a borrowed connection; on the decline path the
    connection is never given back, unless defended (``async with pool.connection()``)."""
    from starlette.routing import Route

    defended = bool(rt.config.get("defended", False))

    async def charge_defended(declined: bool) -> None:
        async with db.pool.connection() as conn:
            await db.query(conn)
            if declined:
                raise _Declined()

    async def charge_leaky(declined: bool) -> None:
        conn = await db.pool.getconn()
        await db.query(conn)
        if declined:
            raise _Declined()  # the connection is never given back on this path
        await db.pool.putconn(conn)

    charge = charge_defended if defended else charge_leaky

    async def endpoint(request: Any) -> Any:
        async def job() -> Any:
            rate = float(rt.knobs.get("decline_rate", rt.config.get("decline_rate", 0.01)))
            try:
                await charge(rt.rng.random() < rate)
            except _Declined:
                log.error("payment declined by the provider", extra={"error.type": "Declined"})
                return _text("payment declined", 502)
            except Exception as exc:  # PoolTimeout: every connection is taken
                log.error(
                    "could not get a database connection: %s", exc,
                    extra={"error.type": type(exc).__name__, "pool": db.pool.name},
                )  # fmt: skip
                return _text("database unavailable", 503)
            return _text("charged")

        return await _on_pool(rt, request, job)

    return Route("/orders", endpoint, methods=["POST"])


def _reserve_route(rt: Runtime, db: Any) -> Route:
    """``POST /orders/{sku}/reserve``: takes a unit of stock and asks pricing for the price.
    Undefended, it locks the stock row first and calls pricing inside the transaction;
    pricing's update of the same row then waits for this lock until the call times out.
    Defended, it calls pricing first, then runs a short transaction."""
    from starlette.routing import Route

    defended = bool(rt.config.get("defended", False))
    pricing = rt.peer("pricing", Policy(Timeout(float(rt.config.get("pricing_timeout", 5.0)))))

    async def locked_call(conn: Any, sku: str, key: str) -> Any:
        await db.begin(conn)
        await db.get(conn, key, for_update=True)
        log.info("holding the lock on %s while calling pricing", key, extra={"key": key})
        if not await _price(pricing, sku):
            await db.rollback(conn)
            log.error(
                "pricing did not answer while the lock on %s was held; rolled back", key,
                extra={"key": key},
            )  # fmt: skip
            return _text("pricing unavailable", 504)
        await db.add(conn, key, -1, floor=0)
        await db.commit(conn)
        return _text("reserved")

    async def call_then_lock(conn: Any, sku: str, key: str) -> Any:
        ok = await _price(pricing, sku)
        await db.begin(conn)
        await db.get(conn, key, for_update=True)
        await db.add(conn, key, -1, floor=0)
        await db.commit(conn)
        return _text("reserved" if ok else "reserved, price pending")

    reserve = call_then_lock if defended else locked_call

    async def endpoint(request: Any) -> Any:
        sku = request.path_params["sku"]

        async def job() -> Any:
            async with db.pool.connection() as conn:
                return await reserve(conn, sku, f"stock:{sku}")

        return await _on_pool(rt, request, job)

    return Route("/orders/{sku}/reserve", endpoint, methods=["POST"])


class _Declined(Exception):
    """The payment provider declined the card (the error path of the leak)."""


async def _price(pricing: Any, sku: str) -> bool:
    try:
        await pricing.request("POST", f"/price/{sku}")
    except (PeerError, TimeoutError, OSError):
        return False
    return True


# -- config drift -------------------------------------------------------------------------


def build_payments(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """``POST /payments``: a payment holds a database connection for its work. The pool's
    size and wait come from the instance's configuration file."""
    import yaml
    from starlette.routing import Route

    text = Path(rt.config["config_file"]).read_text(encoding="utf-8")
    settings = yaml.safe_load(text)["db"]
    db = _database(rt, int(settings["pool_size"]), float(settings["pool_timeout_s"]))
    hold = float(rt.config.get("work_s", 0.05))

    async def pay(request: Any) -> Any:
        async def job() -> Any:
            try:
                async with db.pool.connection() as conn:
                    await db.query(conn)
                    await asyncio.sleep(rt.work_time(hold))
            except Exception as exc:  # PoolTimeout
                log.error(
                    "could not get a database connection: %s", exc,
                    extra={"error.type": type(exc).__name__},
                )  # fmt: skip
                return _text("database unavailable", 503)
            return _text("paid")

        return await _on_pool(rt, request, job)

    return [Route("/payments", pay, methods=["POST"])], [_db_check(db)]


# -- deadlock -----------------------------------------------------------------------------


def build_pricing(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """``POST /price/{sku}``: updates the item's row (``UPDATE stock SET price = ...``)."""
    from starlette.routing import Route

    db = _database(rt, int(rt.config.get("pool_size", 10)), 30.0)

    async def price(request: Any) -> Any:
        key = f"stock:{request.path_params['sku']}"

        async def job() -> Any:
            async with db.pool.connection() as conn:
                await db.add(conn, key, 0, floor=-(2**62))
            return _text("priced")

        return await _on_pool(rt, request, job)

    return [Route("/price/{sku}", price, methods=["POST"])], [_db_check(db)]


# -- race ---------------------------------------------------------------------------------


def build_inventory(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """``POST /reserve/{sku}``: take one unit of stock. Undefended it reads the stock,
    works, and writes back what it read minus one (a lost update when two interleave);
    defended it runs one conditional update."""
    from starlette.routing import Route

    c = rt.config
    db = _database(rt, int(c.get("pool_size", 16)), 5.0)
    defended = bool(c.get("defended", False))

    async def reserve(request: Any) -> Any:
        sku = request.path_params["sku"]
        key = f"stock:{sku}"

        async def job() -> Any:
            async with db.pool.connection() as conn:
                if defended:
                    value, updated = await db.add(conn, key, -1, floor=0)
                    if not updated:
                        return _text("sold out", 409)
                    log.info("updated stock sku=%s qty=%d", sku, value)
                    return _text("reserved")
                seen = await db.get(conn, key) or 0
                if seen <= 0:
                    return _text("sold out", 409)
                await asyncio.sleep(rt.work_time(float(c.get("work_s", 0.01))))
                await db.set(conn, key, seen - 1)
                log.info("updated stock sku=%s qty=%d", sku, seen - 1)
                return _text("reserved")

        return await _on_pool(rt, request, job)

    return [Route("/reserve/{sku}", reserve, methods=["POST"])], [_db_check(db)]


# -- silent failure -----------------------------------------------------------------------


def _attach_queue(rt: Runtime) -> Any:
    """The service's queue (RabbitMQ, or the built-in one), opened with the service."""
    from faultwise.lab._queue import open_queue

    queue = open_queue(rt.config["queue"])
    rt.openers.append(queue.open)
    rt.closers.append(queue.close)
    return queue


def _publish_route(rt: Runtime) -> Route:
    """``POST /orders/publish``: publish ``order.created`` and answer 202."""
    from prometheus_client import Counter
    from starlette.routing import Route

    queue = _attach_queue(rt)
    published = Counter("messages_published", "Messages published.", ("queue",)).labels(queue.name)
    numbers = itertools.count(1)

    async def publish(request: Any) -> Any:
        async def job() -> Any:
            number = next(numbers)
            await queue.publish(json.dumps({"order": number}))
            published.inc()
            log.info("published order.created message_id=%d", number)
            return _text("accepted", 202)

        return await _on_pool(rt, request, job)

    return Route("/orders/publish", publish, methods=["POST"])


def build_consumer(rt: Runtime) -> tuple[list[Route], list[Any]]:
    """Consumes ``order.created``: acks on receipt (undefended) or after the work, and dies
    midway through a share of messages (``crash_rate``), as a process killed mid-job does."""
    from prometheus_client import Counter

    c = rt.config
    defended = bool(c.get("defended", False))
    crash_rate = float(c.get("crash_rate", 0.02))
    queue = _attach_queue(rt)
    processed = Counter("messages_processed", "Messages processed.", ("queue",)).labels(queue.name)
    log.info("consumer process started", extra={"pid": os.getpid()})

    async def consume_forever() -> None:
        while True:
            message = await queue.get(1.0)
            if message is None:
                continue
            number = json.loads(message.body)["order"]
            log.info(
                "received order.created message_id=%d", number,
                extra={"redelivered": message.redelivered},
            )  # fmt: skip
            if not defended:
                await message.ack()
                log.info("acked order.created message_id=%d", number)
            await asyncio.sleep(rt.work_time(float(c.get("work_s", 0.05))) / 2)
            if rt.rng.random() < crash_rate:
                os._exit(1)  # killed mid-job: no log line, no exception, nothing flushed
            await asyncio.sleep(rt.work_time(float(c.get("work_s", 0.05))) / 2)
            processed.inc()
            log.info("processed order.created message_id=%d", number)
            if defended:
                await message.ack()
                log.info("acked order.created message_id=%d", number)

    rt.background.append(consume_forever)
    return [], []


KINDS: dict[str, Build] = {
    "backend": build_backend,
    "gateway": build_gateway,
    "orders": build_orders,
    "pricing": build_pricing,
    "inventory": build_inventory,
    "payments": build_payments,
    "consumer": build_consumer,
}

"""The built-in data tier: row locks held to the end of a transaction, deadlock detection,
and queues whose unacked messages come back when their consumer's connection dies."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from faultwise.lab._db import BuiltinDatabase, StoreConnection
from faultwise.lab._store import Store, serve_store


def _store() -> Store:
    return Store(op_time=1e-6)


async def _run(store: Store, session: Any, op: str, **args: Any) -> dict[str, Any]:
    return await store.execute(session, {"op": op, **args})


async def test_a_row_locked_in_a_transaction_blocks_a_writer_until_commit() -> None:
    store = _store()
    store.rows["stock:a"] = 5
    holder, writer = store.session(), store.session()
    await _run(store, holder, "begin")
    await _run(store, holder, "get", key="stock:a", for_update=True)
    write = asyncio.create_task(_run(store, writer, "set", key="stock:a", value=9))
    await asyncio.sleep(0.05)
    assert (False, 5) == (write.done(), store.rows["stock:a"])
    await _run(store, holder, "commit")
    assert {"ok": True} == await asyncio.wait_for(write, 1.0)
    assert 9 == store.rows["stock:a"]


async def test_a_wait_cycle_inside_the_database_is_broken_with_deadlock_detected() -> None:
    store = _store()
    one, two = store.session(), store.session()
    for session, key in ((one, "r:1"), (two, "r:2")):
        await _run(store, session, "begin")
        await _run(store, session, "set", key=key, value=1)
    waiting = asyncio.create_task(_run(store, one, "set", key="r:2", value=2))
    await asyncio.sleep(0.05)
    assert {"ok": False, "error": "deadlock detected"} == await _run(
        store, two, "set", key="r:1", value=2
    )
    assert {"ok": True} == await asyncio.wait_for(waiting, 1.0)
    assert 1 == store.stats["deadlocks"]


async def test_rollback_restores_what_the_transaction_wrote() -> None:
    store = _store()
    store.rows["stock:a"] = 5
    session = store.session()
    await _run(store, session, "begin")
    await _run(store, session, "add", key="stock:a", delta=-1, min=0)
    await _run(store, session, "rollback")
    assert 5 == store.rows["stock:a"]


async def test_the_conditional_update_never_goes_below_its_floor() -> None:
    store = _store()
    store.rows["stock:a"] = 1
    session = store.session()
    first = await _run(store, session, "add", key="stock:a", delta=-1, min=0)
    second = await _run(store, session, "add", key="stock:a", delta=-1, min=0)
    assert [(0, True), (0, False)] == [(r["value"], r["updated"]) for r in (first, second)]


async def test_an_unacked_message_is_redelivered_when_its_consumer_disconnects() -> None:
    store = _store()
    producer, consumer = store.session(), store.session()
    await _run(store, producer, "publish", queue="q", body="m1")
    got = await _run(store, consumer, "get_message", queue="q", wait=0.1)
    assert ("m1", False) == (got["message"]["body"], got["message"]["redelivered"])
    store.disconnect(consumer)  # the consumer died holding it
    again = await _run(store, store.session(), "get_message", queue="q", wait=0.1)
    assert ("m1", True) == (again["message"]["body"], again["message"]["redelivered"])


async def test_an_acked_message_is_gone_for_good() -> None:
    store = _store()
    producer, consumer = store.session(), store.session()
    await _run(store, producer, "publish", queue="q", body="m1")
    got = await _run(store, consumer, "get_message", queue="q", wait=0.1)
    await _run(store, consumer, "ack", tag=got["message"]["tag"])
    store.disconnect(consumer)
    assert {"ok": True, "message": None} == await _run(
        store, store.session(), "get_message", queue="q", wait=0.05
    )


async def test_the_pool_times_out_when_every_connection_is_taken() -> None:
    psycopg_pool = pytest.importorskip("psycopg_pool")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = asyncio.create_task(serve_store(_store(), sock))
    port = sock.getsockname()[1]
    db = BuiltinDatabase(
        f"faultwise-store://127.0.0.1:{port}", max_size=1, timeout=0.05, name="t-db"
    )
    try:
        held = await db.pool.getconn()
        assert isinstance(held, StoreConnection)
        with pytest.raises(psycopg_pool.PoolTimeout, match="couldn't get a connection"):
            await db.pool.getconn()
        await db.pool.putconn(held)
        async with db.pool.connection() as conn:
            await db.query(conn)
        assert {"pool_size": 1, "pool_available": 1} == {
            k: v for k, v in db.pool.get_stats().items() if k in ("pool_size", "pool_available")
        }
    finally:
        await db.close()
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        sock.close()

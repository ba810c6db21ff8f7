"""The lab's built-in data tier: a small database and message broker on 127.0.0.1.

Used when no PostgreSQL or RabbitMQ is given, so every scenario runs with no servers. It
keeps the semantics the scenarios need, per TCP connection as a real database and broker
do:

* rows (``key -> integer``) with row locks: ``get`` with ``for_update`` and every write lock
  the row until the transaction ends (``begin``/``commit``/``rollback``; outside a
  transaction a statement is its own transaction). A lock wait is unbounded, as
  PostgreSQL's default ``lock_timeout = 0``; after 1 s the wait is logged the way
  PostgreSQL logs it with ``log_lock_waits`` ("still waiting for ShareLock ..."), and a
  wait cycle inside the database is broken with "deadlock detected", as PostgreSQL does;
* queues with acknowledgements: a message taken with ``get`` is the connection's until it
  is acked; when the connection closes (the consumer crashed) its unacked messages go back
  to the head of the queue, marked redelivered, as AMQP brokers do;
* every statement takes ``op_time`` seconds (exponential) times ``slowdown``, which the lab
  raises to make the database slow.

Protocol: one JSON object per line each way: ``{"op": "get", "key": "stock:42"}`` ->
``{"ok": true, "value": 100}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Store", "StoreError", "serve_store"]

log = logging.getLogger("faultwise.lab.db")

LOCK_WAIT_LOG_S = 1.0  # PostgreSQL's deadlock_timeout: when log_lock_waits reports a wait


class StoreError(Exception):
    """An error the data tier answered with (a failed statement)."""


@dataclass(slots=True)
class _Session:
    pid: int
    tx: int | None = None
    locks: set[str] = field(default_factory=set)
    undo: dict[str, int | None] = field(default_factory=dict)
    unacked: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    waiting_for: str | None = None


@dataclass(slots=True)
class _Message:
    tag: int
    body: bytes
    redelivered: bool = False


class Store:
    """The state and the statements; :func:`serve_store` puts it on a TCP port."""

    def __init__(self, *, op_time: float = 0.001, seed: int = 0) -> None:
        self.rows: dict[str, int] = {}
        self.op_time = op_time
        self.slowdown = 1.0
        self.rng = random.Random(seed)
        self._owners: dict[str, _Session] = {}
        self._lock_waiters: dict[str, deque[tuple[_Session, asyncio.Future[None]]]] = {}
        self._queues: dict[str, deque[_Message]] = {}
        self._consumers: dict[str, deque[asyncio.Future[None]]] = {}
        self._pids = itertools.count(10_000)
        self._txids = itertools.count(700)
        self._tags = itertools.count(1)
        self.stats = {"statements": 0, "lock_waits": 0, "deadlocks": 0, "redelivered": 0}

    def session(self) -> _Session:
        return _Session(next(self._pids))

    # -- statements -------------------------------------------------------------------------

    async def execute(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        handler: Callable[[_Session, dict[str, Any]], Any] | None = getattr(self, f"_op_{op}", None)
        if handler is None:
            return {"ok": False, "error": f"unknown statement {op!r}"}
        self.stats["statements"] += 1
        if op not in ("fault", "stats", "get_message", "ack"):
            await asyncio.sleep(self.rng.expovariate(1.0 / self.op_time) * self.slowdown)
        try:
            result = await handler(s, req)
        except StoreError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **(result or {})}

    async def _op_begin(self, s: _Session, req: dict[str, Any]) -> None:
        if s.tx is None:
            s.tx = next(self._txids)

    async def _op_commit(self, s: _Session, req: dict[str, Any]) -> None:
        self._end(s, commit=True)

    async def _op_rollback(self, s: _Session, req: dict[str, Any]) -> None:
        self._end(s, commit=False)

    async def _op_query(self, s: _Session, req: dict[str, Any]) -> None:
        """A read that touches no lock (``SELECT ... FROM orders WHERE id = $1``)."""

    async def _op_get(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        key = str(req["key"])
        if req.get("for_update"):
            await self._lock(s, key)
            self._autocommit(s)
        return {"value": self.rows.get(key)}

    async def _op_set(self, s: _Session, req: dict[str, Any]) -> None:
        key = str(req["key"])
        await self._lock(s, key)
        s.undo.setdefault(key, self.rows.get(key))
        self.rows[key] = int(req["value"])
        self._autocommit(s)

    async def _op_add(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        """``UPDATE ... SET n = n + delta WHERE key AND n + delta >= min RETURNING n``."""
        key = str(req["key"])
        await self._lock(s, key)
        value = self.rows.get(key, 0)
        new = value + int(req.get("delta", 1))
        done = new >= int(req.get("min", -(2**62)))
        if done:
            s.undo.setdefault(key, self.rows.get(key))
            self.rows[key] = new
        self._autocommit(s)
        return {"value": new if done else value, "updated": done}

    async def _op_fault(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        self.slowdown = float(req.get("slowdown", 1.0))  # a slow disk logs nothing either
        return {"slowdown": self.slowdown}

    async def _op_stats(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        queues = {name: len(q) for name, q in self._queues.items()}
        return {**self.stats, "locks": len(self._owners), "queues": queues, "rows": self.rows}

    # -- queues -----------------------------------------------------------------------------

    async def _op_publish(self, s: _Session, req: dict[str, Any]) -> None:
        queue = str(req["queue"])
        self._queues.setdefault(queue, deque()).append(
            _Message(next(self._tags), str(req["body"]).encode())
        )
        self._wake(queue)

    async def _op_get_message(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        """The next message of ``queue``, waiting up to ``wait`` seconds (None: none came)."""
        queue = str(req["queue"])
        messages = self._queues.setdefault(queue, deque())
        deadline = time.monotonic() + float(req.get("wait", 1.0))
        while not messages:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"message": None}
            waiter = asyncio.get_running_loop().create_future()
            self._consumers.setdefault(queue, deque()).append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, left)
        message = messages.popleft()
        s.unacked[message.tag] = (queue, message.body)
        return {
            "message": {
                "tag": message.tag,
                "body": message.body.decode(),
                "redelivered": message.redelivered,
            }
        }

    async def _op_ack(self, s: _Session, req: dict[str, Any]) -> None:
        if s.unacked.pop(int(req["tag"]), None) is None:
            raise StoreError(f"unknown delivery tag {req['tag']}")

    def _wake(self, queue: str) -> None:
        waiters = self._consumers.get(queue)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    # -- locks and transactions -------------------------------------------------------------

    async def _lock(self, s: _Session, key: str) -> None:
        owner = self._owners.get(key)
        if owner is None or owner is s:
            self._owners[key] = s
            s.locks.add(key)
            return
        if self._closes_cycle(s, owner):
            self.stats["deadlocks"] += 1
            log.error(
                "deadlock detected",
                extra={
                    "detail": f"Process {s.pid} waits for ShareLock on transaction {owner.tx}; "
                    f"blocked by process {owner.pid}.",
                    "key": key,
                },
            )
            self._end(s, commit=False)
            raise StoreError("deadlock detected")
        self.stats["lock_waits"] += 1
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lock_waiters.setdefault(key, deque()).append((s, waiter))
        s.waiting_for = key
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), LOCK_WAIT_LOG_S)
        except TimeoutError:
            holder = self._owners.get(key)
            log.warning(
                "process %d still waiting for ShareLock on transaction %s after %.3f ms",
                s.pid,
                holder.tx if holder else "?",
                (time.monotonic() - started) * 1000,
                extra={
                    "detail": f"Process holding the lock: {holder.pid if holder else '?'}. "
                    f"Wait queue: {s.pid}.",
                    "context": f'while updating tuple in relation "{_relation(key)}"',
                    "key": key,
                },
            )
            await waiter
            log.info(
                "process %d acquired ShareLock on transaction %s after %.3f ms",
                s.pid,
                holder.tx if holder else "?",
                (time.monotonic() - started) * 1000,
                extra={"key": key},
            )
        finally:
            s.waiting_for = None

    def _closes_cycle(self, s: _Session, owner: _Session) -> bool:
        seen: set[int] = set()
        current: _Session | None = owner
        while current is not None and current.pid not in seen:
            if current is s:
                return True
            seen.add(current.pid)
            key = current.waiting_for
            current = self._owners.get(key) if key is not None else None
        return False

    def _autocommit(self, s: _Session) -> None:
        if s.tx is None:
            self._end(s, commit=True)

    def _end(self, s: _Session, *, commit: bool) -> None:
        if not commit:
            for key, old in s.undo.items():
                if old is None:
                    self.rows.pop(key, None)
                else:
                    self.rows[key] = old
        s.undo.clear()
        s.tx = None
        for key in list(s.locks):
            self._release(key)
        s.locks.clear()

    def _release(self, key: str) -> None:
        waiters = self._lock_waiters.get(key)
        while waiters:
            session, waiter = waiters.popleft()
            if not waiter.done():
                self._owners[key] = session
                session.locks.add(key)
                waiter.set_result(None)
                return
        self._owners.pop(key, None)

    def disconnect(self, s: _Session) -> None:
        """The connection closed: roll back, release locks, requeue unacked messages."""
        self._end(s, commit=False)
        for tag, (queue, body) in sorted(s.unacked.items(), reverse=True):
            self._queues.setdefault(queue, deque()).appendleft(_Message(tag, body, True))
            self.stats["redelivered"] += 1
            self._wake(queue)
        s.unacked.clear()


def _relation(key: str) -> str:
    return key.split(":", maxsplit=1)[0]


async def serve_store(store: Store, sock: Any) -> None:
    """Serve ``store`` on the listening socket ``sock`` until cancelled."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = store.session()
        try:
            while line := await reader.readline():
                try:
                    request = orjson.loads(line)
                except orjson.JSONDecodeError:
                    reply: dict[str, Any] = {"ok": False, "error": "not a JSON line"}
                else:
                    reply = await store.execute(session, request)
                writer.write(orjson.dumps(reply) + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: same as a close
        finally:
            store.disconnect(session)
            writer.close()

    server = await asyncio.start_server(connection, sock=sock)
    async with server:
        await server.serve_forever()

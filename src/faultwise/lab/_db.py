"""The database tier as a service sees it: a bounded connection pool and a few statements.

Two back ends with one interface, so a scenario's handler is written once:

* :class:`PostgresDatabase`: the real PostgreSQL through a ``psycopg_pool``
  ``AsyncConnectionPool``: real row locks (``SELECT ... FOR UPDATE``), real lost updates
  (a read, then ``UPDATE ... SET value = <what was read - 1>``);
* :class:`BuiltinDatabase`: the lab's data tier (:mod:`faultwise.lab._store`) through
  :class:`LabPool`, a pool with ``psycopg_pool``'s interface (``getconn``, ``putconn``,
  ``get_stats``, ``PoolTimeout``), so :class:`faultwise.observe.PoolWatch` watches either
  pool unchanged.

Each statement is recorded as a client span (``peer`` = the database service), as a
database client instrumentation records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from faultwise._errors import require
from faultwise.lab._store import StoreError

__all__ = [
    "BuiltinDatabase",
    "Database",
    "LabPool",
    "PostgresDatabase",
    "StoreConnection",
    "open_database",
    "rows_table",
]

SpanHook = Callable[[str, float, float, BaseException | None], None]
"""Called after each statement: ``(operation, start_s, end_s, error)`` (wall clock, s)."""


class StoreConnection:
    """One connection (one session) to the built-in data tier."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, host: str, port: int) -> StoreConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one statement; raises :class:`StoreError` when it failed."""
        self._writer.write(orjson.dumps({"op": op, **args}) + b"\n")
        line = await self._reader.readline()
        if not line:
            raise ConnectionError("the database closed the connection")
        reply: dict[str, Any] = orjson.loads(line)
        if not reply.get("ok"):
            raise StoreError(str(reply.get("error")))
        return reply

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


class LabPool:
    """A bounded pool of :class:`StoreConnection` with ``psycopg_pool``'s async interface.

    ``getconn(timeout)`` hands out an idle connection, opens a new one while fewer than
    ``max_size`` exist, or waits in line; after ``timeout`` it raises ``PoolTimeout``.
    """

    def __init__(self, host: str, port: int, *, max_size: int, timeout: float, name: str) -> None:
        self.host, self.port = host, port
        self.max_size = max_size
        self.min_size = 0
        self.timeout = timeout
        self.name = name
        self._idle: deque[StoreConnection] = deque()
        self._size = 0
        self._waiting: deque[asyncio.Future[StoreConnection]] = deque()
        self._timeout_error: type[Exception] = require("psycopg_pool", "lab").PoolTimeout

    def get_stats(self) -> dict[str, int]:
        return {
            "pool_min": self.min_size,
            "pool_max": self.max_size,
            "pool_size": self._size,
            "pool_available": len(self._idle),
            "requests_waiting": len(self._waiting),
        }

    async def open(self) -> None:
        """Nothing to do: connections open on demand."""

    async def getconn(self, timeout: float | None = None) -> StoreConnection:  # noqa: ASYNC109
        if self._idle:
            return self._idle.pop()
        if self._size < self.max_size:
            self._size += 1
            try:
                return await StoreConnection.connect(self.host, self.port)
            except BaseException:
                self._size -= 1
                raise
        wait = self.timeout if timeout is None else timeout
        waiter: asyncio.Future[StoreConnection] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), wait)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return waiter.result()  # handed over just as the wait ran out
            waiter.cancel()
            raise self._timeout_error(f"couldn't get a connection after {wait:.2f} sec") from None

    async def putconn(self, conn: StoreConnection) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[StoreConnection]:  # noqa: ASYNC109
        conn = await self.getconn(timeout)
        try:
            yield conn
        finally:
            await self.putconn(conn)

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()


class Database(Protocol):
    """The statements the scenarios run, on a connection borrowed from :attr:`pool`."""

    system: str
    pool: Any

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def query(self, conn: Any) -> None:
        """A read that takes no lock (``SELECT ... WHERE id = $1``)."""
        ...

    async def begin(self, conn: Any) -> None: ...

    async def commit(self, conn: Any) -> None: ...

    async def rollback(self, conn: Any) -> None: ...

    async def get(self, conn: Any, key: str, *, for_update: bool = False) -> int | None: ...

    async def set(self, conn: Any, key: str, value: int) -> None: ...

    async def add(self, conn: Any, key: str, delta: int, *, floor: int) -> tuple[int, bool]:
        """``value += delta`` unless it would go below ``floor``: (value, updated)."""
        ...


class _Traced:
    """Times every statement into the span hook."""

    def __init__(self, hook: SpanHook | None) -> None:
        self.hook = hook

    @contextlib.contextmanager
    def _span(self, operation: str) -> Any:
        start = time.time()
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self.hook is not None:
                self.hook(operation, start, time.time(), error)


class BuiltinDatabase(_Traced):
    """The lab's data tier at ``faultwise-store://127.0.0.1:PORT``."""

    system = "faultwise_lab"

    def __init__(
        self, url: str, *, max_size: int, timeout: float, name: str, hook: SpanHook | None = None
    ) -> None:
        super().__init__(hook)
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"need faultwise-store://host:port, got {url!r}")
        self.pool = LabPool(
            parts.hostname, parts.port, max_size=max_size, timeout=timeout, name=name
        )

    async def open(self) -> None:
        await self.pool.open()

    async def close(self) -> None:
        await self.pool.close()

    async def _call(self, conn: StoreConnection, operation: str, op: str, **args: Any) -> Any:
        with self._span(operation):
            return await conn.call(op, **args)

    async def query(self, conn: Any) -> None:
        await self._call(conn, "SELECT orders", "query")

    async def begin(self, conn: Any) -> None:
        await self._call(conn, "BEGIN", "begin")

    async def commit(self, conn: Any) -> None:
        await self._call(conn, "COMMIT", "commit")

    async def rollback(self, conn: Any) -> None:
        await self._call(conn, "ROLLBACK", "rollback")

    async def get(self, conn: Any, key: str, *, for_update: bool = False) -> int | None:
        name = f"SELECT {_relation(key)}" + (" FOR UPDATE" if for_update else "")
        reply = await self._call(conn, name, "get", key=key, for_update=for_update)
        value = reply.get("value")
        return None if value is None else int(value)

    async def set(self, conn: Any, key: str, value: int) -> None:
        await self._call(conn, f"UPDATE {_relation(key)}", "set", key=key, value=value)

    async def add(self, conn: Any, key: str, delta: int, *, floor: int) -> tuple[int, bool]:
        reply = await self._call(
            conn, f"UPDATE {_relation(key)}", "add", key=key, delta=delta, min=floor
        )
        return int(reply["value"]), bool(reply["updated"])


def _relation(key: str) -> str:
    """The table a row key stands for: ``stock:sku-7`` is a row of ``stock``."""
    return key.split(":", 1)[0]


def rows_table(run_id: str) -> str:
    """The PostgreSQL table of one lab run (runs never share rows)."""
    return f"faultwise_lab_rows_{run_id}"


class PostgresDatabase(_Traced):
    """PostgreSQL through a ``psycopg_pool.AsyncConnectionPool`` (autocommit connections;
    ``begin`` opens an explicit transaction)."""

    system = "postgresql"

    def __init__(
        self,
        dsn: str,
        *,
        table: str,
        max_size: int,
        timeout: float,
        name: str,
        hook: SpanHook | None = None,
    ) -> None:
        super().__init__(hook)
        pool_module = require("psycopg_pool", "lab")
        self.table = table
        self.pool = pool_module.AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            name=name,
            open=False,
            kwargs={"autocommit": True},
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=10.0)

    async def close(self) -> None:
        await self.pool.close()

    async def _sql(self, conn: Any, operation: str, sql: str, args: tuple[Any, ...] = ()) -> Any:
        with self._span(operation):
            cursor = await conn.execute(sql, args)
            return await cursor.fetchone() if cursor.description else None

    async def query(self, conn: Any) -> None:
        await self._sql(conn, "SELECT orders", f"SELECT count(*) FROM {self.table}")

    async def begin(self, conn: Any) -> None:
        await self._sql(conn, "BEGIN", "BEGIN")

    async def commit(self, conn: Any) -> None:
        await self._sql(conn, "COMMIT", "COMMIT")

    async def rollback(self, conn: Any) -> None:
        await self._sql(conn, "ROLLBACK", "ROLLBACK")

    async def get(self, conn: Any, key: str, *, for_update: bool = False) -> int | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._sql(
            conn,
            f"SELECT {_relation(key)}{lock}",
            f"SELECT value FROM {self.table} WHERE key = %s{lock}",
            (key,),
        )
        return None if row is None else int(row[0])

    async def set(self, conn: Any, key: str, value: int) -> None:
        await self._sql(
            conn,
            f"UPDATE {_relation(key)}",
            f"UPDATE {self.table} SET value = %s WHERE key = %s",
            (value, key),
        )

    async def add(self, conn: Any, key: str, delta: int, *, floor: int) -> tuple[int, bool]:
        row = await self._sql(
            conn,
            f"UPDATE {_relation(key)}",
            f"UPDATE {self.table} SET value = value + %s WHERE key = %s AND value + %s >= %s "
            "RETURNING value",
            (delta, key, delta, floor),
        )
        if row is not None:
            return int(row[0]), True
        current = await self.get(conn, key)
        return (current or 0), False


def open_database(
    url: str, *, table: str, max_size: int, timeout: float, name: str, hook: SpanHook | None
) -> Database:
    """The database at ``url``: ``postgresql://...`` or ``faultwise-store://127.0.0.1:PORT``."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(
            url, table=table, max_size=max_size, timeout=timeout, name=name, hook=hook
        )
    return BuiltinDatabase(url, max_size=max_size, timeout=timeout, name=name, hook=hook)

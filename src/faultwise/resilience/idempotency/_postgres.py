"""Idempotency keys in PostgreSQL: one row per key, claimed with ``INSERT ... ON CONFLICT``.

A claim is an upsert that takes the row only when it is absent or expired, so exactly one of
many concurrent callers gets it; expiry runs on the server's clock. Expired rows are taken
over by the next claim of their key; :meth:`PostgresIdempotencyStore.purge` deletes the
rest (run it from a periodic job). Needs the ``postgres`` extra (psycopg 3, psycopg_pool).

>>> store = PostgresIdempotencyStore("postgresql://127.0.0.1/app")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from typing import TYPE_CHECKING, Any

from faultwise._errors import require
from faultwise.resilience.idempotency._core import Begin, Claimed, Completed, InFlight

psycopg = require("psycopg", "postgres")
psycopg_pool = require("psycopg_pool", "postgres")
from psycopg import sql  # noqa: E402

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = ["AsyncPostgresIdempotencyStore", "PostgresIdempotencyStore"]

_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    key text PRIMARY KEY,
    fingerprint text NOT NULL,
    token text NOT NULL,
    done boolean NOT NULL DEFAULT false,
    payload bytea,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS {index} ON {table} (expires_at)
"""
_CLAIM = """
INSERT INTO {table} AS held (key, fingerprint, token, done, payload, expires_at)
VALUES (%(key)s, %(fingerprint)s, %(token)s, false, NULL,
        clock_timestamp() + %(seconds)s * interval '1 second')
ON CONFLICT (key) DO UPDATE
    SET fingerprint = excluded.fingerprint, token = excluded.token, done = false,
        payload = NULL, expires_at = excluded.expires_at
    WHERE held.expires_at <= clock_timestamp()
RETURNING held.token
"""
_HELD = """
SELECT fingerprint, done, payload FROM {table}
WHERE key = %(key)s AND expires_at > clock_timestamp()
"""
_COMPLETE = """
UPDATE {table} SET done = true, payload = %(payload)s,
    expires_at = clock_timestamp() + %(seconds)s * interval '1 second'
WHERE key = %(key)s AND token = %(token)s AND NOT done AND expires_at > clock_timestamp()
"""
_RELEASE = "DELETE FROM {table} WHERE key = %(key)s AND token = %(token)s AND NOT done"
_PURGE = "DELETE FROM {table} WHERE expires_at <= clock_timestamp()"
_RACED_CREATE: tuple[type[Exception], ...] = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.DuplicateTable,
    psycopg.errors.DuplicateObject,
)
_ATTEMPTS = 5  # a claim races a row that expires or is released between two statements


class _Statements:
    """The SQL of both twins, composed once for the configured table."""

    __slots__ = ("claim", "complete", "create", "held", "purge", "release", "table")

    def __init__(self, table: str) -> None:
        ident = sql.Identifier(*table.split("."))
        index = sql.Identifier(f"{table.rsplit('.', 1)[-1]}_expires_at")

        def compose(text: str) -> Any:
            return sql.SQL(text).format(table=ident, index=index)

        self.table = table
        self.create = compose(_CREATE)
        self.claim = compose(_CLAIM)
        self.held = compose(_HELD)
        self.complete = compose(_COMPLETE)
        self.release = compose(_RELEASE)
        self.purge = compose(_PURGE)


def _claimed(row: tuple[Any, ...] | None, token: str) -> Claimed | None:
    return Claimed(token) if row is not None and row[0] == token else None


def _held(row: tuple[Any, ...] | None) -> Begin | None:
    if row is None:
        return None
    fingerprint, done, payload = row
    return Completed(fingerprint, bytes(payload)) if done else InFlight(fingerprint)


def _params(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, **extra}


def _lost_race(key: str) -> RuntimeError:
    return RuntimeError(f"idempotency key {key!r} kept changing hands; giving up after {_ATTEMPTS}")


class PostgresIdempotencyStore:
    """Keys shared through a PostgreSQL table (created on first use unless told not to).

    ``pool`` is a ``psycopg_pool.ConnectionPool`` or a connection string (a pool of up to
    ``max_size`` connections is then opened and owned by the store: :meth:`close` it).
    """

    __slots__ = ("_owned", "_pool", "_ready", "_ready_lock", "_sql")

    def __init__(
        self,
        pool: ConnectionPool | str,
        *,
        table: str = "faultwise_idempotency",
        create_table: bool = True,
        max_size: int = 10,
    ) -> None:
        self._owned = isinstance(pool, str)
        self._pool: ConnectionPool = (
            psycopg_pool.ConnectionPool(
                pool, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=True
            )
            if isinstance(pool, str)
            else pool
        )
        self._sql = _Statements(table)
        self._ready = not create_table
        self._ready_lock = threading.Lock()

    def begin(self, key: str, fingerprint: str, lease: float) -> Begin:
        self._setup()
        token = secrets.token_hex(16)
        with self._pool.connection() as conn:
            for _ in range(_ATTEMPTS):
                params = _params(key, fingerprint=fingerprint, token=token, seconds=lease)
                claimed = _claimed(conn.execute(self._sql.claim, params).fetchone(), token)
                if claimed is not None:
                    return claimed
                held = _held(conn.execute(self._sql.held, _params(key)).fetchone())
                if held is not None:
                    return held
        raise _lost_race(key)

    def complete(self, key: str, token: str, payload: bytes, ttl: float) -> bool:
        params = _params(key, token=token, payload=payload, seconds=ttl)
        with self._pool.connection() as conn:
            return conn.execute(self._sql.complete, params).rowcount == 1

    def release(self, key: str, token: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute(self._sql.release, _params(key, token=token)).rowcount == 1

    def purge(self) -> int:
        """Delete expired keys; returns how many."""
        self._setup()
        with self._pool.connection() as conn:
            return conn.execute(self._sql.purge).rowcount

    def close(self) -> None:
        """Close the pool if the store opened it."""
        if self._owned:
            self._pool.close()

    def _setup(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                with self._pool.connection() as conn:
                    _create(conn, self._sql)
                self._ready = True

    def __repr__(self) -> str:
        return f"PostgresIdempotencyStore(table={self._sql.table!r})"


class AsyncPostgresIdempotencyStore:
    """The asyncio twin of :class:`PostgresIdempotencyStore` (an ``AsyncConnectionPool`` or a
    connection string; an owned pool opens on first use)."""

    __slots__ = ("_conninfo", "_max_size", "_pool", "_ready", "_ready_lock", "_sql")

    def __init__(
        self,
        pool: AsyncConnectionPool | str,
        *,
        table: str = "faultwise_idempotency",
        create_table: bool = True,
        max_size: int = 10,
    ) -> None:
        self._conninfo = pool if isinstance(pool, str) else None
        self._pool: AsyncConnectionPool | None = None if isinstance(pool, str) else pool
        self._max_size = max_size
        self._sql = _Statements(table)
        self._ready = not create_table
        self._ready_lock: asyncio.Lock | None = None

    async def begin_async(self, key: str, fingerprint: str, lease: float) -> Begin:
        pool = await self._setup()
        token = secrets.token_hex(16)
        async with pool.connection() as conn:
            for _ in range(_ATTEMPTS):
                params = _params(key, fingerprint=fingerprint, token=token, seconds=lease)
                cursor = await conn.execute(self._sql.claim, params)
                claimed = _claimed(await cursor.fetchone(), token)
                if claimed is not None:
                    return claimed
                cursor = await conn.execute(self._sql.held, _params(key))
                held = _held(await cursor.fetchone())
                if held is not None:
                    return held
        raise _lost_race(key)

    async def complete_async(self, key: str, token: str, payload: bytes, ttl: float) -> bool:
        pool = await self._setup()
        params = _params(key, token=token, payload=payload, seconds=ttl)
        async with pool.connection() as conn:
            return (await conn.execute(self._sql.complete, params)).rowcount == 1

    async def release_async(self, key: str, token: str) -> bool:
        pool = await self._setup()
        async with pool.connection() as conn:
            return (await conn.execute(self._sql.release, _params(key, token=token))).rowcount == 1

    async def purge_async(self) -> int:
        """Delete expired keys; returns how many."""
        pool = await self._setup()
        async with pool.connection() as conn:
            return (await conn.execute(self._sql.purge)).rowcount

    async def close(self) -> None:
        """Close the pool if the store opened it."""
        if self._conninfo is not None and self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _setup(self) -> AsyncConnectionPool:
        if self._ready and self._pool is not None:
            return self._pool
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._pool is None:
                pool = psycopg_pool.AsyncConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._max_size,
                    kwargs={"autocommit": True},
                    open=False,
                )
                await pool.open()
                self._pool = pool
            if not self._ready:
                async with self._pool.connection() as conn:
                    await _create_async(conn, self._sql)
                self._ready = True
        return self._pool

    def __repr__(self) -> str:
        return f"AsyncPostgresIdempotencyStore(table={self._sql.table!r})"


def _create(conn: Any, statements: _Statements) -> None:
    with contextlib.suppress(*_RACED_CREATE):  # another process created it at the same moment
        conn.execute(statements.create)


async def _create_async(conn: Any, statements: _Statements) -> None:
    with contextlib.suppress(*_RACED_CREATE):  # another process created it at the same moment
        await conn.execute(statements.create)

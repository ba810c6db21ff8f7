"""The message queue as a service sees it: publish, get, ack.

* :class:`RabbitQueue`: RabbitMQ through aio-pika (``amqp://...``): a message taken without
  ``no_ack`` stays the consumer's until it is acked, and goes back to the queue, marked
  redelivered, when the consumer's connection dies;
* :class:`BuiltinQueue`: the lab's data tier (``faultwise-store://...``), with the same
  semantics.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from faultwise._errors import require

__all__ = ["Message", "Queue", "open_queue"]


@dataclass(slots=True)
class Message:
    body: str
    redelivered: bool
    _ack: Any

    async def ack(self) -> None:
        await self._ack()


class Queue(Protocol):
    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, body: str) -> None: ...

    async def get(self, wait: float) -> Message | None: ...


class BuiltinQueue:
    """A queue of the built-in data tier, over one connection (one session)."""

    def __init__(self, url: str, name: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"need faultwise-store://host:port, got {url!r}")
        self.host, self.port = parts.hostname, parts.port
        self.name = name
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection

    async def open(self) -> None:
        from faultwise.lab._db import StoreConnection

        self._conn = await StoreConnection.connect(self.host, self.port)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _call(self, op: str, **args: Any) -> dict[str, Any]:
        async with self._lock:
            reply: dict[str, Any] = await self._conn.call(op, queue=self.name, **args)
            return reply

    async def publish(self, body: str) -> None:
        await self._call("publish", body=body)

    async def get(self, wait: float) -> Message | None:
        reply = await self._call("get_message", wait=wait)
        found = reply.get("message")
        if found is None:
            return None

        async def ack() -> None:
            await self._call("ack", tag=found["tag"])

        return Message(found["body"], bool(found["redelivered"]), ack)


class RabbitQueue:
    """A RabbitMQ queue (declared on open, deleted by the lab after the run)."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._connection: Any = None
        self._channel: Any = None
        self._queue: Any = None

    async def open(self) -> None:
        aio_pika = require("aio_pika", "lab")
        self._connection = await aio_pika.connect(self.url)
        self._channel = await self._connection.channel()
        self._queue = await self._channel.declare_queue(self.name, durable=False)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def publish(self, body: str) -> None:
        aio_pika = require("aio_pika", "lab")
        await self._channel.default_exchange.publish(
            aio_pika.Message(body.encode()), routing_key=self.name
        )

    async def get(self, wait: float) -> Message | None:
        incoming = await self._queue.get(no_ack=False, fail=False, timeout=wait)
        if incoming is None:
            await asyncio.sleep(min(wait, 0.05))  # get does not wait for a message
            return None
        return Message(incoming.body.decode(), bool(incoming.redelivered), incoming.ack)


def open_queue(config: dict[str, Any]) -> Queue:
    """The queue ``config["name"]`` at ``config["url"]`` (``amqp://`` or the built-in one)."""
    if str(config["url"]).startswith(("amqp://", "amqps://")):
        return RabbitQueue(config["url"], config["name"])
    return BuiltinQueue(config["url"], config["name"])

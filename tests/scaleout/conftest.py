from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from tests.conftest import system_tool

from .redis_server import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis only this test uses, which it may stop mid-test."""
    server = RedisServer(system_tool("redis-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own, its keys deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()

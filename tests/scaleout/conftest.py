from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import system_tool

from .redis_server import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis only this test uses, which it may stop mid-test."""
    server = RedisServer(system_tool("redis-server"))
    server.start()
    yield server
    server.stop()

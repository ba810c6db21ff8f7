"""FW17x: blocking calls inside ``async def``."""

from __future__ import annotations

import pytest
from rule_cases import rule_tests

FLAGGED = [
    pytest.param(
        """
        import time, requests, httpx
        from time import sleep
        async def handler():
            time.sleep(1)
            sleep(0.1)
            requests.get("u", timeout=5)
            httpx.Client().get("u")
        """,
        [("FW170", 5), ("FW170", 6), ("FW171", 7), ("FW171", 8)],
        id="sleep-and-http",
    ),
    pytest.param(
        """
        import psycopg2, redis, subprocess, os
        cache = redis.Redis(socket_timeout=1)
        async def handler():
            conn = psycopg2.connect("dbname=app connect_timeout=3")
            cache.get("k")
            subprocess.run(["ls"])
            os.system("ls")
        """,
        [("FW172", 5), ("FW172", 6), ("FW173", 7), ("FW173", 8)],
        id="sync-drivers-and-subprocess",
    ),
]

QUIET = [
    pytest.param(
        """
        import asyncio, time, requests, httpx, subprocess, psycopg2
        async def handler():
            await asyncio.sleep(1)
            async with httpx.AsyncClient() as client:
                await client.get("u")
            await asyncio.to_thread(requests.get, "u", timeout=5)
            def blocking():
                time.sleep(1)
            await asyncio.get_running_loop().run_in_executor(None, blocking)
        def sync_handler():
            time.sleep(1)
            subprocess.run(["ls"], check=True)
            psycopg2.connect("dbname=app connect_timeout=3")
        async def spawn():
            proc = await asyncio.create_subprocess_exec("ls")
            await proc.wait()
        """,
        id="async-apis-threads-and-sync-functions",
    ),
    pytest.param(
        """
        import redis.asyncio as aioredis
        async def handler():
            cache = aioredis.Redis(socket_timeout=1)
            await cache.get("k")
            fn = lambda: __import__("time").sleep(1)
        """,
        id="async-driver-and-lambda",
    ),
    pytest.param(
        """
        import time, requests, subprocess
        async def handler():
            time.sleep(0.06)  # noqa: ASYNC251 (block the loop on purpose)
            requests.get("u", timeout=5)  # noqa: ASYNC210
            subprocess.run(["ls"], check=True)  # noqa: ASYNC221
        """,
        id="waived-by-ruff",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW17",), FLAGGED, QUIET)

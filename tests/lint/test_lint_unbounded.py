"""FW16x: unbounded pools, queues and caches."""

from __future__ import annotations

import pytest
from rule_cases import rule_tests

FLAGGED = [
    pytest.param(
        """
        from sqlalchemy import create_engine
        import aiohttp, httpx
        engine = create_engine(url, max_overflow=-1)
        other = create_engine(url, pool_size=0)
        conn = aiohttp.TCPConnector(limit=0)
        limits = httpx.Limits(max_connections=None)
        """,
        [("FW160", 4), ("FW160", 5), ("FW160", 6), ("FW160", 7)],
        id="pools",
    ),
    pytest.param(
        """
        import queue, asyncio
        jobs = queue.Queue()
        class Pipeline:
            def __init__(self):
                self.events = asyncio.Queue(maxsize=0)
                self.simple = queue.SimpleQueue()
            def on_request(self, e):
                self.events.put_nowait(e)
                self.simple.put(e)
        def submit(job):
            jobs.put(job)
        """,
        [("FW161", 3), ("FW161", 6), ("FW161", 7)],
        id="queues",
    ),
    pytest.param(
        """
        import functools
        from functools import lru_cache, cache
        @functools.lru_cache(maxsize=None)
        def profile(user_id): ...
        @cache
        def render(request, path): ...
        @lru_cache(None)
        def lookup(self, token): ...
        """,
        [("FW162", 4), ("FW162", 6), ("FW162", 8)],
        id="caches-keyed-by-request-data",
    ),
]

QUIET = [
    pytest.param(
        """
        from sqlalchemy import create_engine
        import aiohttp
        from concurrent.futures import ThreadPoolExecutor
        engine = create_engine(url, pool_size=10, max_overflow=5)
        conn = aiohttp.TCPConnector(limit=100)
        pool = ThreadPoolExecutor()
        """,
        id="bounded-pools-and-executor-default",
    ),
    pytest.param(
        """
        import queue
        jobs = queue.Queue(maxsize=100)
        def submit(job):
            jobs.put(job)
        def gather(threads):
            results = queue.Queue()
            for t in threads:
                results.put(t.result)
        never_fed = queue.Queue()
        """,
        id="bounded-local-or-unfed-queues",
    ),
    pytest.param(
        """
        import functools
        @functools.lru_cache(maxsize=None)
        def settings(): ...
        @functools.cache
        def parse_unit(unit): ...
        @functools.lru_cache
        def profile(user_id): ...
        @functools.lru_cache(maxsize=256)
        def render(request): ...
        @functools.cache
        def resolver(urlconf, import_path): ...
        """,
        id="caches-bounded-or-not-request-keyed",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW16",), FLAGGED, QUIET)

"""FW10x: missing or disabled timeouts; libraries with safe defaults stay quiet."""

from __future__ import annotations

import pytest
from rule_cases import rule_tests

FLAGGED = [
    pytest.param(
        """
        import requests
        requests.get("https://api")
        requests.post("https://api", json={}, timeout=None)
        """,
        [("FW101", 3), ("FW101", 4)],
        id="requests-module-calls",
    ),
    pytest.param(
        """
        import requests as r
        from requests import get, Session
        get("u")
        s = Session()
        s.put("u", data=b"")
        with r.Session() as session:
            session.request("GET", "u")
        r.session().send(prepared)
        """,
        [("FW101", 4), ("FW101", 6), ("FW101", 8), ("FW101", 9)],
        id="requests-aliases-and-sessions",
    ),
    pytest.param(
        """
        import requests
        class Client:
            def __init__(self):
                self.http = requests.Session()
            def fetch(self):
                return self.http.get("u")
        def call(session: requests.Session):
            return session.delete("u")
        """,
        [("FW101", 7), ("FW101", 9)],
        id="requests-session-on-self-and-annotated-parameter",
    ),
    pytest.param(
        """
        import httpx
        httpx.get("u", timeout=None)
        client = httpx.AsyncClient(timeout=None)
        httpx.Client().post("u", timeout=None)
        httpx.Timeout(None)
        """,
        [("FW102", 3), ("FW102", 4), ("FW102", 5), ("FW102", 6)],
        id="httpx-timeout-none",
    ),
    pytest.param(
        """
        import urllib.request
        from urllib.request import urlopen
        urllib.request.urlopen("http://x")
        urlopen("http://x", None)
        urlopen("http://x", timeout=None)
        """,
        [("FW103", 4), ("FW103", 5), ("FW103", 6)],
        id="urlopen",
    ),
    pytest.param(
        """
        import aiohttp
        async def main():
            async with aiohttp.ClientSession() as session:
                await session.get("u")
            t = aiohttp.ClientTimeout()
            u = aiohttp.ClientTimeout(total=None)
            async with aiohttp.request("GET", "u") as resp:
                pass
        """,
        [("FW104", 4), ("FW104", 6), ("FW104", 7), ("FW104", 8)],
        id="aiohttp-default-and-unbounded",
    ),
    pytest.param(
        """
        import redis
        from redis.asyncio import Redis
        r1 = redis.Redis(host="cache")
        r2 = redis.from_url("redis://cache:6379/0")
        r3 = Redis(socket_timeout=None)
        pool = redis.ConnectionPool(host="cache")
        """,
        [("FW105", 4), ("FW105", 5), ("FW105", 6), ("FW105", 7)],
        id="redis",
    ),
    pytest.param(
        """
        import psycopg2, psycopg
        psycopg2.connect("dbname=app host=db")
        psycopg.connect(host="db", dbname="app")
        psycopg.AsyncConnection.connect("postgresql://db/app")
        """,
        [("FW106", 3), ("FW106", 4), ("FW106", 5)],
        id="postgres",
    ),
    pytest.param(
        """
        import socket, smtplib
        from http.client import HTTPSConnection
        socket.create_connection(("db", 5432))
        HTTPSConnection("api.example.com")
        smtplib.SMTP("mail", 25)
        socket.create_connection(("db", 5432), timeout=None)
        """,
        [("FW107", 4), ("FW107", 5), ("FW107", 6), ("FW107", 7)],
        id="sockets",
    ),
]

QUIET = [
    pytest.param(
        """
        import requests
        requests.get("u", timeout=5)
        requests.Session().get("u", timeout=(3.05, 27))
        def passthrough(url, **kwargs):
            return requests.get(url, **kwargs)
        """,
        id="requests-with-timeout-or-kwargs",
    ),
    pytest.param(
        """
        import requests
        requests.get("u")  # noqa: S113 (a local fixture server)
        """,
        id="requests-waived-by-ruff",
    ),
    pytest.param(
        """
        import functools, requests
        from requests.adapters import HTTPAdapter
        class TimeoutAdapter(HTTPAdapter):
            def send(self, request, **kwargs):
                kwargs.setdefault("timeout", 5)
                return super().send(request, **kwargs)
        http = requests.Session()
        http.mount("https://", TimeoutAdapter())
        http.get("https://api")
        other = requests.Session()
        other.request = functools.partial(other.request, timeout=5)
        other.post("https://api")
        """,
        id="session-with-a-timeout-adapter-or-wrapped-request",
    ),
    pytest.param(
        """
        import httpx
        httpx.get("u")
        httpx.Client().get("u")
        httpx.AsyncClient(timeout=10)
        httpx.Timeout(None, connect=5.0)
        """,
        id="httpx-default-is-safe",
    ),
    pytest.param(
        """
        def get(url):
            return url
        get("u")
        class requests:
            pass
        session = object()
        session.get("u")
        """,
        id="names-that-only-look-like-requests",
    ),
    pytest.param(
        """
        import aiohttp
        async def main():
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
                await s.get("u")
            async with aiohttp.ClientSession() as per_request:
                await per_request.get("u", timeout=aiohttp.ClientTimeout(total=5))
            aiohttp.ClientTimeout(total=None, sock_read=30)
        """,
        id="aiohttp-bounded",
    ),
    pytest.param(
        """
        import redis, asyncpg
        redis.Redis(host="cache", socket_timeout=1.0)
        redis.from_url("redis://cache/0?socket_timeout=2")
        redis.from_url(settings.REDIS_URL)
        redis.Redis(connection_pool=pool)
        async def main():
            await asyncpg.connect("postgresql://db/app")
        """,
        id="redis-bounded-and-asyncpg-default",
    ),
    pytest.param(
        """
        import psycopg2, socket, urllib.request
        psycopg2.connect("dbname=app connect_timeout=5")
        psycopg2.connect(host="db", connect_timeout=3)
        psycopg2.connect(os.environ["DATABASE_URL"])
        socket.create_connection(("db", 5432), 3)
        urllib.request.urlopen("http://x", timeout=10)
        """,
        id="connect-timeouts-given",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW10",), FLAGGED, QUIET)

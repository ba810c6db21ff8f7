"""Resolve what a name in the source refers to: imports, aliases, and tracked instances.

``import requests as r`` makes ``r.get`` resolve to ``requests.get``; ``from requests import
Session`` then ``s = Session()`` makes ``s.get`` resolve to ``requests.Session.get``. Instances
are tracked by assignment, ``with ... as name``, ``self.attr = ...`` (per module) and parameter
annotations. Resolution is best effort and never guesses: an unknown name resolves to ``None``.
"""

from __future__ import annotations

import ast
import functools

__all__ = ["CONSTRUCTORS", "Names", "canonical", "dotted"]

# Module paths that re-export the same object under a shorter public name.
_PREFIXES = (
    ("requests.api.", "requests."),
    ("requests.sessions.", "requests."),
    ("httpx._api.", "httpx."),
    ("httpx._client.", "httpx."),
    ("httpx._config.", "httpx."),
    ("aiohttp.client.", "aiohttp."),
    ("aiohttp.connector.", "aiohttp."),
    ("redis.client.", "redis."),
    ("redis.connection.", "redis."),
    ("redis.asyncio.client.", "redis.asyncio."),
    ("redis.asyncio.connection.", "redis.asyncio."),
    ("six.moves.urllib.", "urllib."),
    ("tenacity.wait.", "tenacity."),
    ("tenacity.stop.", "tenacity."),
    ("concurrent.futures.thread.", "concurrent.futures."),
    ("sqlalchemy.engine.create.", "sqlalchemy."),
    ("sqlalchemy.engine.", "sqlalchemy."),
    ("sqlalchemy.pool.impl.", "sqlalchemy.pool."),
    ("psycopg.connection.", "psycopg."),
    ("psycopg.connection_async.", "psycopg."),
    ("multiprocessing.queues.", "multiprocessing."),
    ("asyncio.queues.", "asyncio."),
)

# Calls that construct an object worth tracking -> the type name its methods resolve under.
CONSTRUCTORS: dict[str, str] = {
    "requests.Session": "requests.Session",
    "requests.session": "requests.Session",
    "httpx.Client": "httpx.Client",
    "httpx.AsyncClient": "httpx.AsyncClient",
    "aiohttp.ClientSession": "aiohttp.ClientSession",
    "redis.Redis": "redis.Redis",
    "redis.StrictRedis": "redis.Redis",
    "redis.Redis.from_url": "redis.Redis",
    "redis.StrictRedis.from_url": "redis.Redis",
    "redis.from_url": "redis.Redis",
    "redis.asyncio.Redis": "redis.asyncio.Redis",
    "redis.asyncio.from_url": "redis.asyncio.Redis",
    "redis.asyncio.Redis.from_url": "redis.asyncio.Redis",
    "psycopg2.connect": "psycopg2.connection",
    "psycopg.connect": "psycopg.Connection",
    "psycopg.Connection.connect": "psycopg.Connection",
    "psycopg.AsyncConnection.connect": "psycopg.AsyncConnection",
    "pymysql.connect": "pymysql.Connection",
    "MySQLdb.connect": "pymysql.Connection",
    "sqlite3.connect": "sqlite3.Connection",
    "kafka.KafkaConsumer": "kafka.KafkaConsumer",
    "confluent_kafka.Consumer": "kafka.KafkaConsumer",
    "aiokafka.AIOKafkaConsumer": "kafka.KafkaConsumer",
    "concurrent.futures.ThreadPoolExecutor": "concurrent.futures.ThreadPoolExecutor",
    "boto3.client": "boto3.client",
    "boto3.resource": "boto3.client",
    "boto3.session.Session.client": "boto3.client",
    "smtplib.SMTP": "smtplib.SMTP",
    "smtplib.SMTP_SSL": "smtplib.SMTP",
    "threading.Lock": "threading.Lock",
    "threading.RLock": "threading.Lock",
    "threading.Semaphore": "threading.Lock",
    "threading.BoundedSemaphore": "threading.Lock",
    "threading.Condition": "threading.Lock",
}
_TYPES = frozenset(CONSTRUCTORS.values())


@functools.lru_cache(maxsize=4096)
def canonical(qualname: str) -> str:
    """The public name of a re-exported object (``requests.api.get`` -> ``requests.get``)."""
    for old, new in _PREFIXES:
        if qualname.startswith(old):
            return new + qualname[len(old) :]
    return qualname


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else ``None``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class Names:
    """Import aliases and instance bindings, with one scope per function being visited."""

    __slots__ = ("_attrs", "_imports", "_scopes")

    def __init__(self) -> None:
        self._imports: dict[str, str] = {}
        self._scopes: list[dict[str, str]] = [{}]
        self._attrs: dict[str, str] = {}  # "self.session" -> type, module-wide

    def add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self._imports[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    self._imports[top] = top
            return
        if node.level or not node.module:
            return  # relative imports name the package's own modules
        for alias in node.names:
            self._imports[alias.asname or alias.name] = canonical(f"{node.module}.{alias.name}")

    def push(self) -> None:
        self._scopes.append({})

    def pop(self) -> None:
        self._scopes.pop()

    def bind(self, target: ast.expr, value_type: str | None) -> None:
        """Record that ``target`` now holds an instance of ``value_type`` (or forget it)."""
        if isinstance(target, ast.Name):
            if value_type is None:
                self._scopes[-1].pop(target.id, None)
            else:
                self._scopes[-1][target.id] = value_type
        elif isinstance(target, ast.Attribute) and value_type is not None:
            key = dotted(target)
            if key is not None:
                self._attrs[key] = value_type

    def bind_annotation(self, name: str, annotation: ast.expr) -> None:
        qualname = self.resolve(annotation)
        if qualname is not None and qualname in _TYPES:
            self._scopes[-1][name] = qualname

    def resolve(self, node: ast.expr) -> str | None:
        """The qualified name ``node`` refers to, the type name for a tracked instance."""
        if isinstance(node, ast.Name):
            name = node.id
            for scope in reversed(self._scopes):
                if name in scope:
                    return scope[name]
            return self._imports.get(name)
        if isinstance(node, ast.Attribute):
            if self._attrs:
                key = dotted(node)
                if key is not None and key in self._attrs:
                    return self._attrs[key]
            base = self.resolve(node.value)
            return None if base is None else canonical(f"{base}.{node.attr}")
        if isinstance(node, ast.Call):
            return self.constructed(node)
        return None

    def constructed(self, call: ast.Call) -> str | None:
        """The tracked type a call constructs (``requests.Session()``), else ``None``."""
        callee = self.resolve(call.func)
        return None if callee is None else CONSTRUCTORS.get(callee)

"""Live runs: real processes on 127.0.0.1, open-loop load, faults on a timeline, telemetry.

A :class:`LiveRun` starts the data tier (the built-in one, or rows in a PostgreSQL table of
its own), the fault proxy and the services as processes, drives open-loop load at them
(:class:`Edge`), applies faults at given times, scrapes every service's ``/metrics`` once a
second into ``metrics/<instance>.prom`` (Prometheus text with the scrape's timestamp and the
``job``/``instance`` labels a Prometheus server adds), and stops everything whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from faultwise._errors import FaultwiseError, require
from faultwise.lab._http import HttpClient
from faultwise.lab._load import LiveCaller, LoadStats, open_loop
from faultwise.lab._policies import NoRetries
from faultwise.lab._procs import Cluster, ServiceProcess
from faultwise.lab._sim import ClientPolicy, Recorder
from faultwise.lab._telemetry import write_metrics_csv, write_restart_events

__all__ = [
    "DEFAULT_RABBITMQ",
    "Edge",
    "LiveOptions",
    "LiveRun",
    "get_json",
    "post_json",
    "proxy_api",
    "reachable",
    "relabel",
]

DEFAULT_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """Where the real services are (``None``: use the lab's built-in ones) and how long the
    load lasts (``None``: the scenario's own length)."""

    postgres: str | None = None
    rabbitmq: str | None = DEFAULT_RABBITMQ
    duration: float | None = None


def reachable(url: str, timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port."""
    parts = urlsplit(url)
    default = {"amqp": 5672, "postgresql": 5432, "postgres": 5432}.get(parts.scheme, 80)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default), timeout
        ):
            return True
    except OSError:
        return False


@dataclass(slots=True)
class Edge:
    """Open-loop users: ``rate`` requests/s of ``method path``, round robin over ``targets``."""

    name: str
    targets: Sequence[str]
    path: str
    rate: float
    timeout: float
    method: str = "GET"
    policy: ClientPolicy = field(default_factory=NoRetries)
    start: float = 0.0
    logs: Any = None  # with logs and spans, the users are a service of their own
    spans: Any = None
    peer: str = ""
    recorder: Recorder | None = None
    stats: LoadStats = field(default_factory=LoadStats)
    caller: LiveCaller | None = None


Fault = tuple[float, Callable[[], Awaitable[object]]]


class LiveRun:
    """One live run's processes and its telemetry directory (``out``, or none)."""

    def __init__(self, out: Path | None, *, seed: int, options: LiveOptions) -> None:
        self.out = out
        self.seed = seed
        self.options = options
        self.run_id = secrets.token_hex(4)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        self.cluster = Cluster(log_dir=out / "stderr" if out is not None else None)
        self.services: dict[str, ServiceProcess] = {}
        self.supervised: set[str] = set()
        self.restarts: dict[str, int] = {}
        self._restart_times: dict[str, list[tuple[int, int]]] = {}
        self.notes: list[str] = []
        self._cleanups: list[Callable[[], None]] = []
        self.rows: list[dict[str, Any]] = []
        self.t0 = 0.0
        self.wall_t0_ns = 0

    def __enter__(self) -> LiveRun:
        if self.out is not None:
            (self.out / "stderr").mkdir(parents=True, exist_ok=True)
        self.cluster.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._quiesce()
            self.cluster.__exit__(exc_type, exc, tb)
        finally:
            for cleanup in reversed(self._cleanups):
                with contextlib.suppress(Exception):
                    cleanup()
            if self.out is not None and self.rows:
                write_metrics_csv(self.out / "metrics.csv", self.rows)
            for name, times in self._restart_times.items():
                if self.out is not None:
                    write_restart_events(self.out, name, times)

    def _quiesce(self) -> None:
        """Ask every service to stop writing telemetry before it is stopped."""

        async def all_of_them() -> None:
            async def one(url: str) -> None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await post_json(url, "/_lab/quiesce", {})

            await asyncio.gather(*(one(s.url) for s in self.services.values()))

        if self.out is not None and self.services:
            asyncio.run(all_of_them())

    # -- processes --------------------------------------------------------------------------

    def config(self, kind: str, name: str, **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "name": name,
            "out": str(self.out) if self.out is not None else None,
            "seed": self.seed,
            **extra,
        }

    def start(self, instance: str, kind: str, name: str | None = None, **extra: Any) -> str:
        """Start one service process; returns its URL."""
        config = self.config(kind, name or instance, instance=instance, **extra)
        service = self.services[instance] = self.cluster.start(instance, config)
        return service.url

    def start_many(self, configs: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Start several services in parallel: ``{instance: (kind, name, extra)}``."""
        full = {
            instance: self.config(c.pop("kind"), c.pop("name", instance), instance=instance, **c)
            for instance, c in configs.items()
        }
        started = self.cluster.start_many(full)
        self.services.update(started)
        return {instance: s.url for instance, s in started.items()}

    def database(self, rows: dict[str, int]) -> dict[str, str]:
        """The data tier with ``rows``: PostgreSQL (a table of this run) or the built-in one.
        Returns the ``db`` config services take (``url``, ``table``)."""
        if self.options.postgres:
            return self._postgres(self.options.postgres, rows)
        return {"url": self._store(rows), "table": ""}

    def _store(self, rows: dict[str, int] | None = None) -> str:
        """The built-in data tier (one per run), started with ``rows`` the first time."""
        store = self.cluster.services.get("db")
        if store is None:
            store = self.cluster.start("db", self.config("store", "db", rows=rows or {}))
        elif rows:
            raise FaultwiseError("the built-in database was started before its rows were known")
        return f"faultwise-store://127.0.0.1:{store.port}"

    def _postgres(self, dsn: str, rows: dict[str, int]) -> dict[str, str]:
        from faultwise.lab._db import rows_table

        psycopg = require("psycopg", "lab")
        table = rows_table(self.run_id)
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"CREATE TABLE {table} (key text PRIMARY KEY, value bigint)")
                with conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO {table} (key, value) VALUES (%s, %s)", list(rows.items())
                    )
        except psycopg.Error as exc:
            raise FaultwiseError(f"PostgreSQL at {_safe(dsn)}: {exc}".strip()) from exc

        def drop() -> None:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {table}")

        self._cleanups.append(drop)
        self.notes.append(f"database: PostgreSQL at {_safe(dsn)} (table {table})")
        return {"url": dsn, "table": table}

    def read_row(self, db: dict[str, str], key: str) -> int | None:
        """A row's value at the end of the run, read straight from the data tier."""
        if db["table"]:
            psycopg = require("psycopg", "lab")
            with psycopg.connect(db["url"], autocommit=True, connect_timeout=5) as conn:
                row = conn.execute(
                    f"SELECT value FROM {db['table']} WHERE key = %s", (key,)
                ).fetchone()
            return None if row is None else int(row[0])
        reply = asyncio.run(_store_call(db["url"], "get", key=key))
        value = reply.get("value")
        return None if value is None else int(value)

    def queue(self) -> dict[str, str]:
        """The queue config services take: RabbitMQ when reachable, else the built-in one."""
        name = f"faultwise-lab-orders-{self.run_id}"
        url = self.options.rabbitmq
        if url and reachable(url) and _importable("aio_pika"):
            self._cleanups.append(lambda: asyncio.run(_delete_rabbit_queue(url, name)))
            self.notes.append(f"queue: RabbitMQ at {_safe(url)} (queue {name})")
            return {"url": url, "name": name}
        why = "not asked for" if not url else f"not reachable at {_safe(url)}"
        if url and not _importable("aio_pika"):
            why = "aio-pika is not installed"
        self.notes.append(f"queue: RabbitMQ {why}: using the lab's built-in queue")
        return {"url": self._store(), "name": name}

    def queue_depth(self, queue: dict[str, str]) -> int:
        """Messages waiting in ``queue`` (not counting those a consumer holds unacked)."""
        if queue["url"].startswith("amqp"):
            return asyncio.run(_rabbit_depth(queue["url"], queue["name"]))
        stats = asyncio.run(_store_call(queue["url"], "stats"))
        return int(stats["queues"].get(queue["name"], 0))

    def proxy(self, name: str, upstream_url: str) -> tuple[str, str]:
        """Put the fault proxy between the services and ``upstream_url``: returns the URL to
        use instead and the proxy's API address (``host:port``, Toxiproxy's API)."""
        if "proxy" not in self.cluster.services:
            self.cluster.start("proxy", self.config("proxy", "proxy"))
        api = f"127.0.0.1:{self.cluster.services['proxy'].port}"
        parts = urlsplit(upstream_url)
        body = {"name": name, "listen": "127.0.0.1:0", "upstream": f"{parts.hostname}:{parts.port}"}
        created = asyncio.run(proxy_api(api, "POST", "/proxies", body))
        listen = created["listen"]
        netloc = listen if not parts.username else f"{parts.username}@{listen}"
        return urlunsplit(parts._replace(netloc=netloc)), api

    # -- driving ----------------------------------------------------------------------------

    def drive(
        self,
        edges: Sequence[Edge],
        *,
        duration: float,
        faults: Sequence[Fault] = (),
        drain: float = 3.0,
        sample: Callable[[int], Awaitable[dict[str, Any]]] | None = None,
        on_second: Callable[[float], None] | None = None,
    ) -> None:
        """Run the load (and the faults, the scrapes, the per-second samples) to the end."""
        asyncio.run(self._drive(edges, duration, faults, drain, sample, on_second))

    async def _drive(  # noqa: PLR0917
        self,
        edges: Sequence[Edge],
        duration: float,
        faults: Sequence[Fault],
        drain: float,
        sample: Callable[[int], Awaitable[dict[str, Any]]] | None,
        on_second: Callable[[float], None] | None,
    ) -> None:
        seconds = int(duration + drain) + 2
        self.t0 = time.monotonic()
        self.wall_t0_ns = time.time_ns()
        clients: list[HttpClient] = []
        for edge in edges:
            edge.recorder = Recorder(seconds)
            targets = [HttpClient(url) for url in edge.targets]
            clients.extend(targets)
            edge.caller = LiveCaller(
                targets, edge.path, edge.policy, timeout=edge.timeout,
                recorder=edge.recorder, t0=self.t0, method=edge.method,
                service=edge.name, peer=edge.peer, logs=edge.logs, spans=edge.spans,
            )  # fmt: skip

        async def at(when: float, action: Callable[[], Awaitable[object]]) -> None:
            await asyncio.sleep(max(when - (time.monotonic() - self.t0), 0.0))
            await action()

        async def load(edge: Edge) -> None:
            assert edge.caller is not None
            await asyncio.sleep(edge.start)
            rng = random.Random(hash((self.seed, edge.name)))
            _, running = await open_loop(
                edge.caller.call, rate=edge.rate, duration=duration - edge.start, rng=rng,
                stats=edge.stats,
            )  # fmt: skip
            if running:
                await asyncio.wait(running, timeout=drain)
            for task in running:
                task.cancel()

        helpers = [asyncio.create_task(at(t, action)) for t, action in faults]
        helpers.append(asyncio.create_task(self._every_second(edges, sample, on_second)))
        try:
            await asyncio.gather(*(load(edge) for edge in edges))
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            for client in clients:
                await client.aclose()

    async def _every_second(
        self,
        edges: Sequence[Edge],
        sample: Callable[[int], Awaitable[dict[str, Any]]] | None,
        on_second: Callable[[float], None] | None,
    ) -> None:
        scrapers = {name: HttpClient(s.url) for name, s in self.services.items()}
        first = True
        restarting: set[asyncio.Task[None]] = set()
        try:
            while True:
                await asyncio.sleep(1.0 - ((time.monotonic() - self.t0) % 1.0))
                for name in sorted(self.supervised):
                    if self.services[name].process.poll() is not None and not any(
                        t.get_name() == name for t in restarting
                    ):
                        task = asyncio.create_task(self._restart(name, scrapers), name=name)
                        restarting.add(task)
                        task.add_done_callback(restarting.discard)
                elapsed = time.monotonic() - self.t0
                i = int(elapsed + 0.5)
                row: dict[str, Any] = {"timestamp": time.time_ns() // 1_000_000 / 1000}
                for edge in edges:
                    row.update(_edge_row(edge, max(i - 1, 0)))
                if sample is not None:
                    with contextlib.suppress(Exception):
                        row.update(await sample(i))
                self.rows.append(row)
                if self.out is not None:
                    await self._scrape(scrapers, first)
                    first = False
                if on_second is not None:
                    on_second(elapsed)
        finally:
            for task in restarting:
                task.cancel()
            for client in scrapers.values():
                await client.aclose()

    def revive(self, name: str) -> ServiceProcess:
        """Start a supervised process that died (as an orchestrator restarts a pod)."""
        old = self.services[name]
        old.stop()
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self._restart_times.setdefault(name, []).append((time.time_ns(), self.restarts[name]))
        config = {**old.config, "incarnation": self.restarts[name]}
        new = self.services[name] = self.cluster.start(name, config)
        return new

    async def _restart(self, name: str, scrapers: dict[str, HttpClient]) -> None:
        new = await asyncio.to_thread(self.revive, name)
        await scrapers[name].aclose()
        scrapers[name] = HttpClient(new.url)

    async def _scrape(self, scrapers: dict[str, HttpClient], first: bool) -> None:
        now_ms = time.time_ns() // 1_000_000

        async def one(instance: str, client: HttpClient) -> tuple[str, str] | None:
            try:
                async with asyncio.timeout(0.8):
                    page = (await client.get("/metrics")).body.decode()
            except (TimeoutError, OSError):
                return None  # a scrape that fails leaves a gap, as in Prometheus
            job = self.services[instance].config["name"]
            labels = f'job="{job}",instance="{instance}"'
            return instance, relabel(page, labels, now_ms, keep_comments=first)

        pages = await asyncio.gather(*(one(i, c) for i, c in scrapers.items()))
        self._append_scrapes([p for p in pages if p is not None])

    def _append_scrapes(self, pages: Sequence[tuple[str, str]]) -> None:
        assert self.out is not None
        folder = self.out / "metrics"
        folder.mkdir(parents=True, exist_ok=True)
        for instance, text in pages:
            with open(folder / f"{instance}.prom", "a", encoding="utf-8") as fh:
                fh.write(text)


def relabel(page: str, labels: str, ts_ms: int, *, keep_comments: bool) -> str:
    """A scraped page with ``labels`` added to every sample and the scrape time appended."""
    out = []
    for line in page.splitlines():
        if not line or line.startswith("#"):
            if keep_comments and line:
                out.append(line)
            continue
        name, brace, rest = line.partition("{")
        if brace and " " not in name:
            out.append(f"{name}{{{labels},{rest} {ts_ms}")
        else:
            name, _, value = line.partition(" ")
            out.append(f"{name}{{{labels}}} {value} {ts_ms}")
    return "\n".join(out) + "\n"


def _edge_row(edge: Edge, i: int) -> dict[str, Any]:
    rec = edge.recorder
    if rec is None:
        return {}
    return {
        f"{edge.name}_requests_per_s": rec.offered[i],
        f"{edge.name}_goodput_per_s": rec.ok[i],
        f"{edge.name}_failures_per_s": rec.failed[i],
        f"{edge.name}_attempts_per_s": rec.attempts[i],
        f"{edge.name}_timeouts_per_s": rec.timeouts[i],
    }


def _safe(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


async def proxy_api(address: str, method: str, path: str, body: Any = None) -> Any:
    """Call the fault proxy's Toxiproxy API."""
    client = HttpClient(f"http://{address}")
    try:
        response = await client.request(
            method, path, {"Content-Type": "application/json"},
            orjson.dumps(body) if body is not None else b"",
        )  # fmt: skip
    finally:
        await client.aclose()
    if response.status_code >= 300:
        raise FaultwiseError(f"fault proxy: {method} {path}: {response.body.decode()}")
    return orjson.loads(response.body) if response.body else None


async def post_json(url: str, path: str, body: Any) -> Any:
    """POST ``body`` as JSON to a lab service (``/_lab/fault``)."""
    client = HttpClient(url)
    try:
        response = await client.request(
            "POST", path, {"Content-Type": "application/json"}, orjson.dumps(body)
        )
    finally:
        await client.aclose()
    return orjson.loads(response.body) if response.body else None


async def get_json(url: str, path: str) -> Any:
    client = HttpClient(url)
    try:
        response = await client.get(path)
    finally:
        await client.aclose()
    return orjson.loads(response.body) if response.body else None


async def _store_call(url: str, op: str, **args: Any) -> dict[str, Any]:
    from faultwise.lab._db import StoreConnection

    parts = urlsplit(url)
    conn = await StoreConnection.connect(parts.hostname or "127.0.0.1", parts.port or 0)
    try:
        return await conn.call(op, **args)
    finally:
        await conn.close()


async def _rabbit_depth(url: str, name: str) -> int:
    aio_pika = require("aio_pika", "lab")
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(name, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def _delete_rabbit_queue(url: str, name: str) -> None:
    aio_pika = require("aio_pika", "lab")
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(name)
    finally:
        await connection.close()

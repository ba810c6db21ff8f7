"""Health endpoints that tell the truth: ``/livez`` for the process, ``/readyz`` for dependencies.

``/livez`` never touches a dependency (a database outage must not make Kubernetes restart every
pod). ``/readyz`` runs every check concurrently, each under its own timeout, and answers within
one budget (default 0.8 s, under Kubernetes' 1 s probe timeout) even when a dependency accepts
connections and never answers: a check still running at the deadline is reported as failed.
Results are cached briefly and concurrent probes share one run, so a burst of probes costs the
dependencies one round of pings. The body follows the IETF draft "Health Check Response Format
for HTTP APIs" (``application/health+json``; status pass, warn or fail).

>>> health = Health(postgres_check(DSN), redis_check(REDIS_URL), rabbitmq_check(AMQP_URL))
>>> app.add_middleware(ObserveMiddleware, health=health)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import os
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from faultwise._clock import SYSTEM_CLOCK, Clock
from faultwise.observe._logging import rfc3339_ns

__all__ = [
    "Check",
    "CheckResult",
    "Health",
    "HealthReport",
    "HealthStatus",
    "callable_check",
    "http_check",
    "postgres_check",
    "rabbitmq_check",
    "redis_check",
    "sqlalchemy_check",
]

CONTENT_TYPE: Final = "application/health+json"
DEFAULT_TIMEOUT: Final = 0.5
_GRACE: Final = 0.05  # seconds past the budget a check has to report its own timeout


class HealthStatus(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: its status, how long it took, and why it failed."""

    name: str
    status: HealthStatus
    seconds: float
    observed_ns: int
    output: str | None = None
    component_type: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The outcome of all checks; ``to_json()`` is the ``application/health+json`` body."""

    status: HealthStatus
    checks: tuple[CheckResult, ...] = ()
    service: str | None = None

    @property
    def http_status(self) -> int:
        return 503 if self.status is HealthStatus.FAIL else 200

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status.value}
        if self.service is not None:
            body["serviceId"] = self.service
        failing = [c for c in self.checks if c.status is not HealthStatus.PASS]
        if failing:
            body["output"] = "; ".join(f"{c.name}: {c.output}" for c in failing)
        if self.checks:
            body["checks"] = {f"{c.name}:responseTime": [_check_json(c)] for c in self.checks}
        return body

    def body(self) -> bytes:
        return orjson.dumps(self.to_json())


def _check_json(result: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": result.status.value,
        "observedValue": round(result.seconds * 1000, 3),
        "observedUnit": "ms",
        "time": rfc3339_ns(result.observed_ns),
    }
    if result.component_type is not None:
        out["componentType"] = result.component_type
    if result.output is not None:
        out["output"] = result.output
    return out


Probe = Callable[[], Awaitable[Any]]


@dataclass(eq=False)
class Check:
    """A named dependency probe with its own timeout.

    ``probe`` is an async callable: it passes by returning (``None``, ``True`` or a
    :class:`HealthStatus`) and fails by raising or returning ``False``. A non-``critical``
    check that fails reports ``warn`` and leaves the service ready.
    """

    name: str
    probe: Probe
    timeout: float = DEFAULT_TIMEOUT
    critical: bool = True
    component_type: str | None = None

    async def run(self, clock: Clock, budget: float) -> CheckResult:
        started = clock.now()
        status, output = HealthStatus.PASS, None
        timeout = min(self.timeout, budget)
        try:
            async with asyncio.timeout(timeout):
                outcome = await self.probe()
        except TimeoutError:
            status, output = HealthStatus.FAIL, f"timed out after {timeout:g} s"
        except Exception as exc:
            status, output = HealthStatus.FAIL, f"{type(exc).__name__}: {exc}".strip()
        else:
            if outcome is False:
                status, output = HealthStatus.FAIL, "check returned False"
            elif isinstance(outcome, HealthStatus):
                status = outcome
                output = None if outcome is HealthStatus.PASS else f"check reported {outcome.value}"
        if status is HealthStatus.FAIL and not self.critical:
            status = HealthStatus.WARN
        return CheckResult(
            self.name, status, clock.now() - started, clock.wall_ns(), output, self.component_type
        )


class Health:
    """Liveness and readiness for one service: ``await health.ready()`` or the endpoints.

    ``budget`` bounds the whole ``/readyz`` answer (plus 50 ms for checks to report); each
    check's own timeout is capped by it.
    ``cache_ttl`` seconds of reuse keep probe storms off the dependencies.
    """

    def __init__(
        self,
        *checks: Check,
        budget: float = 0.8,
        cache_ttl: float = 1.0,
        service: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"check names must be unique: {names}")
        self.checks = checks
        self.budget = budget
        self.cache_ttl = cache_ttl
        self.service = service
        self._clock = clock
        self._cached: tuple[float, HealthReport] | None = None
        self._inflight: asyncio.Future[HealthReport] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def live(self) -> HealthReport:
        """The process answers: that is all liveness means. No dependency is touched."""
        return HealthReport(HealthStatus.PASS, (), self.service)

    async def ready(self) -> HealthReport:
        """Run every check concurrently (or reuse a fresh result) within the budget."""
        cached = self._cached
        if cached is not None and self._clock.now() - cached[0] < self.cache_ttl:
            return cached[1]
        inflight = self._inflight
        if inflight is not None and inflight.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(inflight)
        future: asyncio.Future[HealthReport] = asyncio.get_running_loop().create_future()
        self._inflight = future
        try:
            report = await self._run_checks()
            self._cached = (self._clock.now(), report)
            future.set_result(report)
            return report
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters get it, nobody else must
            raise
        finally:
            self._inflight = None

    async def _run_checks(self) -> HealthReport:
        tasks = [asyncio.ensure_future(c.run(self._clock, self.budget)) for c in self.checks]
        # A well-behaved check reports its own timeout at the budget; the grace lets it do so.
        grace = self.budget + _GRACE
        done, pending = await asyncio.wait(tasks, timeout=grace) if tasks else (set(), set())
        results = []
        for check, task in zip(self.checks, tasks, strict=True):
            if task in done:
                results.append(task.result())
                continue
            # A probe that ignores cancellation must not hold the answer: report it failed
            # now and let it finish in the background.
            task.cancel()
            self._background.add(task)
            task.add_done_callback(self._forget)
            results.append(
                CheckResult(
                    check.name,
                    HealthStatus.FAIL if check.critical else HealthStatus.WARN,
                    self.budget,
                    self._clock.wall_ns(),
                    f"no answer within the {self.budget:g} s budget",
                    check.component_type,
                )
            )
        del pending
        return HealthReport(_overall(results), tuple(results), self.service)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()

    # ------------------------------------------------------------------------ endpoints

    def asgi_endpoints(
        self, live_path: str = "/livez", ready_path: str = "/readyz"
    ) -> dict[str, Callable[..., Awaitable[None]]]:
        """ASGI apps for the two probes, keyed by path (the middleware mounts them)."""

        async def live(scope: Any, receive: Any, send: Any) -> None:
            await _asgi_send(send, self.live())

        async def ready(scope: Any, receive: Any, send: Any) -> None:
            await _asgi_send(send, await self.ready())

        return {live_path: live, ready_path: ready}

    def wsgi_endpoints(
        self, live_path: str = "/livez", ready_path: str = "/readyz"
    ) -> dict[str, Callable[..., Iterable[bytes]]]:
        """WSGI apps for the two probes; checks run on one background event loop."""

        def live(environ: Any, start_response: Any) -> Iterable[bytes]:
            return _wsgi_send(start_response, self.live())

        def ready(environ: Any, start_response: Any) -> Iterable[bytes]:
            future = asyncio.run_coroutine_threadsafe(self.ready(), _background_loop())
            return _wsgi_send(start_response, future.result(timeout=self.budget + 1.0))

        return {live_path: live, ready_path: ready}


def _overall(results: Iterable[CheckResult]) -> HealthStatus:
    statuses = {r.status for r in results}
    if HealthStatus.FAIL in statuses:
        return HealthStatus.FAIL
    return HealthStatus.WARN if HealthStatus.WARN in statuses else HealthStatus.PASS


_HEADERS: Final = [
    (b"content-type", CONTENT_TYPE.encode()),
    (b"cache-control", b"no-store"),
]


async def _asgi_send(send: Any, report: HealthReport) -> None:
    body = report.body()
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": report.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _wsgi_send(start_response: Any, report: HealthReport) -> Iterable[bytes]:
    body = report.body()
    status = "200 OK" if report.http_status == 200 else "503 Service Unavailable"
    headers = [(k.decode(), v.decode()) for k, v in _HEADERS]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _forget_loop() -> None:
    # A forked child (gunicorn --preload) has no thread running the parent's loop, and may
    # have copied the lock held: it starts afresh on its first probe.
    global _loop, _loop_lock
    _loop, _loop_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_loop)


def _background_loop() -> asyncio.AbstractEventLoop:
    """One daemon thread running an event loop, for health checks called from WSGI."""
    global _loop  # noqa: PLW0603
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="faultwise-health", daemon=True).start()
            _loop = loop
        return _loop


# ----------------------------------------------------------------------------------- checks


def callable_check(
    fn: Callable[[], Any],
    name: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    critical: bool = True,
) -> Check:
    """A check from any callable, sync (run in a thread) or async.

    It passes when it returns ``None``, ``True`` or ``HealthStatus.PASS``. A sync callable that
    hangs cannot be interrupted: while it is still running, later probes report it failed
    instead of starting another thread.
    """
    label = name or str(getattr(fn, "__name__", "check"))
    if inspect.iscoroutinefunction(fn):
        return Check(label, fn, timeout, critical)
    running: list[asyncio.Future[Any]] = []

    async def probe() -> Any:
        if running and not running[0].done():
            raise RuntimeError("the previous run is still going")
        future = asyncio.get_running_loop().run_in_executor(None, fn)
        running[:] = [future]
        return await asyncio.shield(future)

    return Check(label, probe, timeout, critical)


def postgres_check(
    target: Any, *, name: str = "postgres", timeout: float = DEFAULT_TIMEOUT, critical: bool = True
) -> Check:
    """``SELECT 1`` on PostgreSQL: a connection string (a fresh connection per run), or a
    psycopg ``AsyncConnectionPool`` / ``ConnectionPool`` (a connection borrowed from it)."""
    if isinstance(target, str):
        from faultwise._errors import require

        psycopg = require("psycopg", "postgres")

        async def probe() -> None:
            # connect_timeout is whole seconds; the check's own timeout is the real bound
            conn = await psycopg.AsyncConnection.connect(
                target, connect_timeout=max(1, round(timeout)), autocommit=True
            )
            try:
                await conn.execute("SELECT 1")
            finally:
                await conn.close()

        return Check(name, probe, timeout, critical, "datastore")
    if inspect.iscoroutinefunction(getattr(target, "getconn", None)):

        async def pool_probe() -> None:
            async with target.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")

        return Check(name, pool_probe, timeout, critical, "datastore")

    def sync_probe() -> None:
        with target.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    return _typed(callable_check(sync_probe, name, timeout=timeout, critical=critical))


def redis_check(
    target: Any, *, name: str = "redis", timeout: float = DEFAULT_TIMEOUT, critical: bool = True
) -> Check:
    """``PING`` on Redis: a URL (a fresh connection per run, so the check works from any event
    loop) or a ``redis.asyncio`` client (its pool is used)."""
    if not isinstance(target, str):

        async def client_probe() -> None:
            if not await target.ping():
                raise RuntimeError("PING was not answered with PONG")

        return Check(name, client_probe, timeout, critical, "datastore")
    from faultwise._errors import require

    redis_asyncio = require("redis.asyncio", "redis")

    async def probe() -> None:
        client = redis_asyncio.from_url(
            target, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            if not await client.ping():
                raise RuntimeError("PING was not answered with PONG")
        finally:
            await client.aclose()

    return Check(name, probe, timeout, critical, "datastore")


# AMQP 0-9-1: the client sends this header; a broker answers with a Connection.Start method
# frame (type 1, channel 0, class 10, method 10). A wrong protocol answers with its own header.
_AMQP_HEADER: Final = b"AMQP\x00\x00\x09\x01"
_AMQP_START: Final = b"\x01\x00\x00"
_AMQP_START_METHOD: Final = b"\x00\x0a\x00\x0a"


def rabbitmq_check(
    url: str, *, name: str = "rabbitmq", timeout: float = DEFAULT_TIMEOUT, critical: bool = True
) -> Check:
    """The AMQP 0-9-1 handshake's first exchange with RabbitMQ (``amqp://`` or ``amqps://``).

    Proves the broker accepts connections and speaks AMQP, without logging in or opening a
    channel, so it needs no client library and leaves no connection behind.
    """
    parts = urlsplit(url)
    tls = parts.scheme == "amqps"
    host, port = parts.hostname or "127.0.0.1", parts.port or (5671 if tls else 5672)

    async def probe() -> None:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl.create_default_context() if tls else None
        )
        try:
            writer.write(_AMQP_HEADER)
            await writer.drain()
            frame = await reader.readexactly(11)
        finally:
            writer.close()
        if frame[:3] != _AMQP_START or frame[7:11] != _AMQP_START_METHOD:
            raise RuntimeError(f"not an AMQP 0-9-1 broker (answered {frame[:8]!r})")

    return Check(name, probe, timeout, critical, "component")


def http_check(
    url: str,
    *,
    name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    critical: bool = True,
    expect: range = range(200, 400),
) -> Check:
    """``GET url`` answered with a status in ``expect`` (default 2xx-3xx). HTTP/1.1, no client
    library needed; ``https`` verifies the certificate."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: faultwise-health\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    async def probe() -> None:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl.create_default_context() if tls else None
        )
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
        finally:
            writer.close()
        fields = status_line.split(None, 2)
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
            raise RuntimeError(f"not an HTTP answer: {status_line[:40]!r}")
        if int(fields[1]) not in expect:
            raise RuntimeError(f"status {int(fields[1])}")

    return Check(name or parts.netloc, probe, timeout, critical, "system")


def sqlalchemy_check(
    engine: Any, *, name: str = "database", timeout: float = DEFAULT_TIMEOUT, critical: bool = True
) -> Check:
    """``SELECT 1`` through a SQLAlchemy ``Engine`` (in a thread) or ``AsyncEngine``."""
    from sqlalchemy import text

    select_one = text("SELECT 1")
    if hasattr(engine, "sync_engine"):

        async def probe() -> None:
            async with engine.connect() as conn:
                await conn.execute(select_one)

        return Check(name, probe, timeout, critical, "datastore")

    def sync_probe() -> None:
        with engine.connect() as conn:
            conn.execute(select_one)

    return _typed(callable_check(sync_probe, name, timeout=timeout, critical=critical))


def _typed(check: Check) -> Check:
    check.component_type = "datastore"
    return check

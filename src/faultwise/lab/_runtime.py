"""What every live lab service has, as a real instrumented service has it.

* :mod:`faultwise.observe`: JSON logs with trace and request ids (``configure_logging``),
  the ASGI middleware (route-templated ``http_server_request_duration_seconds``, an access
  line per request, ``/metrics``), ``/livez`` and ``/readyz`` with checks of the service's
  dependencies, and :class:`~faultwise.observe.PoolWatch` on its connection pool;
* a worker pool: ``workers`` handlers at a time behind a FIFO queue, as a threaded server
  has; it is a :class:`faultwise.resilience.Bulkhead`. A service that sheds load puts an
  adaptive :class:`~faultwise.resilience.ConcurrencyLimit` in front of it and honours the
  caller's deadline (``x-request-timeout-ms``), so work nobody waits for leaves the queue;
* calls to other services (:class:`Peer`) through a :class:`faultwise.resilience.Policy`,
  carrying ``traceparent``, ``x-request-id`` and the deadline, each attempt a client span,
  an ``http_client_request_duration_seconds`` observation and, when it fails, a log line;
* spans written as CSV rows (one file per instance), as a tracing exporter would;
* ``/_lab/fault`` and ``/_lab/stats``, which only the lab calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from faultwise._clock import SYSTEM_CLOCK
from faultwise.lab._faultwise_policy import ServerShed, server_limiter
from faultwise.lab._http import HttpClient, Response
from faultwise.lab._sim import Outcome
from faultwise.lab._telemetry import SpanWriter, new_span_id
from faultwise.resilience import (
    BreakerStateChanged,
    Bulkhead,
    ConcurrencyLimit,
    Event,
    Policy,
    RetryGaveUp,
    RetryScheduled,
    deadline,
    deadline_from_headers,
    deadline_to_headers,
)

__all__ = ["Peer", "PeerError", "Runtime", "WorkerPool"]

T = TypeVar("T")
log = logging.getLogger("faultwise.lab")


class PeerError(Exception):
    """A call to another service answered with a 5xx status."""

    def __init__(self, peer: str, status: int) -> None:
        super().__init__(f"{peer} answered {status}")
        self.status = status


class WorkerPool:
    """``workers`` handlers at a time, the rest wait in FIFO order (a :class:`Bulkhead`).

    ``limiter`` (an adaptive concurrency limit) admits or rejects work before it queues;
    ``honour_deadline`` bounds each wait by the caller's propagated deadline.
    """

    def __init__(
        self,
        name: str,
        workers: int,
        *,
        limiter: ConcurrencyLimit | None = None,
        honour_deadline: bool = False,
    ) -> None:
        self.bulkhead = Bulkhead(workers, max_queue=1_000_000, max_wait=3600.0, name=name)
        self.limiter = limiter
        self.honour_deadline = honour_deadline
        strategies = (limiter, self.bulkhead) if limiter is not None else (self.bulkhead,)
        self.policy = Policy(*strategies, name=name)

    async def run(self, headers: dict[str, str], fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` on a worker; raises a :class:`RejectedError` when the work is shed."""
        budget = deadline_from_headers(headers) if self.honour_deadline else None
        with deadline(budget):
            return await self.policy.run_async(fn)

    def stats(self) -> dict[str, int]:
        out = {"busy": self.bulkhead.in_use, "queue": self.bulkhead.queued}
        if self.limiter is not None:
            out["limit"] = self.limiter.limit
        return out


class _Metrics:
    """The lab service's own metric families (the client histogram and resilience events)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        from faultwise.observe import HTTP_BUCKETS

        self.client = Histogram(
            "http_client_request_duration_seconds",
            "Duration of HTTP client requests.",
            ("http_request_method", "server_address", "http_response_status_code", "error_type"),
            buckets=HTTP_BUCKETS,
        )
        self.retries = Counter(
            "resilience_retries", "Retries scheduled by a retry strategy.", ("strategy",)
        )
        self.breaker = Gauge(
            "resilience_circuit_breaker_state",
            "1 for the state a circuit breaker is in, 0 for the others.",
            ("strategy", "state"),
        )
        self.pool_busy = Gauge("lab_worker_pool_busy", "Handlers at work.")
        self.pool_queue = Gauge("lab_worker_pool_queue", "Requests waiting for a handler.")


def _on_event(metrics: _Metrics) -> Callable[[Event], None]:
    """Resilience events as metrics and log lines (what an observability listener does)."""

    def listener(event: Event) -> None:
        if isinstance(event, RetryScheduled):
            metrics.retries.labels(event.strategy).inc()
        elif isinstance(event, RetryGaveUp):
            log.warning(
                "retries stopped: %s", event.reason.value, extra={"strategy": event.strategy}
            )
        elif isinstance(event, BreakerStateChanged):
            for state in ("closed", "open", "half_open"):
                metrics.breaker.labels(event.strategy, state).set(
                    1 if state == event.to_state.value else 0
                )
            level = logging.WARNING if event.to_state.value == "open" else logging.INFO
            log.log(
                level,
                "circuit breaker %s: %s -> %s",
                event.strategy,
                event.from_state.value,
                event.to_state.value,
                extra={"strategy": event.strategy},
            )

    return listener


@dataclass(slots=True)
class _Attempt:
    status: int
    error: BaseException | None


class Peer:
    """Calls to one other service, through ``policy`` (or none), propagating the context."""

    def __init__(self, runtime: Runtime, name: str, url: str, policy: Policy | None = None) -> None:
        self.runtime = runtime
        self.name = name
        self.client = HttpClient(url)
        self.address = f"{self.client.host}:{self.client.port}"
        self.policy = policy
        if policy is not None:
            policy.on_event(_on_event(runtime.metrics))

    async def request(self, method: str, path: str, body: bytes = b"") -> Response:
        """One logical call; raises :class:`PeerError` (5xx), ``TimeoutError``, ``OSError``
        or a :class:`RejectedError` of the policy."""
        if self.policy is None:
            return await self._attempt(method, path, body)
        return await self.policy.run_async(self._attempt, method, path, body)

    async def _attempt(self, method: str, path: str, body: bytes) -> Response:
        from faultwise.observe import current

        ctx = current()
        span_id = new_span_id()
        headers: dict[str, str] = {}
        if ctx is not None:
            headers["traceparent"] = f"00-{ctx.trace_id}-{span_id}-01"
            headers["x-request-id"] = ctx.request_id
        deadline_to_headers(headers)
        start_ns = time.time_ns()
        started = time.perf_counter()
        error: BaseException | None = None
        status = 0
        try:
            response = await self.client.request(method, path, headers, body)
            status = response.status_code
            if status >= 500:
                error = (
                    ServerShed(Outcome.REJECTED) if status == 503 else PeerError(self.name, status)
                )
                raise error
            return response
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._record(method, path, ctx, span_id, start_ns, started, status, error)

    def _record(  # noqa: PLR0917
        self,
        method: str,
        path: str,
        ctx: Any,
        span_id: str,
        start_ns: int,
        started: float,
        status: int,
        error: BaseException | None,
    ) -> None:
        seconds = time.perf_counter() - started
        if isinstance(error, asyncio.CancelledError):
            error = TimeoutError(f"gave up after {seconds:.3f} s")  # cancelled by a timeout
        error_type = "" if error is None else type(error).__name__
        self.runtime.metrics.client.labels(
            method, self.address, str(status) if status else "", error_type
        ).observe(seconds)
        rt = self.runtime
        if ctx is not None:
            rt.span(
                ctx.trace_id, span_id, ctx.span_id, f"{method} {self.name}{path}", "client",
                start_ns, time.time_ns(), error is None, self.name,
            )  # fmt: skip
        if error is not None:
            log.warning(
                "call to %s %s failed: %s",
                self.name,
                path,
                error_type,
                extra={
                    "peer.service": self.name,
                    "http.request.method": method,
                    "http.response.status_code": status or None,
                    "error.type": error_type,
                    "duration_s": round(seconds, 6),
                },
            )


class Runtime:
    """One service process's logs, spans, metrics, worker pool, faults and peers."""

    def __init__(self, config: dict[str, Any]) -> None:
        from faultwise.observe import configure_logging

        self.config = config
        self.name: str = config["name"]
        self.instance: str = config.get("instance") or self.name
        # each process, and each restart of it, draws its own numbers, reproducibly
        self.rng = random.Random(
            f"{config.get('seed', 0)}/{self.instance}/{config.get('incarnation', 0)}"
        )
        self.slowdown = 1.0
        self.knobs: dict[str, Any] = {}
        out = config.get("out")
        self.out = Path(out) if out else None
        self._log_file: IO[bytes] | None = None
        stream: IO[bytes] | None = None
        if self.out is not None:
            path = self.out / "logs" / f"{self.instance}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = self._log_file = open(path, "ab", buffering=0)  # noqa: SIM115
        configure_logging(self.name, stream=stream, static={"instance": self.instance})
        self.spans = SpanWriter(self.out / "spans" / f"{self.instance}.csv") if self.out else None
        self.metrics = _Metrics()
        shed = bool(config.get("shed", False))
        workers = int(config.get("workers", 16))
        limiter = server_limiter(SYSTEM_CLOCK, workers) if shed else None
        self.pool = WorkerPool(
            f"{self.name}-workers",
            workers,
            limiter=limiter,
            honour_deadline=shed,
        )
        self.peers: dict[str, Peer] = {}
        self.openers: list[Callable[[], Awaitable[None]]] = []
        self.background: list[Callable[[], Awaitable[None]]] = []
        self.closers: list[Callable[[], Awaitable[None]]] = []
        self.stats_sources: list[Callable[[], dict[str, Any]]] = [self.pool.stats]

    # -- telemetry --------------------------------------------------------------------------

    def span(  # noqa: PLR0917
        self,
        trace_id: str,
        span_id: str,
        parent: str | None,
        name: str,
        kind: str,
        start_ns: int,
        end_ns: int,
        ok: bool,
        peer: str | None = None,
    ) -> None:
        if self.spans is not None:
            self.spans.span(
                trace_id, span_id, parent, self.name, name, kind, start_ns, end_ns,
                "ok" if ok else "error", peer, self.instance,
            )  # fmt: skip

    def db_span_hook(self, peer: str) -> Callable[[str, float, float, BaseException | None], None]:
        """Client spans for database statements, children of the current request's span."""
        from faultwise.observe import current

        def hook(operation: str, start: float, end: float, error: BaseException | None) -> None:
            ctx = current()
            if ctx is not None:
                self.span(
                    ctx.trace_id, new_span_id(), ctx.span_id, operation, "client",
                    int(start * 1e9), int(end * 1e9), error is None, peer,
                )  # fmt: skip

        return hook

    # -- work -------------------------------------------------------------------------------

    def work_time(self, mean: float) -> float:
        """One service time: exponential with ``mean``, times the current slowdown."""
        return self.rng.expovariate(1.0 / mean) * self.slowdown if mean > 0 else 0.0

    def peer(self, name: str, policy: Policy | None = None) -> Peer:
        peer = self.peers[name] = Peer(self, name, self.config["peers"][name], policy)
        return peer

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"slowdown": self.slowdown, **self.knobs}
        for source in self.stats_sources:
            out.update(source())
        return out

    # -- the app ----------------------------------------------------------------------------

    def app(self, routes: Sequence[Any], *, checks: Sequence[Any] = ()) -> Any:
        """The service's ASGI app: its routes and the lab's, observed."""
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from faultwise.observe import Health, ObserveMiddleware

        async def fault(request: Request) -> Any:
            body = await request.json()
            if "slowdown" in body:  # the service does not know: nothing is logged
                self.slowdown = float(body.pop("slowdown"))
            self.knobs.update(body)
            return JSONResponse(self.stats())

        async def stats(request: Request) -> Any:
            return JSONResponse(self.stats())

        async def quiesce(request: Request) -> Any:
            """The run is over: write no more telemetry (the lab's teardown is no incident)."""
            self.close()
            return JSONResponse({"quiet": True})

        @contextlib.asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            for open_ in self.openers:
                await open_()
            tasks = [asyncio.create_task(self._flush_forever())]
            tasks += [asyncio.create_task(_logged(run)) for run in self.background]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                for close in self.closers:
                    with contextlib.suppress(Exception):
                        await close()
                self.close()

        inner = Starlette(
            routes=[
                *routes,
                Route("/_lab/fault", fault, methods=["POST"]),
                Route("/_lab/stats", stats),
                Route("/_lab/quiesce", quiesce, methods=["POST"]),
            ],
            lifespan=lifespan,
        )
        return ObserveMiddleware(
            _SpanMiddleware(inner, self),
            health=Health(*checks, service=self.name),
            exclude_paths=("/_lab/fault", "/_lab/stats", "/_lab/quiesce"),
        )

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.metrics.pool_busy.set(self.pool.bulkhead.in_use)
            self.metrics.pool_queue.set(self.pool.bulkhead.queued)
            if self.spans is not None:
                self.spans.flush()

    def close(self) -> None:
        """Flush and close the telemetry files; later lines go nowhere."""
        logging.getLogger().handlers.clear()
        logging.getLogger().addHandler(logging.NullHandler())
        if self.spans is not None:
            self.spans.close()
            self.spans = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


async def _logged(run: Callable[[], Awaitable[None]]) -> None:
    """Run a background loop; if it dies, say so in the service's log."""
    try:
        await run()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s failed", getattr(run, "__name__", run))


class _SpanMiddleware:
    """Writes one server span per request, with the ids the observe middleware made current."""

    def __init__(self, app: Any, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_lab/"):
            await self.app(scope, receive, send)
            return
        from faultwise.observe import current, starlette_route

        start_ns = time.time_ns()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ctx = current()
            if ctx is not None:
                self.runtime.span(
                    ctx.trace_id, ctx.span_id, ctx.parent_span_id,
                    f"{scope['method']} {starlette_route(scope) or scope['path']}", "server",
                    start_ns, time.time_ns(), status < 500,
                )  # fmt: skip

"""One lab service process: ``python -m faultwise.lab._serve '<json config>'``.

A Starlette app on uvicorn, bound to a free port on 127.0.0.1 (printed as ``LISTENING
<port>``). It models a real server: ``workers`` concurrent handlers in front of a FIFO queue,
a service time drawn per request (``service_time`` mean seconds, exponential) times a
``slowdown`` that the lab changes at run time, handlers that keep working after the client
gave up, and optionally load shedding (``queue_limit``: fast 503 beyond it;
``shed_expired``: drop work whose caller's deadline, ``x-request-timeout-ms``, has passed).

Endpoints: ``GET /work`` (the work), ``GET /livez``, ``GET /_lab/stats``,
``POST /_lab/fault`` (``{"slowdown": 3.0}``). Every request is logged as one JSON line and
one server span.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from faultwise.lab._procs import watch_parent
from faultwise.lab._telemetry import LogWriter, SpanWriter, new_span_id, new_trace_id

__all__ = ["build_app", "main"]

DEADLINE_HEADER = "x-request-timeout-ms"


class _Node:
    def __init__(self, config: dict[str, Any]) -> None:
        self.name: str = config["name"]
        self.workers = int(config.get("workers", 4))
        self.service_time = float(config.get("service_time", 0.02))
        self.queue_limit: int | None = config.get("queue_limit")
        self.shed_expired = bool(config.get("shed_expired", False))
        self.admit_by_deadline = bool(config.get("admit_by_deadline", False))
        self.lifo = config.get("queue", "fifo") == "lifo"
        self.slowdown = 1.0
        self.recent_service_time = self.service_time  # moving average, weight 0.05
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.busy = 0
        self.handled = 0
        self.shed = 0
        self.rejected = 0
        out = config.get("out")
        self.logs = LogWriter(Path(out) / "logs" / f"{self.name}.jsonl", self.name) if out else None
        self.spans = SpanWriter(Path(out) / "spans" / f"{self.name}.csv") if out else None
        self.rng = random.Random(config.get("seed", 0))

    def stats(self) -> dict[str, Any]:
        return {
            "queue": len(self.waiters),
            "busy": self.busy,
            "handled": self.handled,
            "shed": self.shed,
            "rejected": self.rejected,
            "slowdown": self.slowdown,
        }

    async def _acquire(self) -> None:
        if self.busy < self.workers and not self.waiters:
            self.busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter  # the releaser counted us in busy before waking us
        except asyncio.CancelledError:
            if not waiter.done() or waiter.cancelled():
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            else:
                self._release()
            raise

    def _release(self) -> None:
        self.busy -= 1
        while self.waiters:
            waiter = self.waiters.pop() if self.lifo else self.waiters.popleft()
            if not waiter.done():
                self.busy += 1
                waiter.set_result(None)
                return

    def _fits(self, budget: float) -> bool:
        if self.busy < self.workers:
            return True
        wait = (len(self.waiters) + 1) / self.workers * self.recent_service_time
        return wait + self.recent_service_time <= budget

    async def work(self, headers: dict[str, str]) -> tuple[int, str]:
        """Queue for a worker, then work one service time. Returns (status, outcome)."""
        arrived = time.monotonic()
        budget_ms = headers.get(DEADLINE_HEADER)
        budget = int(budget_ms) / 1000 if budget_ms and budget_ms.isdigit() else None
        if (self.queue_limit is not None and len(self.waiters) >= self.queue_limit) or (
            self.admit_by_deadline and budget is not None and not self._fits(budget)
        ):
            self.rejected += 1
            return 503, "rejected"
        await self._acquire()
        try:
            if self.shed_expired and budget is not None and time.monotonic() >= arrived + budget:
                self.shed += 1
                return 503, "shed"
            took = self.rng.expovariate(1.0 / self.service_time) * self.slowdown
            self.recent_service_time += 0.05 * (took - self.recent_service_time)
            await asyncio.sleep(took)
            self.handled += 1
            return 200, "ok"
        finally:
            self._release()


def _parent_of(traceparent: str | None) -> tuple[str, str | None]:
    if traceparent:
        parts = traceparent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
            return parts[1], parts[2]
    return new_trace_id(), None


def build_app(config: dict[str, Any]) -> Any:
    """The service's Starlette app."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    node = _Node(config)

    async def work(request: Request) -> Response:
        start_ns = time.time_ns()
        headers = {k.lower(): v for k, v in request.headers.items()}
        trace_id, parent = _parent_of(headers.get("traceparent"))
        span_id = new_span_id()
        status, outcome = await node.work(headers)
        end_ns = time.time_ns()
        if node.logs is not None:
            node.logs.log(
                end_ns,
                "INFO" if status < 500 else "WARN",
                "request handled" if status < 500 else "request shed",
                trace_id=trace_id,
                span_id=span_id,
                request_id=headers.get("x-request-id"),
                method="GET",
                route="/work",
                status=status,
                duration_s=round((end_ns - start_ns) / 1e9, 6),
                attempt=int(headers.get("x-attempt", "1") or 1),
                queue=len(node.waiters),
                outcome=outcome,
            )
        if node.spans is not None:
            node.spans.span(
                trace_id, span_id, parent, node.name, "GET /work", "server", start_ns, end_ns,
                "ok" if status < 500 else "error",
            )  # fmt: skip
        return PlainTextResponse(outcome, status_code=status)

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "pass"}, media_type="application/health+json")

    async def stats(request: Request) -> Response:
        return JSONResponse(node.stats())

    async def fault(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        if "slowdown" in body:
            node.slowdown = float(body["slowdown"])
            if node.logs is not None:
                node.logs.log(time.time_ns(), "INFO", "fault injected", slowdown=node.slowdown)
        return JSONResponse(node.stats())

    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(0.5)
            for writer in (node.logs, node.spans):
                if writer is not None:
                    writer.flush()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        flusher = asyncio.create_task(flush_forever())
        try:
            yield
        finally:
            flusher.cancel()
            for writer in (node.logs, node.spans):
                if writer is not None:
                    writer.close()

    app = Starlette(
        routes=[
            Route("/work", work),
            Route("/livez", livez),
            Route("/_lab/stats", stats),
            Route("/_lab/fault", fault, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.node = node
    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = sys.argv[1:] if argv is None else argv
    config = json.loads(args[0])
    watch_parent()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(config),
            log_level="warning",
            access_log=False,
            http="h11",
            loop="asyncio",
            backlog=2048,
            timeout_keep_alive=30,
        )
    )
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())

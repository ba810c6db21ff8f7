"""What observability costs: per request over a bare Starlette endpoint, and per JSON log line.

Requests are driven by a raw in-process ASGI loop (no server, no sockets): each variant wraps
the same trivial Starlette endpoint, and the per-request time includes the bare cost. Times are
CPU time of this process (time.process_time), so other load on the machine counts less;
variants run in many short interleaved rounds and the best round of each is kept. Log lines go
through each library's documented JSON setup into a null stream, inside a request context.

    python bench/observe.py            # full run, table
    python bench/observe.py --quick --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class NullStream:
    """Accepts str or bytes and drops them: measures formatting, not the disk."""

    def write(self, data: Any) -> int:
        return 0

    def flush(self) -> None:
        pass


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/items/{item_id}", item)])


def _stdlib_logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"bench.{name}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def bare() -> Any:
    return starlette_app()


def faultwise_middleware() -> Any:
    from faultwise.observe import JsonFormatter, JsonHandler, ObserveMiddleware

    # the access log is written (JSON lines into a null stream), not filtered out by level
    handler = JsonHandler(NullStream())  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter(service="bench"))
    _stdlib_logger("access", handler)
    access = logging.getLogger("bench.access")
    app = starlette_app()
    app.add_middleware(ObserveMiddleware, registry=CollectorRegistry(), access_log=access)
    return app


def instrumentator() -> Any:
    from prometheus_fastapi_instrumentator import Instrumentator

    app = starlette_app()
    Instrumentator(registry=CollectorRegistry()).instrument(app)
    return app


def starlette_exporter() -> Any:
    from starlette_exporter import PrometheusMiddleware

    app = starlette_app()
    # starlette-exporter registers on prometheus' global registry; a prefix keeps it apart
    app.add_middleware(PrometheusMiddleware, prefix="bench")
    return app


def correlation_id() -> Any:
    from asgi_correlation_id import CorrelationIdMiddleware

    app = starlette_app()
    app.add_middleware(CorrelationIdMiddleware)
    return app


def otel_sdk() -> Any:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    app = starlette_app()
    app.add_middleware(
        OpenTelemetryMiddleware, tracer_provider=TracerProvider(), meter_provider=MeterProvider()
    )
    return app


REQUEST_VARIANTS: dict[str, Callable[[], Any]] = {
    "bare": bare,
    "faultwise": faultwise_middleware,
    "instrumentator": instrumentator,
    "starlette_exporter": starlette_exporter,
    "correlation_id": correlation_id,
    "otel": otel_sdk,
}

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def _drive(app: Any, n: int) -> float:
    scope = SCOPE
    for _ in range(200):  # warm up: build the middleware stack, bind metric children
        await app(dict(scope), _receive, _send)
    start = time.process_time()
    for _ in range(n):
        await app(dict(scope), _receive, _send)
    return (time.process_time() - start) / n * 1e6


def bench_requests(n: int, rounds: int) -> dict[str, float]:
    apps = {name: make() for name, make in REQUEST_VARIANTS.items()}
    best = dict.fromkeys(apps, float("inf"))
    for _ in range(rounds):
        for name, app in apps.items():
            best[name] = min(best[name], asyncio.run(_drive(app, n)))
    return best


# ------------------------------------------------------------------------------------- logging


def _plain(logger: logging.Logger) -> None:
    """A peer's logger as the stock class (faultwise's setup upgrades every existing one)."""
    logger.__class__ = logging.Logger
    logging.setLogRecordFactory(logging.LogRecord)


def log_faultwise() -> tuple[Callable[[], None], Callable[[], None]]:
    from faultwise.observe import configure_logging

    logger = logging.getLogger("bench.faultwise")  # made before configure_logging, as in apps

    def setup() -> None:  # the documented one-call setup: JSON lines from the root logger
        configure_logging("bench", stream=NullStream())  # type: ignore[arg-type]

    return setup, lambda: logger.info("order placed", extra={"order_id": 42, "amount": 9.5})


def log_faultwise_streamhandler() -> tuple[Callable[[], None], Callable[[], None]]:
    from faultwise.observe import JsonFormatter

    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(JsonFormatter(service="bench"))
    logger = _stdlib_logger("faultwise_stream", handler)

    def setup() -> None:  # the formatter alone, on the stock logger, handler and record
        _plain(logger)

    return setup, lambda: logger.info("order placed", extra={"order_id": 42, "amount": 9.5})


def log_pythonjsonlogger() -> tuple[Callable[[], None], Callable[[], None]]:
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = _stdlib_logger("pythonjsonlogger", handler)

    def setup() -> None:
        _plain(logger)

    return setup, lambda: logger.info("order placed", extra={"order_id": 42, "amount": 9.5})


def _structlog(processors: list[Any], factory: Any) -> Callable[[], None]:
    import structlog

    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    logger = structlog.get_logger()
    return lambda: logger.info("order placed", order_id=42, amount=9.5)


def log_structlog() -> tuple[Callable[[], None], Callable[[], None]]:
    import structlog

    holder: list[Callable[[], None]] = []

    def setup() -> None:
        holder[:] = [
            _structlog(
                [
                    structlog.contextvars.merge_contextvars,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer(),
                ],
                structlog.PrintLoggerFactory(NullStream()),  # type: ignore[arg-type]
            )
        ]

    return setup, lambda: holder[0]()  # noqa: PLW0108  (set up later, per round)


def log_structlog_orjson() -> tuple[Callable[[], None], Callable[[], None]]:
    import orjson
    import structlog

    holder: list[Callable[[], None]] = []

    def setup() -> None:  # structlog's "performance" recipe
        holder[:] = [
            _structlog(
                [
                    structlog.contextvars.merge_contextvars,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.JSONRenderer(serializer=orjson.dumps),
                ],
                structlog.BytesLoggerFactory(NullStream()),  # type: ignore[arg-type]
            )
        ]

    return setup, lambda: holder[0]()  # noqa: PLW0108  (set up later, per round)


def log_faultwise_structlog() -> tuple[Callable[[], None], Callable[[], None]]:
    import structlog

    from faultwise.observe import StructlogRenderer

    holder: list[Callable[[], None]] = []

    def setup() -> None:
        holder[:] = [
            _structlog(
                [structlog.contextvars.merge_contextvars, StructlogRenderer("bench")],
                structlog.BytesLoggerFactory(NullStream()),  # type: ignore[arg-type]
            )
        ]

    return setup, lambda: holder[0]()  # noqa: PLW0108  (set up later, per round)


LOG_VARIANTS: dict[str, Callable[[], tuple[Callable[[], None], Callable[[], None]]]] = {
    "log_faultwise": log_faultwise,
    "log_faultwise_streamhandler": log_faultwise_streamhandler,
    "log_pythonjsonlogger": log_pythonjsonlogger,
    "log_structlog": log_structlog,
    "log_structlog_orjson": log_structlog_orjson,
    "log_faultwise_structlog": log_faultwise_structlog,
}


def _time_lines(emit: Callable[[], None], n: int) -> float:
    for _ in range(200):
        emit()
    start = time.process_time()
    for _ in range(n):
        emit()
    return (time.process_time() - start) / n * 1e6


def bench_logs(n: int, rounds: int) -> dict[str, float]:
    from faultwise.observe import request_context

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLoggerClass(), logging.getLogRecordFactory())
    variants = {name: make() for name, make in LOG_VARIANTS.items()}
    best = dict.fromkeys(variants, float("inf"))
    try:
        # inside a request, so faultwise's lines also carry request_id, trace_id and span_id
        with request_context(request_id="bench-request"):
            for _ in range(rounds):
                for name, (setup, emit) in variants.items():
                    setup()
                    best[name] = min(best[name], _time_lines(emit, n))
    finally:
        root.handlers[:], _, loggers, factory = saved
        root.setLevel(saved[1])
        logging.setLoggerClass(loggers)
        logging.setLogRecordFactory(factory)
    return best


# -------------------------------------------------------------------------------------- report


def run(quick: bool) -> dict[str, float]:
    # many short rounds, best kept: on a shared machine some rounds run undisturbed
    n_req, n_log, rounds = (500, 1_000, 5) if quick else (3_000, 5_000, 20)
    requests = bench_requests(n_req, rounds)
    logs = bench_logs(n_log, rounds)
    result = {f"{name}_us": round(us, 2) for name, us in requests.items()}
    result.update({f"{name}_us": round(us, 2) for name, us in logs.items()})
    overhead = requests["faultwise"] - requests["bare"]
    result["faultwise_overhead_us"] = round(overhead, 2)
    result["instrumentator_overhead_us"] = round(requests["instrumentator"] - requests["bare"], 2)
    result["overhead_ratio_vs_instrumentator"] = round(
        overhead / (requests["instrumentator"] - requests["bare"]), 3
    )
    result["log_ratio_vs_pythonjsonlogger"] = round(
        logs["log_faultwise"] / logs["log_pythonjsonlogger"], 3
    )
    result["log_ratio_vs_structlog"] = round(logs["log_faultwise"] / logs["log_structlog"], 3)
    return result


def table(result: dict[str, float]) -> str:
    bare = result["bare_us"]
    lines = [
        "| per request (raw ASGI loop, trivial Starlette endpoint) | µs | overhead µs |",
        "|---|---|---|",
    ]
    for name in REQUEST_VARIANTS:
        us = result[f"{name}_us"]
        lines.append(f"| {name} | {us:.2f} | {us - bare:+.2f} |")
    pjl = result["log_pythonjsonlogger_us"]
    lines += ["", "| per JSON log line | µs | vs python-json-logger |", "|---|---|---|"]
    for name in LOG_VARIANTS:
        us = result[f"{name}_us"]
        lines.append(f"| {name.removeprefix('log_')} | {us:.2f} | {us / pjl:.2f}x |")
    lines += [
        "",
        f"faultwise middleware overhead: {result['faultwise_overhead_us']:.2f} µs "
        f"({result['overhead_ratio_vs_instrumentator']:.2f}x the instrumentator's); "
        f"log line: {result['log_ratio_vs_pythonjsonlogger']:.2f}x python-json-logger, "
        f"{result['log_ratio_vs_structlog']:.2f}x structlog",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (development)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--out", help="also write the JSON results to this file")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(json.dumps(result, indent=2) if args.json else table(result))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared test helpers: capture JSON log lines, read metric samples."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from faultwise.observe import JsonFormatter, JsonHandler


class LogCapture:
    """JSON lines written to one logger, parsed."""

    def __init__(self) -> None:
        self.stream = io.BytesIO()
        self.handler = JsonHandler(self.stream)
        self.handler.setFormatter(JsonFormatter(service="test"))

    def lines(self, logger: str | None = None) -> list[dict[str, Any]]:
        lines = [orjson.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in lines if logger is None or line.get("logger") == logger]


@contextmanager
def capture_logs(name: str, level: int = logging.DEBUG) -> Iterator[LogCapture]:
    cap = LogCapture()
    logger = logging.getLogger(name)
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [cap.handler]
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield cap
    finally:
        logger.handlers[:], level, logger.propagate = saved
        logger.setLevel(level)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)

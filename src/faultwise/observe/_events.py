"""Resilience events as Prometheus metrics and log lines.

:mod:`faultwise.resilience` emits small frozen events and imports no metrics or logging
library; this listener is the subscriber that turns them into telemetry:

>>> listener = ResilienceListener()
>>> policy.on_event(listener)                                     # doctest: +SKIP

Metrics: every event counts in ``resilience_events_total{kind, strategy, event}``; retries in
``resilience_retries_total{strategy}``; rejections (open breaker, full bulkhead, rate limit,
throttle, concurrency limit) in ``resilience_rejections_total{kind, strategy}``; a breaker's
state in ``resilience_circuit_breaker_state{strategy, state}`` (1 for the current state);
an adaptive limit in ``resilience_concurrency_limit{strategy}``. Labels are bounded: event
fields such as idempotency keys go to the log line, never to a label.

Log lines go to the ``faultwise.resilience`` logger: a breaker opening, a retry giving up, a
timeout or shared state lost are warnings; rejections are debug (an open breaker rejects
every call, and the counter already says so); the rest is info.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from faultwise.observe._logging import log_event
from faultwise.observe._metrics import metric_set
from faultwise.resilience import (
    BreakerStateChanged,
    CircuitState,
    Event,
    LimitChanged,
    RetryGaveUp,
    RetryScheduled,
    TimedOut,
)

__all__ = ["ResilienceListener", "ResilienceMetrics"]

RESILIENCE_LOGGER: Final = "faultwise.resilience"

_WARNINGS: Final = frozenset(
    {
        ("retry", "gave_up"),
        ("timeout", "timed_out"),
        ("shared_state", "unavailable"),
        ("idempotency", "store_failed"),
        ("idempotency", "key_reused"),
    }
)


class ResilienceMetrics:
    """The metric families the listener feeds (one set per registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "resilience_events",
            "Events emitted by resilience strategies.",
            ("kind", "strategy", "event"),
            registry=registry,
        )
        self.retries = Counter(
            "resilience_retries",
            "Retries scheduled (attempts after the first).",
            ("strategy",),
            registry=registry,
        )
        self.rejections = Counter(
            "resilience_rejections",
            "Calls a strategy refused without trying them.",
            ("kind", "strategy"),
            registry=registry,
        )
        self.breaker_state = Gauge(
            "resilience_circuit_breaker_state",
            "1 for a circuit breaker's current state, 0 for the others.",
            ("strategy", "state"),
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.limit = Gauge(
            "resilience_concurrency_limit",
            "The current limit of an adaptive concurrency limiter.",
            ("strategy",),
            registry=registry,
            multiprocess_mode="liveall",
        )


def _fields(event: Event) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "resilience.kind": event.kind,
        "resilience.strategy": event.strategy,
        "resilience.event": event.event,
    }
    for field in dataclasses.fields(event):
        if field.name != "strategy":
            value = getattr(event, field.name)
            attrs[f"resilience.{field.name}"] = (
                value.value if isinstance(value, enum.Enum) else value
            )
    return attrs


def _message(event: Event) -> str:
    if isinstance(event, BreakerStateChanged):
        return (
            f"circuit breaker {event.strategy} {event.from_state.value} -> "
            f"{event.to_state.value} (failure rate {event.failure_rate:.0%}, slow calls "
            f"{event.slow_call_rate:.0%}, over {event.calls} calls)"
        )
    if isinstance(event, RetryScheduled):
        cause = event.error_type if event.error_type else "a result to retry"
        return (
            f"retry {event.strategy}: attempt {event.attempt} in {event.delay:.3f} s after {cause}"
        )
    if isinstance(event, RetryGaveUp):
        return (
            f"retry {event.strategy}: gave up after {event.attempts} attempts "
            f"({event.reason.value})"
        )
    if isinstance(event, TimedOut):
        return f"timeout {event.strategy}: gave up after {event.elapsed:.3f} s"
    return f"{event.kind} {event.strategy}: {event.event}"


def _level(event: Event) -> int:
    if isinstance(event, BreakerStateChanged):
        return logging.WARNING if event.to_state is CircuitState.OPEN else logging.INFO
    if event.event == "rejected":
        return logging.DEBUG
    return logging.WARNING if (event.kind, event.event) in _WARNINGS else logging.INFO


class ResilienceListener:
    """Subscribe it with ``policy.on_event(listener)`` (or on a single strategy).

    Fast on the paths that repeat (retries, rejections): label children are bound once per
    strategy, and the log line is only built when its level is enabled. Never raises: a
    failure to record is logged, and the call the event came from goes on.
    """

    def __init__(
        self, *, registry: CollectorRegistry | None = None, logger: logging.Logger | None = None
    ) -> None:
        self._metrics = metric_set(ResilienceMetrics, registry)
        self._log = logger if logger is not None else logging.getLogger(RESILIENCE_LOGGER)
        self._counters: dict[tuple[type[Event], str], tuple[Any, ...]] = {}

    def __call__(self, event: Event) -> None:
        try:
            self._record(event)
            level = _level(event)
            if self._log.isEnabledFor(level):
                log_event(self._log, level, _message(event), _fields(event))
        except Exception:
            self._log.exception("could not record resilience event %r", event)

    def _record(self, event: Event) -> None:
        key = (type(event), event.strategy)
        counters = self._counters.get(key)
        if counters is None:
            counters = self._bind(event)
            self._counters[key] = counters
        for counter in counters:
            counter.inc()
        if isinstance(event, BreakerStateChanged):
            states = self._metrics.breaker_state
            for state in CircuitState:
                states.labels(event.strategy, state.value).set(state is event.to_state)
        elif isinstance(event, LimitChanged):
            self._metrics.limit.labels(event.strategy).set(event.new)

    def _bind(self, event: Event) -> tuple[Any, ...]:
        m = self._metrics
        counters = [m.events.labels(event.kind, event.strategy, event.event)]
        if isinstance(event, RetryScheduled):
            counters.append(m.retries.labels(event.strategy))
        if event.event == "rejected":
            counters.append(m.rejections.labels(event.kind, event.strategy))
        return tuple(counters)

from __future__ import annotations

import logging
import threading

import pytest
from prometheus_client import CollectorRegistry

from faultwise.observe import ResilienceListener
from faultwise.resilience import (
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    CircuitOpenError,
    ConstantBackoff,
    CountWindow,
    Policy,
    Retry,
    RetryScheduled,
)
from faultwise.testing import FakeClock

from .helpers import capture_logs, sample


def fail() -> None:
    raise ConnectionError("refused")


def test_retries_count_and_log_and_giving_up_warns() -> None:
    registry = CollectorRegistry()
    retry = Retry(3, backoff=ConstantBackoff(0.0), name="payments", clock=FakeClock())
    retry.on_event(ResilienceListener(registry=registry))
    with capture_logs("faultwise.resilience") as logs, pytest.raises(ConnectionError):
        Policy(retry).run(fail)
    assert (2.0, 2.0, 1.0) == (
        sample(registry, "resilience_retries_total", strategy="payments"),
        sample(
            registry, "resilience_events_total", kind="retry", strategy="payments", event="retry"
        ),
        sample(
            registry, "resilience_events_total", kind="retry", strategy="payments", event="gave_up"
        ),
    )
    first, second, gave_up = logs.lines()
    assert (
        "retry payments: attempt 2 in 0.000 s after ConnectionError",
        "INFO",
        2,
    ) == (first["message"], first["severity"], first["resilience.attempt"])
    assert ("WARNING", "retry payments: gave up after 3 attempts (attempts)", "attempts") == (
        gave_up["severity"],
        gave_up["message"],
        gave_up["resilience.reason"],
    )
    assert "retry" == second["resilience.event"]


def test_breaker_state_is_a_gauge_and_opening_warns() -> None:
    registry = CollectorRegistry()
    breaker = CircuitBreaker(
        failure_rate=0.5,
        minimum_calls=2,
        window=CountWindow(2),
        name="inventory",
        clock=FakeClock(),
    )
    breaker.on_event(ResilienceListener(registry=registry))
    policy = Policy(breaker)
    with capture_logs("faultwise.resilience") as logs:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                policy.run(fail)
        with pytest.raises(CircuitOpenError):
            policy.run(fail)
    state = "resilience_circuit_breaker_state"
    assert (1.0, 0.0, 0.0) == (
        sample(registry, state, strategy="inventory", state="open"),
        sample(registry, state, strategy="inventory", state="closed"),
        sample(registry, state, strategy="inventory", state="half_open"),
    )
    assert 1.0 == sample(
        registry, "resilience_rejections_total", kind="circuit_breaker", strategy="inventory"
    )
    opened, rejected = logs.lines()
    assert ("WARNING", "closed", "open") == (
        opened["severity"],
        opened["resilience.from_state"],
        opened["resilience.to_state"],
    )
    assert opened["message"].startswith("circuit breaker inventory closed -> open")
    assert ("DEBUG", "rejected") == (rejected["severity"], rejected["resilience.event"])


def test_bulkhead_rejections_are_counted() -> None:
    registry = CollectorRegistry()
    bulkhead = Bulkhead(1, name="reports")
    bulkhead.on_event(ResilienceListener(registry=registry))
    policy = Policy(bulkhead)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        release.wait(5)

    worker = threading.Thread(target=policy.run, args=(hold,))
    worker.start()
    inside.wait(5)
    with pytest.raises(BulkheadFullError):
        policy.run(lambda: None)
    release.set()
    worker.join()
    assert 1.0 == sample(
        registry, "resilience_rejections_total", kind="bulkhead", strategy="reports"
    )


def test_the_listener_never_raises_into_the_call() -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("disk full")

    logger = logging.getLogger("test.observe.events.broken")
    logger.addHandler(Broken())
    logger.propagate = False
    listener = ResilienceListener(registry=CollectorRegistry(), logger=logger)
    saved, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        listener(RetryScheduled("s", attempt=1, delay=0.1, error_type=None))
    finally:
        logging.raiseExceptions = saved


def test_two_listeners_can_share_a_registry() -> None:
    registry = CollectorRegistry()
    first, second = ResilienceListener(registry=registry), ResilienceListener(registry=registry)
    event = RetryScheduled("shared", attempt=1, delay=0.0, error_type="OSError")
    first(event)
    second(event)
    assert 2.0 == sample(registry, "resilience_retries_total", strategy="shared")

from __future__ import annotations

import datetime
import io
import logging
import random
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from faultwise.observe import (
    JsonFormatter,
    JsonHandler,
    ObservedLogRecord,
    StructlogRenderer,
    configure_logging,
    request_context,
)
from faultwise.observe._logging import rfc3339_ns

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Capture:
    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        self.stream = io.BytesIO()
        self.handler = JsonHandler(self.stream)
        self.handler.setFormatter(formatter or JsonFormatter(service="shop"))

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, Capture]]:
    cap = Capture()
    logger = logging.getLogger("test.observe.logging")
    logger.handlers[:] = [cap.handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, cap
    logger.handlers.clear()


def test_rfc3339_ns_keeps_nanoseconds_in_utc() -> None:
    assert "2026-01-01T00:00:00.000000007Z" == rfc3339_ns(1_767_225_600_000_000_007)
    assert "2026-01-01T00:00:01.123456789Z" == rfc3339_ns(1_767_225_601_123_456_789)


def test_rfc3339_ns_renders_a_new_second_and_times_before_its_cache() -> None:
    assert "2026-01-01T00:00:01.000000000Z" == rfc3339_ns(1_767_225_601_000_000_000)
    assert "2026-01-01T00:00:02.000000001Z" == rfc3339_ns(1_767_225_602_000_000_001)
    assert "1970-01-01T00:00:00.000000005Z" == rfc3339_ns(5)
    assert "1969-12-31T23:59:59.999999995Z" == rfc3339_ns(-5)
    assert "2026-01-01T00:00:02.000000001Z" == rfc3339_ns(1_767_225_602_000_000_001)


def test_rfc3339_ns_matches_datetime_around_second_boundaries() -> None:
    rng = random.Random(7)
    instants = [rng.randrange(1_000_000_000, 2**62) for _ in range(2_000)]
    instants += [s * 1_000_000_000 + d for s in (1, 1_767_225_601) for d in (-1, 0, 1)]
    for ns in instants:  # out of order: the cached second is left and found again
        whole, fraction = divmod(ns, 1_000_000_000)
        when = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=whole)
        assert f"{when:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z" == rfc3339_ns(ns)


def test_ids_follow_the_request_while_the_line_fields_are_reused(
    capture: tuple[logging.Logger, Capture],
) -> None:
    logger, cap = capture
    with request_context(request_id="r-1"):
        logger.info("one")
        logger.info("two")
    with request_context(request_id="r-2"):
        logger.info("three")
    logger.info("four")
    lines = cap.lines()
    assert ["r-1", "r-1", "r-2", None] == [line.get("request_id") for line in lines]
    assert "trace_id" not in lines[3]
    assert lines[0]["trace_id"] == lines[1]["trace_id"] != lines[2]["trace_id"]


def test_an_attribute_seen_before_is_still_renamed_or_redacted_where_it_must_be(
    capture: tuple[logging.Logger, Capture],
) -> None:
    logger, cap = capture
    for _ in range(2):  # the second line takes the remembered path
        logger.info("x", extra={"order_id": 1, "attributes.order_id": 2, "card": {"token": "t"}})
    logger.info("x", extra={"order_id": {"password": "p"}})
    expected = {"order_id": 1, "attributes.order_id": 2, "card": {"token": "[REDACTED]"}}
    lines = cap.lines()
    for line in lines[:2]:
        assert expected == {k: line[k] for k in expected}
    assert {"password": "[REDACTED]"} == lines[2]["order_id"]


def test_a_line_has_the_core_fields_in_order(
    capture: tuple[logging.Logger, Capture],
) -> None:
    logger, cap = capture
    with request_context(request_id="r-1", traceparent=f"00-{TRACE}-00f067aa0ba902b7-01") as ctx:
        logger.info("paid %s", "order-9")
    (line,) = cap.lines()
    assert [
        "timestamp",
        "severity",
        "message",
        "service",
        "logger",
        "trace_id",
        "span_id",
        "request_id",
        "thread",
    ] == list(line)
    assert {
        "severity": "INFO",
        "message": "paid order-9",
        "service": "shop",
        "logger": "test.observe.logging",
        "trace_id": TRACE,
        "span_id": ctx.span_id,
        "request_id": "r-1",
        "thread": threading.current_thread().name,
    } == {k: v for k, v in line.items() if k != "timestamp"}


def test_outside_a_request_there_are_no_ids(capture: tuple[logging.Logger, Capture]) -> None:
    logger, cap = capture
    logger.warning("boot")
    (line,) = cap.lines()
    assert {"trace_id", "span_id", "request_id"}.isdisjoint(line)


def test_timestamp_has_nanoseconds_from_the_observed_record() -> None:
    record = ObservedLogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created_ns = 1_767_225_600_123_456_789
    line = orjson.loads(JsonFormatter().format(record))
    assert "2026-01-01T00:00:00.123456789Z" == line["timestamp"]


def test_a_stock_record_is_formatted_from_its_float_time() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m", None, None)
    record.created = 1_767_225_600.5
    line = orjson.loads(JsonFormatter().format(record))
    assert ("2026-01-01T00:00:00.500000000Z", "ERROR") == (line["timestamp"], line["severity"])


def test_extra_attributes_become_fields(capture: tuple[logging.Logger, Capture]) -> None:
    logger, cap = capture
    logger.info("placed", extra={"order_id": 42, "amount": 9.5, "tags": ["a"], "obj": object})
    (line,) = cap.lines()
    assert {"order_id": 42, "amount": 9.5, "tags": ["a"], "obj": str(object)} == {
        k: line[k] for k in ("order_id", "amount", "tags", "obj")
    }


def test_an_attribute_cannot_overwrite_a_core_field(
    capture: tuple[logging.Logger, Capture],
) -> None:
    logger, cap = capture
    logger.info("real", extra={"severity": "fake", "service": "other"})
    (line,) = cap.lines()
    assert ("INFO", "shop", "fake", "other") == (
        line["severity"],
        line["service"],
        line["attributes.severity"],
        line["attributes.service"],
    )


def test_secret_looking_keys_are_redacted_also_when_nested(
    capture: tuple[logging.Logger, Capture],
) -> None:
    logger, cap = capture
    logger.info(
        "login",
        extra={
            "user": "ana",
            "password": "hunter2",
            "Authorization": "Bearer x",
            "db": {"host": "h", "db_password": "p", "inner": {"api_key": "k"}},
        },
    )
    (line,) = cap.lines()
    assert {
        "user": "ana",
        "password": "[REDACTED]",
        "Authorization": "[REDACTED]",
        "db": {"host": "h", "db_password": "[REDACTED]", "inner": {"api_key": "[REDACTED]"}},
    } == {k: line[k] for k in ("user", "password", "Authorization", "db")}


def test_redaction_words_are_configurable() -> None:
    cap = Capture(JsonFormatter(secret_words=("pin",)))
    logger = logging.getLogger("test.observe.redact")
    logger.addHandler(cap.handler)
    logger.propagate = False
    logger.warning("x", extra={"pin_code": 1234, "password": "visible"})
    logger.removeHandler(cap.handler)
    (line,) = cap.lines()
    assert ("[REDACTED]", "visible") == (line["pin_code"], line["password"])


def test_exception_info_becomes_otel_exception_fields(
    capture: tuple[logging.Logger, Capture],
) -> None:
    logger, cap = capture
    try:
        raise KeyError("sku-1")
    except KeyError:
        logger.exception("lookup failed")
    (line,) = cap.lines()
    assert ("ERROR", "KeyError", "'sku-1'") == (
        line["severity"],
        line["exception.type"],
        line["exception.message"],
    )
    assert line["exception.stacktrace"].startswith("Traceback (most recent call last):")
    assert line["exception.stacktrace"].endswith("KeyError: 'sku-1'")


def test_exception_type_is_qualified_outside_builtins() -> None:
    record = logging.LogRecord(
        "x",
        40,
        __file__,
        1,
        "m",
        None,
        (orjson.JSONDecodeError, orjson.JSONDecodeError("e", "", 0), None),
    )
    line = orjson.loads(JsonFormatter().format(record))
    assert "orjson.JSONDecodeError" == line["exception.type"]


def test_static_fields_are_added_to_every_line() -> None:
    record = logging.LogRecord("x", 20, __file__, 1, "m", None, None)
    line = orjson.loads(JsonFormatter(static={"deployment.environment": "prod"}).format(record))
    assert "prod" == line["deployment.environment"]


def test_the_formatter_works_on_a_plain_stream_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="s"))
    logger = logging.getLogger("test.observe.plain")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("hi", extra={"k": 1})
    logger.removeHandler(handler)
    assert ("hi", 1) == (
        orjson.loads(stream.getvalue())["message"],
        orjson.loads(stream.getvalue())["k"],
    )


def test_observed_record_sets_every_standard_attribute() -> None:
    stock = logging.LogRecord("n", 20, "/a/b/mod.py", 3, "m %s", ("x",), None, "f")
    fast = ObservedLogRecord("n", 20, "/a/b/mod.py", 3, "m %s", ("x",), None, "f")
    keys = set(stock.__dict__) - {"created", "msecs", "relativeCreated"}
    assert {k: stock.__dict__[k] for k in keys} == {k: fast.__dict__[k] for k in keys}
    assert abs(stock.created - fast.created) < 1.0
    assert int(fast.created * 1000) % 1000 == int(fast.msecs)


def test_observed_record_formats_a_mapping_argument_like_the_stock_record() -> None:
    record = ObservedLogRecord("n", 20, __file__, 1, "%(a)s-%(b)s", ({"a": 1, "b": 2},), None)
    assert "1-2" == record.getMessage()


def test_configure_logging_routes_root_records_to_json_lines(logging_state: None) -> None:
    stream = io.BytesIO()
    configure_logging("api", level="DEBUG", stream=stream)
    assert ObservedLogRecord is logging.getLogRecordFactory()
    logging.getLogger("some.library").debug("connected", extra={"peer": "db"})
    line = orjson.loads(stream.getvalue())
    assert ("DEBUG", "connected", "api", "some.library", "db") == (
        line["severity"],
        line["message"],
        line["service"],
        line["logger"],
        line["peer"],
    )


def test_configure_logging_keeps_a_factory_someone_else_installed(logging_state: None) -> None:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return logging.LogRecord(*args, **kwargs)

    logging.setLogRecordFactory(factory)
    configure_logging("api", stream=io.BytesIO())
    assert factory is logging.getLogRecordFactory()


def test_structlog_renderer_emits_the_same_fields() -> None:
    import structlog

    out = io.BytesIO()
    logger = structlog.wrap_logger(
        structlog.BytesLogger(out),
        processors=[structlog.processors.add_log_level, StructlogRenderer("shop")],
    )
    with request_context(request_id="r-2") as ctx:
        logger.warning("stock low", sku="a-1", token="t0k3n")
    line = orjson.loads(out.getvalue())
    assert {
        "severity": "WARNING",
        "message": "stock low",
        "service": "shop",
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
        "request_id": "r-2",
        "thread": threading.current_thread().name,
        "sku": "a-1",
        "token": "[REDACTED]",
    } == {k: v for k, v in line.items() if k != "timestamp"}


def test_structlog_renderer_renders_exceptions_and_can_return_str() -> None:
    import structlog

    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[StructlogRenderer(as_str=True)]
    )
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logger.exception("boom")
    line = orjson.loads(out.getvalue())
    assert ("ERROR", "ZeroDivisionError", "division by zero") == (
        line["severity"],
        line["exception.type"],
        line["exception.message"],
    )


def test_opentelemetry_span_ids_win_in_log_lines(capture: tuple[logging.Logger, Capture]) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    logger, cap = capture
    tracer = TracerProvider().get_tracer("t")
    with request_context(request_id="r-3"), tracer.start_as_current_span("inner") as span:
        logger.info("inside span")
    (line,) = cap.lines()
    sc = span.get_span_context()
    assert (f"{sc.trace_id:032x}", f"{sc.span_id:016x}", "r-3") == (
        line["trace_id"],
        line["span_id"],
        line["request_id"],
    )


def test_a_record_formatted_in_a_queue_listener_keeps_its_requests_ids() -> None:
    import queue
    from logging.handlers import QueueHandler, QueueListener

    logging.setLogRecordFactory(ObservedLogRecord)
    cap = Capture()
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    listener = QueueListener(records, cap.handler)
    logger = logging.getLogger("test.observe.queue")
    logger.handlers[:] = [QueueHandler(records)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    listener.start()
    try:
        with request_context(request_id="queued-1") as ctx:
            logger.info("order %s", 7, extra={"amount": 3})
        logger.info("outside")
    finally:
        listener.stop()
        logger.handlers.clear()
        logging.setLogRecordFactory(logging.LogRecord)
    inside, outside = cap.lines()
    assert ("order 7", "queued-1", ctx.trace_id, ctx.span_id, 3) == (
        inside["message"],
        inside["request_id"],
        inside["trace_id"],
        inside["span_id"],
        inside["amount"],
    )
    assert "faultwise_ids" not in inside
    assert "request_id" not in outside

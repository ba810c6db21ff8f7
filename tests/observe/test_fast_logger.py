"""ObservedLogger: lines for JSON handlers written without a LogRecord, byte for byte the same."""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultwise.observe import (
    JsonFormatter,
    JsonHandler,
    ObservedLogger,
    ObservedLogRecord,
    configure_logging,
    new_context,
    request_context,
)
from faultwise.observe._logging import json_handlers

pytestmark = pytest.mark.usefixtures("logging_state")


def without_timestamps(data: bytes) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in data.splitlines()]
    for line in lines:
        assert line.pop("timestamp").endswith("Z")
    return lines


def both_paths(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> tuple[bytes, bytes]:
    """The same calls through an ObservedLogger and through a stock Logger with a record."""
    context = new_context(request_id="req-7")
    outputs = []
    for cls in (ObservedLogger, logging.Logger):
        stream = io.BytesIO()
        handler = JsonHandler(stream)
        handler.setFormatter(JsonFormatter(service="shop", static={"env": "test"}))
        logger = cls("fast.path.test")
        logger.addHandler(handler)
        logger.propagate = False
        with request_context(context):
            for msg, args, kwargs in calls:
                logger.info(msg, *args, **kwargs)
        outputs.append(stream.getvalue())
    return outputs[0], outputs[1]


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("plain", (), {}),
    ("order %s of %d", ("A-1", 3), {}),
    ("%(a)s-%(b)s", ({"a": 1, "b": 2},), {}),
    ("with extra", (), {"extra": {"order_id": 42, "amount": 9.5}}),
    ("secret", (), {"extra": {"password": "hunter2", "headers": {"Authorization": "x"}}}),
    ("core keys", (), {"extra": {"service": "other", "trace_id": "t", "env": "prod"}}),
    ("odd values", (), {"extra": {"when": object, "items": (1, 2), "none": None}}),
    ("prefixed", (), {"extra": {"attributes.x": 1, "x": 2}}),
]


@pytest.mark.parametrize("factory", [ObservedLogRecord, logging.LogRecord])
def test_lines_are_the_bytes_a_record_would_have_made(factory: Any) -> None:
    logging.setLogRecordFactory(factory)
    fast, stock = both_paths(CALLS)
    assert len(CALLS) == len(fast.splitlines())
    assert without_timestamps(stock) == without_timestamps(fast)


def test_a_non_string_message_and_a_str_subclass_render_as_str() -> None:
    class Tag(str):
        pass

    fast, stock = both_paths([("%s", (ValueError("boom"),), {}), (Tag("tagged"), (), {})])
    assert without_timestamps(stock) == without_timestamps(fast)
    assert ["boom", "tagged"] == [line["message"] for line in without_timestamps(fast)]


KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.dictionaries(KEYS, inner, max_size=3) | st.lists(inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(message=st.text(max_size=40), extra=st.dictionaries(KEYS, VALUES, max_size=5))
def test_any_message_and_extra_render_the_same_on_both_paths(
    message: str, extra: dict[str, Any]
) -> None:
    reserved = {"message", "asctime", *logging.LogRecord("p", 20, "", 1, "", None, None).__dict__}
    extra = {k: v for k, v in extra.items() if k not in reserved and k != "created_ns"}
    fast, stock = both_paths([(message.replace("%", "%%"), (), {"extra": extra})])
    assert without_timestamps(stock) == without_timestamps(fast)


def test_extra_that_would_overwrite_a_record_attribute_raises_on_both_paths() -> None:
    for cls in (ObservedLogger, logging.Logger):
        logger = cls("fast.path.keyerror")
        logger.addHandler(JsonHandler(io.BytesIO()))
        logger.handlers[0].setFormatter(JsonFormatter())
        with pytest.raises(KeyError, match="Attempt to overwrite 'lineno' in LogRecord"):
            logger.info("x", extra={"lineno": 3})
        with pytest.raises(KeyError, match="Attempt to overwrite 'message' in LogRecord"):
            logger.info("x", extra={"message": "m"})


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_any_other_handler_gets_a_real_record_naming_the_caller() -> None:
    logger = ObservedLogger("fast.path.fallback")
    records = Records()
    logger.addHandler(records)
    logger.propagate = False
    logger.info("hello %s", "you")
    line = sys._getframe().f_lineno - 1
    (record,) = records.records
    assert ("hello you", __file__, line) == (record.getMessage(), record.pathname, record.lineno)
    assert "test_any_other_handler_gets_a_real_record_naming_the_caller" == record.funcName


def test_a_json_handler_beside_another_handler_still_writes_its_line() -> None:
    stream = io.BytesIO()
    logger = ObservedLogger("fast.path.mixed")
    json_handler = JsonHandler(stream)
    json_handler.setFormatter(JsonFormatter(service="shop"))
    records = Records()
    logger.handlers[:] = [json_handler, records]
    logger.propagate = False
    assert json_handlers(logger, logging.INFO) is None  # the stock path serves both
    logger.info("both")
    assert ["both"] == [orjson.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert ["both"] == [r.getMessage() for r in records.records]


def test_filters_exceptions_and_stack_info_take_the_stock_path() -> None:
    stream = io.BytesIO()
    logger = ObservedLogger("fast.path.stock")
    handler = JsonHandler(stream)
    handler.setFormatter(JsonFormatter(service="shop"))
    logger.addHandler(handler)
    logger.propagate = False
    seen: list[str] = []

    def note(record: logging.LogRecord) -> bool:
        seen.append(record.getMessage())
        return record.getMessage() != "dropped"

    logger.addFilter(note)
    logger.info("kept")
    logger.info("dropped")
    logger.removeFilter(note)
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    logger.info("where", stack_info=True)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert ["kept", "dropped"] == seen
    assert ["kept", "failed", "where"] == [line["message"] for line in lines]
    assert "ValueError" == lines[1]["exception.type"]
    assert "test_fast_logger.py" in lines[2]["code.stacktrace"]


def test_a_custom_record_factory_keeps_its_attributes() -> None:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = logging.LogRecord(*args, **kwargs)
        record.host = "web-1"
        return record

    logging.setLogRecordFactory(factory)
    stream = io.BytesIO()
    logger = ObservedLogger("fast.path.factory")
    logger.addHandler(JsonHandler(stream))
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.propagate = False
    logger.info("made")
    assert "web-1" == orjson.loads(stream.getvalue())["host"]


def test_a_message_that_cannot_be_formatted_is_reported_as_logging_reports_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.BytesIO()
    logger = ObservedLogger("fast.path.error")
    logger.addHandler(JsonHandler(stream))
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.propagate = False
    logger.info("count %d", "not a number")
    assert b"" == stream.getvalue()
    err = capsys.readouterr().err
    assert "--- Logging error ---" in err
    assert "%d format: a real number is required, not str" in err


def test_a_failing_stream_is_reported_through_handle_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError("disk full")

    logger = ObservedLogger("fast.path.broken")
    logger.addHandler(JsonHandler(Broken()))
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.propagate = False
    logger.info("lost")
    err = capsys.readouterr().err
    assert "--- Logging error ---" in err
    assert "OSError: disk full" in err


def test_each_line_carries_the_thread_that_logged_it() -> None:
    stream = io.BytesIO()
    logger = ObservedLogger("fast.path.threads")
    logger.addHandler(JsonHandler(stream))
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.propagate = False
    worker = threading.Thread(target=logger.info, args=("from worker",), name="worker-3")
    worker.start()
    worker.join(timeout=10)
    logger.info("from main")
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [("from worker", "worker-3"), ("from main", threading.current_thread().name)] == [
        (line["message"], line["thread"]) for line in lines
    ]


def test_configure_logging_upgrades_plain_loggers_made_before_and_after() -> None:
    before = logging.getLogger("fast.path.before")

    class Custom(logging.Logger):
        pass

    custom = Custom("fast.path.custom")
    logging.Logger.manager.loggerDict["fast.path.custom"] = custom
    stream = io.BytesIO()
    configure_logging("api", stream=stream)
    after = logging.getLogger("fast.path.after")
    assert (ObservedLogger, ObservedLogger, Custom) == (type(before), type(after), type(custom))
    assert isinstance(logging.getLogger(), ObservedLogger)
    assert isinstance(logging.getLogger(), logging.RootLogger)
    before.warning("one")
    logging.warning("two")  # the module-level functions log through the root
    assert ["one", "two"] == [orjson.loads(x)["message"] for x in stream.getvalue().splitlines()]
    del logging.Logger.manager.loggerDict["fast.path.custom"]


def test_configure_logging_keeps_a_logger_class_someone_else_installed() -> None:
    class Custom(logging.Logger):
        pass

    plain = logging.getLogger("fast.path.kept")
    logging.setLoggerClass(Custom)
    configure_logging("api", stream=io.BytesIO())
    assert (Custom, logging.Logger) == (logging.getLoggerClass(), type(plain))


def test_fast_records_false_installs_nothing() -> None:
    plain = logging.getLogger("fast.path.none")
    configure_logging("api", stream=io.BytesIO(), fast_records=False)
    assert (logging.Logger, logging.Logger) == (logging.getLoggerClass(), type(plain))
    assert logging.LogRecord is logging.getLogRecordFactory()

"""JSON logs: one object per line, for stdlib logging and for structlog.

Field names follow OpenTelemetry's log data model as it maps to JSON, flattened:
``timestamp`` (RFC 3339, UTC, nanoseconds), ``severity``, ``message``, ``service``, ``logger``,
``trace_id``, ``span_id``, ``request_id``, ``thread``, then the record's own attributes, then
``exception.type``, ``exception.message`` and ``exception.stacktrace`` (OTel's exception
attributes). Keys that look secret (password, token, authorization...) are redacted.

Three pieces, usable alone:

* :class:`JsonFormatter`: a ``logging.Formatter`` for any handler.
* :class:`JsonHandler`: a handler that writes the formatter's bytes straight to a binary
  stream (orjson produces bytes; no decode/encode round trip, no handler-wide lock).
* :class:`StructlogRenderer`: the last processor of a structlog chain, same fields.

:func:`configure_logging` wires the root logger in one call.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, MutableMapping
from itertools import islice
from types import TracebackType
from typing import IO, Any, Final

import orjson

from faultwise.observe import _context

__all__ = [
    "DEFAULT_SECRET_WORDS",
    "JsonFormatter",
    "JsonHandler",
    "ObservedLogRecord",
    "ObservedLogger",
    "StructlogRenderer",
    "configure_logging",
    "json_handlers",
    "log_event",
    "rfc3339_ns",
]

DEFAULT_SECRET_WORDS: Final = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "session",
)
REDACTED: Final = "[REDACTED]"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

# ---------------------------------------------------------------------------------- timestamps

# the second being rendered: [start ns, end ns) and its RFC 3339 rendering up to the dot
_ts_cache: tuple[int, int, str] = (0, 0, "")


def default_service() -> str:
    """``OTEL_SERVICE_NAME`` when set, else OpenTelemetry's default ``unknown_service:python``."""
    return os.environ.get("OTEL_SERVICE_NAME") or "unknown_service:python"


def rfc3339_ns(ns: int) -> str:
    """``2026-01-01T00:00:00.123456789Z`` from nanoseconds since the epoch.

    The last nine digits of ``ns`` are the fraction, already zero-padded; the part before
    them changes once a second, so its rendering is cached (``time.strftime`` costs ~1 µs).
    """
    global _ts_cache  # noqa: PLW0603  (a tuple swapped atomically: safe across threads)
    start, end, prefix = _ts_cache
    if not start <= ns < end:
        if ns < 1_000_000_000:  # before 1970-01-01T00:00:01: fewer than nine fraction digits
            whole, fraction = divmod(ns, 1_000_000_000)
            return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(whole)) + f"{fraction:09d}Z"
        start = ns - ns % 1_000_000_000
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(start // 1_000_000_000))
        _ts_cache = (start, start + 1_000_000_000, prefix)
    return f"{prefix}{str(ns)[-9:]}Z"


# ------------------------------------------------------------------------------------- records

_LOGGING_START: Final[float] = logging._startTime  # type: ignore[attr-defined]
LEVEL_NAMES: Final = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
_module_names: dict[str, tuple[str, str]] = {}
_pid = os.getpid()
_process_name = "MainProcess"


def _after_fork() -> None:
    global _pid, _process_name  # noqa: PLW0603
    _pid = os.getpid()
    mp = sys.modules.get("multiprocessing")
    _process_name = mp.current_process().name if mp is not None else "MainProcess"


os.register_at_fork(after_in_child=_after_fork)


thread_names = threading.local()  # each thread's name, once read (thread_name)


def thread_name() -> str:
    """The current thread's name, read once per thread (``current_thread()`` costs 5x more)."""
    try:
        name: str = thread_names.name
    except AttributeError:
        name = thread_names.name = threading.current_thread().name
    return name


_TASK_NAMES: Final = sys.version_info >= (3, 12)


def _task_name() -> str | None:
    """The running asyncio task's name, as Python 3.12's LogRecord records it."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not getattr(logging, "logAsyncioTasks", True):
        return None
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    return task.get_name() if task is not None else None


Ids = tuple[_context.RequestContext | None, tuple[str, str, bool] | None]


def current_ids() -> Ids:
    """The request context and the active OpenTelemetry span's ids, here and now."""
    return _context.current_var.get(), _context.active_otel_ids()


class ObservedLogRecord(logging.LogRecord):
    """A ``LogRecord`` with a nanosecond timestamp (``created_ns``), built about twice as fast.

    The stock record calls ``os.getpid``, splits the path and asks multiprocessing for the
    process name on every call; this one caches those per process and per source file. Every
    standard attribute is still set, so any formatter or handler can use it. It also keeps the
    request and trace ids current where it was made (``faultwise_ids``), so a record formatted
    later in another thread (a ``QueueHandler``'s listener) still carries its request's ids.
    Installed by :func:`configure_logging` with ``logging.setLogRecordFactory``.
    """

    created_ns: int
    faultwise_ids: Ids

    def __init__(  # noqa: PLR0917  (LogRecord's own positional signature)
        self,
        name: str,
        level: int,
        pathname: str,
        lineno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        sinfo: str | None = None,
        **_kwargs: Any,
    ) -> None:
        ns = time.time_ns()
        created = ns / 1e9
        # as in LogRecord: logger.info("%(a)s", {"a": 1}) formats with the mapping
        if args and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            args = args[0]
        names = _module_names.get(pathname)
        if names is None:
            filename = os.path.basename(pathname)
            names = _module_names.setdefault(pathname, (filename, os.path.splitext(filename)[0]))
        self.name = name
        self.msg = msg
        self.args = args
        self.levelname = LEVEL_NAMES.get(level) or logging.getLevelName(level)
        self.levelno = level
        self.pathname = pathname
        self.filename, self.module = names
        self.exc_info = exc_info
        self.exc_text = None
        self.stack_info = sinfo
        self.lineno = lineno
        self.funcName = func  # type: ignore[assignment]  # LogRecord allows None here too
        self.created = created
        self.created_ns = ns
        self.msecs = int((created - int(created)) * 1000) + 0.0
        self.relativeCreated = (created - _LOGGING_START) * 1000
        thread = threading.current_thread()
        self.thread = thread.ident
        self.threadName = thread.name
        self.processName = _process_name
        self.process = _pid
        if _TASK_NAMES:  # pragma: no cover (Python 3.12+)
            self.taskName = _task_name()
        self.faultwise_ids = current_ids()


# A record's own attributes are set first, in __init__; whatever extra= or a filter adds comes
# after them in the instance dict. So the attributes to render are the items past the first N,
# minus the few standard ones formatters add later (message, asctime).
_N_STOCK: Final = len(logging.LogRecord("probe", 20, __file__, 1, "", None, None).__dict__)
_N_OBSERVED: Final = len(ObservedLogRecord("probe", 20, __file__, 1, "", None, None).__dict__)
_CORE_KEYS: Final = frozenset(
    [
        "timestamp",
        "severity",
        "message",
        "service",
        "logger",
        "trace_id",
        "span_id",
        "request_id",
        "thread",
    ]
)
_STANDARD_KEYS: Final = frozenset(
    [
        *logging.LogRecord("probe", 20, __file__, 1, "", None, None).__dict__,
        "created_ns",
        "faultwise_ids",
        "message",
        "asctime",
        "taskName",
    ]
)

# --------------------------------------------------------------------------------- redaction


class _Redactor:
    """Decides once per key whether it looks secret; ``cache`` holds the answers (bounded)."""

    __slots__ = ("_words", "cache")

    def __init__(self, words: Iterable[str]) -> None:
        self._words = tuple(w.lower() for w in words)
        self.cache: dict[str, bool] = {}

    def learn(self, key: str) -> bool:
        lowered = key.lower()
        secret = any(w in lowered for w in self._words)
        if len(self.cache) < 4096:  # keys are code, not data; the bound is a safety net
            self.cache[key] = secret
        return secret

    def value(self, key: str, value: Any) -> Any:
        secret = self.cache.get(key)
        if secret if secret is not None else self.learn(key):
            return REDACTED
        if type(value) is dict:  # not isinstance(Mapping): an ABC check costs 3x more
            return {k: self.value(str(k), v) for k, v in value.items()}
        return value


# ------------------------------------------------------------------------------------ fields


def _exception_fields(out: dict[str, Any], exc_info: Any, text: str | None) -> None:
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not exc_info or exc_info[0] is None:
        return
    exc_type, exc, tb = exc_info
    name = exc_type.__qualname__
    module = exc_type.__module__
    out["exception.type"] = name if module in ("builtins", "__main__") else f"{module}.{name}"
    out["exception.message"] = str(exc)
    out["exception.stacktrace"] = (
        text if text else "".join(traceback.format_exception(exc_type, exc, tb)).rstrip("\n")
    )


def _default(value: Any) -> Any:
    # orjson serialises str/int/float/bool/None/dict/list/tuple/dataclass/enum/datetime/UUID
    # natively; anything else (Decimal, Path, custom objects) becomes its str().
    return str(value)


class _Fields:
    """Builds the JSON object shared by the stdlib formatter and the structlog renderer."""

    __slots__ = ("_tails", "plain", "redactor", "service", "static")

    def __init__(
        self, service: str | None, static: Mapping[str, Any] | None, secret_words: Iterable[str]
    ) -> None:
        self.service = service if service is not None else default_service()
        self.static = dict(static or {})
        self.redactor = _Redactor(secret_words)
        # (logger, thread) -> (request context, OTel ids, the fields after "message")
        self._tails: dict[tuple[str | None, str], tuple[Any, Any, dict[str, Any]]] = {}
        # attribute keys written as they are: not standard, not secret, never a core field
        self.plain: set[str] = set()

    def head(
        self, ns: int, severity: str, message: str, logger: str | None, thread: str
    ) -> dict[str, Any]:
        """The core fields (the per-line hot path)."""
        return {
            "timestamp": rfc3339_ns(ns),
            "severity": severity,
            "message": message,
            **self.tail(logger, thread),
        }

    def tail(self, logger: str | None, thread: str, ids: Ids | None = None) -> dict[str, Any]:
        """The fields after ``message``: service, logger, trace and request ids, thread, static.

        The ids are ``ids`` (captured where the record was made) or else the current ones.
        They change with the request, not the line: built once per request context, logger
        and thread, then reused (one dict lookup a line instead of a dozen stores).
        """
        if ids is None:
            ctx = _context.current_var.get()
            otel_api = _context._otel
            otel = None
            if otel_api is not None and (otel_api is _context._OTEL_UNSET or otel_api[0]()):
                otel = _context._otel_ids()  # the OTel API is installed and has a context
        else:
            ctx, otel = ids
        key = (logger, thread)
        cached = self._tails.get(key)
        if cached is not None and cached[0] is ctx and cached[1] == otel:
            return cached[2]
        tail: dict[str, Any] = {"service": self.service}
        if logger is not None:
            tail["logger"] = logger
        if otel is not None:
            tail["trace_id"], tail["span_id"] = otel[0], otel[1]
        elif ctx is not None:
            tail["trace_id"], tail["span_id"] = ctx[1], ctx[2]
        if ctx is not None:
            tail["request_id"] = ctx[0]
        tail["thread"] = thread
        tail.update(self.static)
        if len(self._tails) < 1024 or key in self._tails:  # loggers x threads: bounded anyway
            self._tails[key] = (ctx, otel, tail)
        return tail

    def attribute(self, out: dict[str, Any], key: str, value: Any) -> None:
        """Adds one attribute: redacted if its key looks secret, renamed ``attributes.<key>``
        if it would overwrite a core field. Keys that need neither are remembered in
        ``plain`` so the next line writes them with a set lookup."""
        redactor = self.redactor
        secret = redactor.cache.get(key)
        if secret is None:
            secret = redactor.learn(key)
        if secret:
            value = REDACTED
        elif type(value) is dict:  # not isinstance(Mapping): an ABC check costs 3x more
            value = redactor.value(key, value)
        elif (
            key not in _CORE_KEYS
            and key not in self.static
            and not key.startswith("attributes.")
            and len(self.plain) < 4096
        ):
            self.plain.add(key)
        out[f"attributes.{key}" if key in out else key] = value

    def attributes(self, out: dict[str, Any], items: Iterable[tuple[str, Any]]) -> None:
        plain = self.plain
        for key, value in items:
            if key in plain and type(value) is not dict:
                out[key] = value
            else:
                self.attribute(out, key, value)


class JsonFormatter(logging.Formatter):
    """A ``logging.Formatter`` that renders each record as one JSON object (no newline).

    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(JsonFormatter(service="checkout"))

    Attributes passed with ``extra=`` become fields; keys containing one of ``secret_words``
    are replaced by ``"[REDACTED]"`` (also inside nested mappings). ``static`` fields (say,
    ``{"deployment.environment": "prod"}``) are added to every line.
    """

    def __init__(
        self,
        *,
        service: str | None = None,
        static: Mapping[str, Any] | None = None,
        secret_words: Iterable[str] = DEFAULT_SECRET_WORDS,
    ) -> None:
        super().__init__()
        self._fields = _Fields(service, static, secret_words)

    def format(self, record: logging.LogRecord) -> str:
        return self.format_bytes(record).decode()

    def event_line(  # noqa: PLR0917
        self,
        ns: int,
        levelno: int,
        message: str,
        logger: str,
        thread: str,
        attributes: Mapping[str, Any],
    ) -> bytes:
        """One JSON line (newline included) for an event faultwise itself logs (access lines,
        client calls): its attribute keys are known, so they skip the record and the redaction
        of arbitrary ``extra=`` keys."""
        out = self._fields.head(
            ns, LEVEL_NAMES.get(levelno) or logging.getLevelName(levelno), message, logger, thread
        )
        out.update(attributes)
        return orjson.dumps(out, default=_default, option=orjson.OPT_APPEND_NEWLINE)

    def call_line(  # noqa: PLR0917
        self,
        ns: int,
        severity: str,
        message: str,
        logger: str,
        thread: str,
        extra: Mapping[str, object] | None,
    ) -> bytes:
        """One JSON line (newline included) for a logging call made without a record
        (:class:`ObservedLogger`): the same object :meth:`format_bytes` builds from the
        record that call would have made."""
        fields = self._fields
        out = fields.head(ns, severity, message, logger, thread)
        if extra:
            fields.attributes(out, extra.items())
        return orjson.dumps(out, default=_default, option=orjson.OPT_APPEND_NEWLINE)

    def format_bytes(self, record: logging.LogRecord, option: int = 0) -> bytes:
        """The JSON object as UTF-8 bytes (``option``: orjson options, say a newline)."""
        d = record.__dict__
        ns = d.get("created_ns")
        n = _N_OBSERVED
        if ns is None:
            ns, n = int(record.created * 1e9), _N_STOCK
        message = record.msg
        if record.args or type(message) is not str:
            message = record.getMessage()
        fields = self._fields
        out = {
            "timestamp": rfc3339_ns(ns),
            "severity": record.levelname,
            "message": message,
            **fields.tail(record.name, record.threadName or "", d.get("faultwise_ids")),
        }
        if len(d) > n:
            plain = fields.plain
            for key, value in islice(d.items(), n, None):
                if key in plain and type(value) is not dict:
                    out[key] = value
                elif key not in _STANDARD_KEYS:
                    fields.attribute(out, key, value)
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            _exception_fields(out, record.exc_info, record.exc_text)
        if record.stack_info:
            out["code.stacktrace"] = record.stack_info
        return orjson.dumps(out, default=_default, option=option)


class JsonHandler(logging.Handler):
    """Writes one JSON line per record to a binary stream (default: standard error).

    Each line is a single ``write`` of bytes, which buffered binary streams perform atomically,
    so the handler-wide lock of ``StreamHandler`` is not needed. Any formatter works; with a
    :class:`JsonFormatter` the bytes orjson produced are written as they are.
    """

    terminator = b"\n"

    def __init__(self, stream: IO[bytes] | None = None, *, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.stream: IO[bytes] = stream if stream is not None else sys.stderr.buffer

    def handle(self, record: logging.LogRecord) -> bool:
        if self.filters and not self.filter(record):
            return False
        fmt = self.formatter
        if type(fmt) is not JsonFormatter:
            self.emit(record)
            return True
        try:  # emit() inlined: one call less per line
            self.stream.write(fmt.format_bytes(record, orjson.OPT_APPEND_NEWLINE))
        except Exception:
            self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fmt = self.formatter
            if type(fmt) is JsonFormatter:  # orjson appends the newline: no copy of the line
                self.stream.write(fmt.format_bytes(record, orjson.OPT_APPEND_NEWLINE))
            else:
                self.stream.write(self.format(record).encode() + self.terminator)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()


def json_handlers(logger: logging.Logger, level: int) -> list[JsonHandler] | None:
    """The handlers a record of ``level`` would reach, if every one of them is a filter-free
    :class:`JsonHandler` with a :class:`JsonFormatter` (else None: use a real record).

    Lines for those handlers can be rendered straight from known fields, with no
    ``LogRecord``, no frame walk and no attribute scan, honouring the same levels,
    propagation and ``disabled`` flag as ``Logger.handle``.
    """
    if logger.filters or logger.disabled:
        return None
    handlers: list[JsonHandler] = []
    node: logging.Logger | None = logger
    while node is not None:
        for handler in node.handlers:
            if level >= handler.level:
                if (
                    type(handler) is not JsonHandler
                    or handler.filters
                    or type(handler.formatter) is not JsonFormatter
                ):
                    return None
                handlers.append(handler)
        node = node.parent if node.propagate else None
    return handlers or None


def _write(handler: JsonHandler, line: bytes, logger: str, level: int, message: str) -> None:
    try:
        handler.stream.write(line)
    except Exception:
        write_failed(handler, logger, level, message)


def write_failed(handler: JsonHandler, logger: str, level: int, message: str) -> None:
    handler.handleError(ObservedLogRecord(logger, level, __file__, 0, message, None, None))


def log_event(logger: logging.Logger, level: int, message: str, attributes: dict[str, Any]) -> None:
    """Log one event with attributes, as ``logger.log(level, message, extra=attributes)`` would.

    The caller has checked ``logger.isEnabledFor(level)``. JSON handlers get the line straight
    from the attributes (see :func:`json_handlers`); any other setup gets a real record.
    """
    handlers = json_handlers(logger, level)
    if handlers is None:
        record = ObservedLogRecord(logger.name, level, __file__, 0, message, None, None, "event")
        record.__dict__.update(attributes)
        logger.handle(record)
        return
    ns, thread = time.time_ns(), thread_name()
    for handler in handlers:
        fmt: JsonFormatter = handler.formatter  # type: ignore[assignment]
        line = fmt.event_line(ns, level, message, logger.name, thread, attributes)
        _write(handler, line, logger.name, level, message)


def configure_logging(
    service: str | None = None,
    *,
    level: int | str = logging.INFO,
    stream: IO[bytes] | None = None,
    static: Mapping[str, Any] | None = None,
    secret_words: Iterable[str] = DEFAULT_SECRET_WORDS,
    fast_records: bool = True,
) -> JsonHandler:
    """Send every stdlib log record, as JSON lines, to ``stream`` (default standard error).

    Replaces the root logger's handlers with one :class:`JsonHandler` and sets the root level.
    Unless ``fast_records=False``, it also installs :class:`ObservedLogRecord` as the record
    factory and :class:`ObservedLogger` as the logger class, for new loggers and for the plain
    ``logging.Logger`` objects already created (the root included). Either is installed only
    over the stock one: a factory or logger class someone else installed is kept.
    Returns the handler.

    >>> configure_logging("checkout")  # doctest: +SKIP
    """
    handler = JsonHandler(stream)
    handler.setFormatter(JsonFormatter(service=service, static=static, secret_words=secret_words))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if fast_records:
        if logging.getLogRecordFactory() is logging.LogRecord:
            logging.setLogRecordFactory(ObservedLogRecord)
        if logging.getLoggerClass() is logging.Logger:
            _install_logger_class()
    return handler


# ------------------------------------------------------------------------ record-free lines


class ObservedLogger(logging.Logger):
    """A ``logging.Logger`` that writes lines for JSON handlers without making a record.

    When every handler a call would reach is a filter-free :class:`JsonHandler` with a
    :class:`JsonFormatter` (see :func:`json_handlers`), the logger has no filters, the call
    carries no ``exc_info`` or ``stack_info`` and the record factory is the stock one or
    :class:`ObservedLogRecord`, the line is rendered straight from the call's arguments:
    the same bytes the record would have produced, without finding the caller (no field
    shows it), building a ``LogRecord`` and copying ``extra`` into it. Any other call, and any
    call whose message cannot be formatted, takes the stock path, so handlers, filters and
    logging's own error reporting see a real record. ``extra`` keys that would overwrite a
    record attribute raise ``KeyError`` either way.

    Installed by :func:`configure_logging`; ``logging.setLoggerClass(ObservedLogger)`` does it
    for loggers created afterwards.
    """

    def _log(  # noqa: PLR0917  (Logger._log's own signature)
        self,
        level: int,
        msg: object,
        args: Any,
        exc_info: Any = None,
        extra: Mapping[str, object] | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
    ) -> None:
        if not exc_info and not stack_info:
            handlers = json_handlers(self, level)
            if handlers is not None:
                factory = logging.getLogRecordFactory()
                reserved = _RESERVED.get(factory)
                if reserved is not None:
                    made = _call_lines(handlers, self.name, level, msg, args, extra, reserved)
                    if made is not None:
                        message, lines = made
                        for handler, line in zip(handlers, lines, strict=True):
                            _write(handler, line, self.name, level, message)
                        return
        super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel + 1)


class _ObservedRootLogger(ObservedLogger, logging.RootLogger):
    """The root logger, upgraded in place by :func:`configure_logging`."""


# extra= keys makeRecord refuses ("Attempt to overwrite ... in LogRecord"), per record factory
_RESERVED: Final[dict[Any, frozenset[str]]] = {
    factory: frozenset(("message", "asctime", *factory("p", 20, "", 1, "", None, None).__dict__))
    for factory in (logging.LogRecord, ObservedLogRecord)
}


def _call_lines(  # noqa: PLR0917
    handlers: list[JsonHandler],
    logger: str,
    level: int,
    msg: object,
    args: Any,
    extra: Mapping[str, object] | None,
    reserved: frozenset[str],
) -> tuple[str, list[bytes]] | None:
    """The message and each handler's line for one logging call; None: take the stock path."""
    if extra:
        for key in extra:
            if key in reserved:
                raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
    try:
        message = msg if type(msg) is str else str(msg)
        if args:
            # as in LogRecord: logger.info("%(a)s", {"a": 1}) formats with the mapping
            if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
                args = args[0]
            message %= args
        ns = time.time_ns()
        thread = threading.current_thread().name
        severity = LEVEL_NAMES.get(level) or logging.getLevelName(level)
        lines = []
        for handler in handlers:
            fmt: JsonFormatter = handler.formatter  # type: ignore[assignment]
            lines.append(fmt.call_line(ns, severity, message, logger, thread, extra))
    except Exception:  # the stock path reports it through Handler.handleError, as usual
        return None
    return message, lines


def _install_logger_class() -> None:
    """:class:`ObservedLogger` for new loggers and for existing plain ones (root included)."""
    logging.setLoggerClass(ObservedLogger)
    with logging._lock:  # type: ignore[attr-defined]  # the lock getLogger itself takes
        for existing in list(logging.Logger.manager.loggerDict.values()):
            if type(existing) is logging.Logger:
                existing.__class__ = ObservedLogger
    if type(logging.root) is logging.RootLogger:
        logging.root.__class__ = _ObservedRootLogger


# ------------------------------------------------------------------------------------ structlog

_STRUCTLOG_LEVELS: Final = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "warn": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
    "exception": "ERROR",
    "fatal": "CRITICAL",
}
_STRUCTLOG_OWN: Final = frozenset(("event", "level", "timestamp", "exc_info", "stack_info"))


class StructlogRenderer:
    """The last processor of a structlog chain: the same JSON fields as :class:`JsonFormatter`.

    >>> structlog.configure(  # doctest: +SKIP
    ...     processors=[structlog.contextvars.merge_contextvars, StructlogRenderer("checkout")],
    ...     logger_factory=structlog.BytesLoggerFactory(),
    ... )

    Returns bytes for ``BytesLogger`` (the fastest) or, with ``as_str=True``, a str for
    ``PrintLogger`` and the stdlib bridge. ``event`` becomes ``message``, the method name the
    severity, ``exc_info`` the exception fields; every other key is an attribute.
    """

    def __init__(
        self,
        service: str | None = None,
        *,
        as_str: bool = False,
        static: Mapping[str, Any] | None = None,
        secret_words: Iterable[str] = DEFAULT_SECRET_WORDS,
    ) -> None:
        self._fields = _Fields(service, static, secret_words)
        self._as_str = as_str

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> bytes | str:
        level = event_dict.get("level")
        severity = _STRUCTLOG_LEVELS.get(
            str(level).lower() if level else method_name, str(level or method_name).upper()
        )
        out = self._fields.head(
            time.time_ns(),
            severity,
            str(event_dict.get("event", "")),
            getattr(logger, "name", None),
            thread_name(),
        )
        if len(event_dict) > 1:
            self._fields.attributes(
                out, ((k, v) for k, v in event_dict.items() if k not in _STRUCTLOG_OWN)
            )
        exc_info = event_dict.get("exc_info")
        if exc_info:
            _exception_fields(out, exc_info, None)
        if event_dict.get("stack_info"):
            out["code.stacktrace"] = "".join(traceback.format_stack()).rstrip("\n")
        data = orjson.dumps(out, default=_default)
        return data.decode() if self._as_str else data

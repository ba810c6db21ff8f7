"""Request-scoped context: a request id and W3C trace context held in one contextvar.

The middleware sets a :class:`RequestContext` for each request; log formatters, client
instrumentation and user code read it with :func:`current`. The context is a contextvar, so it
follows ``await`` and ``asyncio`` tasks (tasks copy the context when created); thread pools do
not copy it, which is what :func:`wrap` and :class:`ContextThreadPoolExecutor` are for.

Trace context follows W3C Trace Context (https://www.w3.org/TR/trace-context/): version ``00``,
lowercase hex, all-zero ids and version ``ff`` rejected, only the sampled bit of the flags kept
when propagating. When the OpenTelemetry API is importable and a span is active, its ids win:
this service then joins the trace OpenTelemetry is recording.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Final, NamedTuple, ParamSpec, TypeVar

__all__ = [
    "ContextThreadPoolExecutor",
    "RequestContext",
    "current",
    "new_context",
    "outgoing_headers",
    "parse_traceparent",
    "request_context",
    "wrap",
]

P = ParamSpec("P")
R = TypeVar("R")

_HEX = "0123456789abcdef"
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# X-Request-ID values are echoed into logs and headers: accept only short, printable tokens
# so a client cannot inject newlines, quotes or megabytes into every log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


class RequestContext(NamedTuple):
    """What one request carries: ids for logs and for the calls it makes.

    A NamedTuple rather than a frozen dataclass: one is built per request on the hot path, and
    a tuple is created several times faster while staying immutable.
    """

    request_id: str
    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex: this service's span for the request
    parent_span_id: str | None  # the caller's span, from the incoming traceparent
    sampled: bool
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` header value naming this request's span as the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "faultwise_request_context", default=None
)
current_var = _current  # the variable itself, for the middleware's set/reset on the hot path


def current() -> RequestContext | None:
    """The context of the request being served in this task or thread, if any."""
    return _current.get()


def _is_hex(value: str) -> bool:
    # str.strip with a character set removes every lowercase hex digit from both ends: the
    # value is lowercase hex exactly when nothing is left (4x faster than a regex).
    return not value.strip(_HEX)


def parse_traceparent(value: str) -> tuple[str, str, bool] | None:
    """``(trace_id, parent_span_id, sampled)`` from a ``traceparent`` header, or None if invalid.

    >>> parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', True)
    """
    value = value.strip()
    # A future version may append fields after a dash; version 00 is exactly 55 characters.
    if len(value) < 55 or (len(value) > 55 and (value[:2] == "00" or value[55] != "-")):
        return None
    version, trace_id, span_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if value[2] != "-" or value[35] != "-" or value[52] != "-" or version == "ff":
        return None
    if not _is_hex(version + trace_id + span_id + flags):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


# Random ids come from os.urandom, 256 requests' worth per system call, pre-split into
# (trace id, span id) pairs and handed out with list.pop (atomic under the GIL, so threads
# never share an id). A forked child drops the parent's leftovers so two processes never
# hand out the same ids.
_ID_BATCH: Final = 256
_spare_ids: list[tuple[str, str]] = []
os.register_at_fork(after_in_child=_spare_ids.clear)


def _refill_ids() -> tuple[str, str]:
    # bytes.hex with a separator every 16 (8) bytes, then split: all in C, no per-id slicing
    traces = os.urandom(16 * _ID_BATCH).hex(" ", 16).split(" ")
    spans = os.urandom(8 * _ID_BATCH).hex(" ", 8).split(" ")
    pairs = list(zip(traces, spans, strict=True))
    if _ZERO_TRACE in traces or _ZERO_SPAN in spans:  # invalid ids: never hand one out
        pairs = [p for p in pairs if _ZERO_TRACE != p[0] and _ZERO_SPAN != p[1]]
    _spare_ids.extend(pairs)
    return _new_ids()


def _new_ids() -> tuple[str, str]:
    """A fresh (trace id, span id) pair."""
    try:
        return _spare_ids.pop()
    except IndexError:
        return _refill_ids()


def _otel_ids() -> tuple[str, str, bool] | None:
    """``(trace_id, span_id, sampled)`` of the active OpenTelemetry span, when there is one."""
    api = _otel_api()
    if api is None:
        return None
    get_current, get_current_span = api
    otel_context = get_current()
    if not otel_context:  # an empty OTel context holds no span: skip the span lookup
        return None
    ctx = get_current_span(otel_context).get_span_context()
    if not ctx.is_valid:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", bool(ctx.trace_flags & 1)


def active_otel_ids() -> tuple[str, str, bool] | None:
    """:func:`_otel_ids`, skipped at the cost of one contextvar read when OTel has no context."""
    otel = _otel
    if otel is None or (otel is not _OTEL_UNSET and not otel[0]()):
        return None
    return _otel_ids()


_OTEL_UNSET: Any = object()
_otel: Any = _OTEL_UNSET


def _otel_api() -> tuple[Callable[[], Any], Callable[[Any], Any]] | None:
    """How to read OpenTelemetry's current context and span, if the API is importable.

    The current context is read from OpenTelemetry's own contextvar when its runtime context
    is the standard contextvars one (10x cheaper than ``context.get_current()``, which checks
    for a span on every log line and request); otherwise through the public function.
    """
    global _otel  # noqa: PLW0603  (resolved once: importing on every call is slow)
    if _otel is _OTEL_UNSET:
        try:
            from opentelemetry import context as otel_context
            from opentelemetry.trace import get_current_span
        except ImportError:
            _otel = None
        else:
            runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
            var = getattr(runtime, "_current_context", None)
            get = var.get if isinstance(var, contextvars.ContextVar) else otel_context.get_current
            _otel = (get, get_current_span)
    api: tuple[Callable[[], Any], Callable[[Any], Any]] | None = _otel
    return api


def new_context(
    *,
    request_id: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
    sampled: bool = True,
) -> RequestContext:
    """A context for a new unit of work, continuing an incoming trace when there is one.

    The request id is the incoming one when it is a short printable token, else the trace id
    (so one id follows the request across services without an extra random draw). ``sampled``
    is the flag given to traces this service starts.
    """
    return make_context(request_id, traceparent, tracestate, sampled)


def make_context(
    request_id: str | None, traceparent: str | None, tracestate: str | None, sampled: bool
) -> RequestContext:
    """:func:`new_context` with positional arguments, for the per-request path."""
    otel = active_otel_ids()
    parsed = parse_traceparent(traceparent) if traceparent else None
    if otel is not None:
        trace_id, span_id, sampled = otel
        parent = parsed[1] if parsed and parsed[0] == trace_id else None
    elif parsed is not None:
        trace_id, parent, sampled = parsed
        span_id = _new_ids()[1]
    else:
        try:  # _new_ids() inlined: the common case of the per-request path
            trace_id, span_id = _spare_ids.pop()
        except IndexError:
            trace_id, span_id = _refill_ids()
        parent = None
    if parsed is None:
        tracestate = None  # W3C: tracestate is meaningless without a valid traceparent
    if request_id is None or not _REQUEST_ID.fullmatch(request_id):
        request_id = trace_id
    # tuple.__new__ skips NamedTuple's Python-level __new__: 3x cheaper, same object
    return tuple.__new__(
        RequestContext, (request_id, trace_id, span_id, parent, sampled, tracestate)
    )


@contextmanager
def request_context(
    context: RequestContext | None = None,
    *,
    request_id: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> Iterator[RequestContext]:
    """Run a block with a request context: for workers, consumers and scripts.

    >>> with request_context(request_id="job-42") as ctx:  # doctest: +SKIP
    ...     log.info("processing")          # carries request_id job-42 and fresh trace ids
    """
    if context is None:
        context = new_context(request_id=request_id, traceparent=traceparent, tracestate=tracestate)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def outgoing_headers(context: RequestContext | None = None) -> dict[str, str]:
    """Headers that carry the current request and trace onward on an outgoing call.

    Uses the active OpenTelemetry span's ids when there is one; empty outside any request.
    """
    ctx = context if context is not None else _current.get()
    if ctx is None:
        return {}
    trace_id, span_id, sampled = ctx.trace_id, ctx.span_id, ctx.sampled
    otel = active_otel_ids()
    if otel is not None:
        trace_id, span_id, sampled = otel
    headers = {
        "traceparent": f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}",
        "x-request-id": ctx.request_id,
    }
    if ctx.tracestate:
        headers["tracestate"] = ctx.tracestate
    return headers


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` bound to a copy of the caller's context, to run in another thread.

    >>> pool.submit(wrap(work), item)  # doctest: +SKIP
    """
    ctx = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in a copy of the submitter's context.

    Log lines written by the task then carry the request id and trace ids of the request that
    submitted it. Also use it for ``loop.run_in_executor``, which does not copy the context.
    """

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)  # type: ignore[arg-type]

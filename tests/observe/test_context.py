from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultwise.observe import (
    ContextThreadPoolExecutor,
    current,
    new_context,
    outgoing_headers,
    parse_traceparent,
    request_context,
    wrap,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_traceparent_parses_ids_and_sampled_flag() -> None:
    assert (TRACE, PARENT, True) == parse_traceparent(f"00-{TRACE}-{PARENT}-01")
    assert (TRACE, PARENT, False) == parse_traceparent(f"00-{TRACE}-{PARENT}-00")


def test_traceparent_keeps_only_the_sampled_bit_of_flags_03() -> None:
    assert (TRACE, PARENT, True) == parse_traceparent(f"00-{TRACE}-{PARENT}-03")
    assert (TRACE, PARENT, False) == parse_traceparent(f"00-{TRACE}-{PARENT}-02")


@pytest.mark.parametrize(
    "value",
    [
        f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE}-{PARENT}-01",  # version ff is invalid
        f"00-{TRACE.upper()}-{PARENT}-01",  # uppercase hex
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE[:-1]}-{PARENT}-01",  # short trace id
        f"00-{TRACE}_{PARENT}-01",  # wrong separator
        f"00-{TRACE[:-1]}g-{PARENT}-01",  # not hex
        "",
    ],
)
def test_invalid_traceparent_is_rejected(value: str) -> None:
    assert None is parse_traceparent(value)


def test_future_version_traceparent_with_more_fields_is_read() -> None:
    assert (TRACE, PARENT, True) == parse_traceparent(f"cc-{TRACE}-{PARENT}-01-what-comes")


@given(trace=st.integers(1, 2**128 - 1), span=st.integers(1, 2**64 - 1), sampled=st.booleans())
def test_traceparent_round_trips(trace: int, span: int, sampled: bool) -> None:
    header = f"00-{trace:032x}-{span:016x}-{'01' if sampled else '00'}"
    assert (f"{trace:032x}", f"{span:016x}", sampled) == parse_traceparent(header)


@given(st.text(max_size=80))
def test_traceparent_parser_never_raises(value: str) -> None:
    parsed = parse_traceparent(value)
    assert parsed is None or len(parsed[0]) == 32


def test_new_context_continues_the_incoming_trace_with_a_new_span() -> None:
    ctx = new_context(traceparent=f"00-{TRACE}-{PARENT}-01", tracestate="vendor=1")
    assert (TRACE, PARENT, True, "vendor=1") == (
        ctx.trace_id,
        ctx.parent_span_id,
        ctx.sampled,
        ctx.tracestate,
    )
    assert PARENT != ctx.span_id
    assert f"00-{TRACE}-{ctx.span_id}-01" == ctx.traceparent


def test_new_context_starts_a_trace_and_uses_its_id_as_request_id() -> None:
    ctx = new_context()
    assert (32, 16, None, ctx.trace_id) == (
        len(ctx.trace_id),
        len(ctx.span_id),
        ctx.parent_span_id,
        ctx.request_id,
    )
    assert ctx.trace_id != new_context().trace_id


def test_new_context_honours_a_clean_incoming_request_id() -> None:
    assert "req-7f3a_b.c:1" == new_context(request_id="req-7f3a_b.c:1").request_id


@pytest.mark.parametrize("bad", ["a\nb", 'x"y', "x" * 129, "", "é"])
def test_new_context_replaces_an_unsafe_request_id(bad: str) -> None:
    ctx = new_context(request_id=bad)
    assert ctx.trace_id == ctx.request_id


def test_tracestate_without_a_valid_traceparent_is_dropped() -> None:
    assert None is new_context(traceparent="garbage", tracestate="vendor=1").tracestate


def test_request_context_sets_and_restores_current() -> None:
    assert None is current()
    with request_context(request_id="job-1") as ctx:
        assert ctx == current()
        assert "job-1" == ctx.request_id
    assert None is current()


async def test_context_survives_awaits_and_is_copied_into_tasks() -> None:
    async def inner() -> str | None:
        await asyncio.sleep(0)
        ctx = current()
        return ctx.request_id if ctx else None

    with request_context(request_id="outer"):
        task = asyncio.create_task(inner())
        assert "outer" == await inner()
    assert "outer" == await task


def test_wrap_carries_the_context_into_a_plain_thread_pool() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def read() -> str | None:
        ctx = current()
        return ctx.request_id if ctx else None

    with ThreadPoolExecutor(2) as pool, request_context(request_id="r-1"):
        assert (None, "r-1") == (pool.submit(read).result(), pool.submit(wrap(read)).result())


def test_context_thread_pool_executor_copies_the_submitters_context() -> None:
    def read(suffix: str) -> str:
        ctx = current()
        return (ctx.request_id if ctx else "none") + suffix

    with ContextThreadPoolExecutor(4) as pool:
        with request_context(request_id="a"):
            fa = [pool.submit(read, "!") for _ in range(20)]
        with request_context(request_id="b"):
            fb = [pool.submit(read, "?") for _ in range(20)]
        assert ["a!"] * 20 + ["b?"] * 20 == [f.result() for f in fa + fb]


def test_outgoing_headers_carry_trace_and_request_id() -> None:
    with request_context(traceparent=f"00-{TRACE}-{PARENT}-00", tracestate="v=1") as ctx:
        assert {
            "traceparent": f"00-{TRACE}-{ctx.span_id}-00",
            "x-request-id": TRACE,
            "tracestate": "v=1",
        } == outgoing_headers()
    assert {} == outgoing_headers()


def test_an_active_opentelemetry_span_supplies_the_ids() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        sc = span.get_span_context()
        ctx = new_context(request_id="r")
        headers = outgoing_headers(ctx)
    assert (f"{sc.trace_id:032x}", f"{sc.span_id:016x}") == (ctx.trace_id, ctx.span_id)
    assert f"00-{sc.trace_id:032x}-{sc.span_id:016x}-01" == headers["traceparent"]


def test_works_when_opentelemetry_is_not_installed() -> None:
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ImportError("hidden: " + name)
        sys.meta_path.insert(0, Block())
        import io, logging
        from faultwise.observe import JsonFormatter, JsonHandler, request_context
        stream = io.BytesIO()
        handler = JsonHandler(stream)
        handler.setFormatter(JsonFormatter(service="s"))
        log = logging.getLogger("t")
        log.addHandler(handler)
        with request_context(request_id="r1") as ctx:
            log.warning("hello")
        assert "opentelemetry" not in sys.modules
        print(ctx.trace_id in stream.getvalue().decode(), ctx.request_id)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert ("True r1\n", "") == (proc.stdout, proc.stderr)

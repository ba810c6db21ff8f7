"""Work lost without an error: updates overwritten by a concurrent writer (race_condition)
and messages acknowledged and never finished (silent_failure)."""

from __future__ import annotations

from faultwise.diagnose import Pattern
from faultwise.telemetry import Change, ChangeKind, LogRecord, Severity, Table

from .test_detectors import T0, S, _insert, _run, _steady, _store

MS = 1_000_000


def _stock_write(t: int, pod: str, qty: int, sku: str = "sku-7") -> LogRecord:
    return LogRecord(t, f"updated stock sku={sku} qty={qty}", "inventory", pod, Severity.INFO)


def test_two_instances_writing_the_same_stock_value_at_once_are_lost_updates() -> None:
    logs = _steady("inventory", 300)
    qty = 1000
    for k in range(60):  # from 09:04: both replicas read qty, then each writes qty - 1
        t = T0 + (240 + k) * S
        logs += [
            _stock_write(t + 10 * MS, "inventory-1", qty - 1),
            _stock_write(t + 12 * MS, "inventory-2", qty - 1),
        ]
        qty -= 1
    found = _run(_store(logs), Pattern.RACE_CONDITION)
    assert ["inventory"] == [f.component for f in found]
    assert (
        "60 lost updates on 1 keys from 09:04:00.010: up to 2 writers wrote the same value "
        "of one key (sku=sku-7 to 999 first)"
    ) == found[0].evidence[0].text
    assert [
        "09:04:00.010 inventory: updated stock sku=sku-7 qty=999",
        "09:04:00.012 inventory: updated stock sku=sku-7 qty=999",
    ] == [e.text for e in found[0].evidence[1:]]


def test_sequential_updates_and_restocks_from_two_instances_are_not_lost_updates() -> None:
    logs = _steady("inventory", 300)
    qty = 100
    for k in range(250):  # the replicas take turns; every 25 s the stock is refilled
        t = T0 + (10 + k) * S
        qty = 100 if k % 25 == 0 else qty - 1
        logs.append(_stock_write(t, f"inventory-{k % 2 + 1}", qty))
    assert [] == _run(_store(logs), Pattern.RACE_CONDITION)


def test_one_writer_writing_a_value_twice_is_not_a_lost_update() -> None:
    logs = _steady("inventory", 300)
    for k in range(60):  # a single writer that sets, not decrements, a value
        t = T0 + (200 + k) * S
        logs += [_stock_write(t, "inventory-1", 5, f"sku-{k}")] * 2
    assert [] == _run(_store(logs), Pattern.RACE_CONDITION)


def _request_write(
    t: int, request: str, qty: int, *, thread: str | None = "MainThread", trace: bool = False
) -> LogRecord:
    """A write line of one asyncio request on inventory-1 (by its request id, or its trace
    id only)."""
    return LogRecord(
        t,
        f"updated stock sku=sku-7 qty={qty}",
        "inventory",
        "inventory-1",
        Severity.INFO,
        trace_id=request if trace else None,
        request_id=None if trace else request,
        thread=thread,
    )


def _concurrent_requests(*, thread: str | None, trace: bool = False) -> list[LogRecord]:
    """From 09:04, two requests at a time read the stock on one event loop, then each
    writes qty - 1: one decrement in each pair is lost."""
    logs = _steady("inventory", 300)
    qty = 1000
    for k in range(60):
        t = T0 + (240 + k) * S
        logs += [
            _request_write(t + 10 * MS, f"req-{2 * k}", qty - 1, thread=thread, trace=trace),
            _request_write(t + 12 * MS, f"req-{2 * k + 1}", qty - 1, thread=thread, trace=trace),
        ]
        qty -= 1
    return logs


def test_two_asyncio_requests_on_one_thread_writing_the_same_value_are_lost_updates() -> None:
    found = _run(_store(_concurrent_requests(thread="MainThread")), Pattern.RACE_CONDITION)
    assert ["inventory"] == [f.component for f in found]
    assert (
        "60 lost updates on 1 keys from 09:04:00.010: up to 2 writers wrote the same value "
        "of one key (sku=sku-7 to 999 first, by request req-0 and request req-1)"
    ) == found[0].evidence[0].text


def test_two_requests_in_logs_without_a_thread_writing_the_same_value_are_lost_updates() -> None:
    found = _run(_store(_concurrent_requests(thread=None)), Pattern.RACE_CONDITION)
    assert ["inventory"] == [f.component for f in found]
    assert found[0].evidence[0].text.startswith("60 lost updates on 1 keys from 09:04:00.010")


def test_two_traces_without_request_ids_writing_the_same_value_are_lost_updates() -> None:
    found = _run(_store(_concurrent_requests(thread=None, trace=True)), Pattern.RACE_CONDITION)
    assert ["inventory"] == [f.component for f in found]
    assert (
        found[0]
        .evidence[0]
        .text.endswith("(sku=sku-7 to 999 first, by trace req-0 and trace req-1)")
    )


def test_one_request_logging_the_same_value_twice_is_not_a_lost_update() -> None:
    logs = _steady("inventory", 300)
    qty = 1000
    for k in range(60):  # each request logs its write twice, from two threads
        t = T0 + (240 + k) * S
        qty -= 1
        logs += [
            _request_write(t + 10 * MS, f"req-{k}", qty, thread="MainThread"),
            _request_write(t + 11 * MS, f"req-{k}", qty, thread="asyncio_0"),
        ]
    assert [] == _run(_store(logs), Pattern.RACE_CONDITION)


def test_one_request_logging_the_same_version_twice_is_not_a_lost_update() -> None:
    logs = _steady("inventory", 300)
    for k in range(60):
        t = T0 + (240 + k) * S
        line = f"updated stock sku=sku-7 qty={1000 - k} version={k + 1}"
        logs += [
            LogRecord(t + dt * MS, line, "inventory", "inventory-1", request_id=f"req-{k}")
            for dt in (10, 11)
        ]
    assert [] == _run(_store(logs), Pattern.RACE_CONDITION)


def test_two_threads_of_one_instance_without_request_ids_are_still_two_writers() -> None:
    logs = _steady("inventory", 300)
    qty = 1000
    for k in range(60):
        t = T0 + (240 + k) * S
        logs += [
            LogRecord(
                t + dt * MS, f"updated stock sku=sku-7 qty={qty - 1}", "inventory",
                "inventory-1", Severity.INFO, thread=f"exec-{dt}",
            )
            for dt in (10, 12)
        ]  # fmt: skip
        qty -= 1
    found = _run(_store(logs), Pattern.RACE_CONDITION)
    assert ["inventory"] == [f.component for f in found]
    assert (
        "60 lost updates on 1 keys from 09:04:00.010: up to 2 writers wrote the same value "
        "of one key (sku=sku-7 to 999 first)"
    ) == found[0].evidence[0].text


def test_sequential_requests_on_one_thread_are_not_lost_updates() -> None:
    logs = _steady("inventory", 300)
    for k in range(250):  # one request a second, each writing the next value
        logs.append(_request_write(T0 + (10 + k) * S, f"req-{k}", 1000 - k))
    assert [] == _run(_store(logs), Pattern.RACE_CONDITION)


def _consume(n: int, t: int, *, finished: bool, ack_first: bool = True) -> list[LogRecord]:
    """One message's lines: received, acked, processed (or nothing after the ack)."""

    def line(dt_ms: int, text: str) -> LogRecord:
        return LogRecord(t + dt_ms * MS, text, "consumer", "consumer-0", Severity.INFO)

    received = line(0, f"received order.created message_id={n}")
    acked = line(1 if ack_first else 60, f"acked order.created message_id={n}")
    done = line(50, f"processed order.created message_id={n}")
    if not finished:
        return [received, acked]
    return [received, acked, done] if ack_first else [received, done, acked]


def test_messages_acked_and_never_finished_before_a_restart_are_a_silent_failure() -> None:
    logs: list[LogRecord] = []
    restarts = []
    for n in range(300):
        t = T0 + n * S
        lost = n % 30 == 7
        logs += _consume(n, t, finished=not lost)
        if lost:
            restarts.append(
                Change(t + 900 * MS, ChangeKind.RESTART, "Back-off restarting", "consumer")
            )
    store = _store(logs)
    _insert(store, Table.CHANGES, restarts)
    found = _run(store, Pattern.SILENT_FAILURE)
    assert ["consumer"] == [f.component for f in found]
    assert [
        "10 of 300 messages acknowledged from 09:00:07.001 never logged a completion or an "
        "error (290 did): acknowledged, then lost",
        "a restart of consumer followed 10 of them within 60 s: the process died mid-job",
        "09:00:07.001 consumer: acked order.created message_id=7",
        "09:00:08.000 consumer: received order.created message_id=8",
        "09:00:08.001 consumer: acked order.created message_id=8",
    ] == [e.text for e in found[0].evidence]
    assert 0.85 == found[0].score


def test_a_consumer_that_finishes_every_job_is_not_a_silent_failure() -> None:
    logs: list[LogRecord] = []
    for n in range(300):
        logs += _consume(n, T0 + n * S, finished=True)
    for n in range(300, 305):  # still in flight when the logs end
        logs += _consume(n, T0 + 300 * S + n * MS, finished=False)
    assert [] == _run(_store(logs), Pattern.SILENT_FAILURE)


def test_failures_logged_as_errors_after_an_ack_are_not_silent() -> None:
    logs: list[LogRecord] = []
    for n in range(300):
        t = T0 + n * S
        logs += _consume(n, t, finished=n % 30 != 7)
        if n % 30 == 7:
            logs.append(
                LogRecord(
                    t + 40 * MS,
                    f"failed to process message_id={n}: KeyError('sku')",
                    "consumer",
                    "consumer-0",
                    Severity.ERROR,
                )
            )
    assert [] == _run(_store(logs), Pattern.SILENT_FAILURE)


def test_a_consumer_that_acks_after_processing_is_not_a_silent_failure() -> None:
    logs: list[LogRecord] = []
    for n in range(300):
        logs += _consume(n, T0 + n * S, finished=True, ack_first=False)
    assert [] == _run(_store(logs), Pattern.SILENT_FAILURE)


def test_restarts_alone_are_not_a_memory_leak() -> None:
    store = _store(_steady("consumer", 300))
    restarts = [
        Change(T0 + (200 + 10 * k) * S, ChangeKind.RESTART, "Back-off restarting", "consumer")
        for k in range(5)
    ]
    _insert(store, Table.CHANGES, restarts)
    assert [] == _run(store, Pattern.MEMORY_LEAK)

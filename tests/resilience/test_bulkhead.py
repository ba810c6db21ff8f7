from __future__ import annotations

import asyncio
import threading
import time

import pytest

from faultwise.resilience import (
    Bulkhead,
    BulkheadFullError,
    BulkheadRejected,
    Event,
    Policy,
    RejectedError,
    deadline,
)


async def queued(bulkhead: Bulkhead, n: int = 1) -> None:
    """Let the event loop run until ``n`` callers wait in the bulkhead's queue."""
    while bulkhead.queued < n:  # noqa: ASYNC110 (the queue has no event to await)
        await asyncio.sleep(0)


def test_try_acquire_takes_free_slots_only() -> None:
    bulkhead = Bulkhead(2)
    assert [True, True, False] == [bulkhead.try_acquire() for _ in range(3)]
    bulkhead.release()
    assert (True, 2) == (bulkhead.try_acquire(), bulkhead.in_use)


def test_a_full_bulkhead_without_a_queue_rejects_at_once_with_an_event() -> None:
    bulkhead = Bulkhead(1, name="db")
    events: list[Event] = []
    bulkhead.on_event(events.append)
    bulkhead.acquire()
    with pytest.raises(BulkheadFullError) as info:
        Policy(bulkhead).run(lambda: None)
    assert isinstance(info.value, RejectedError)
    assert [BulkheadRejected("db", 1, 0)] == events


def test_a_waiter_gets_the_slot_released_by_another_thread() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=5.0)
    bulkhead.acquire()
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(Policy(bulkhead).run(lambda: "ran")))
    waiter.start()
    while bulkhead.queued == 0:
        time.sleep(0.001)
    bulkhead.release()
    waiter.join()
    assert (["ran"], 0) == (got, bulkhead.in_use)


def test_a_waiter_gives_up_after_max_wait() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=0.02)
    bulkhead.acquire()
    with pytest.raises(BulkheadFullError):
        bulkhead.acquire()
    assert (1, 0) == (bulkhead.in_use, bulkhead.queued)


def test_the_queue_is_bounded() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=5.0)
    bulkhead.acquire()
    waiter = threading.Thread(target=lambda: Policy(bulkhead).run(lambda: None))
    waiter.start()
    while bulkhead.queued == 0:
        time.sleep(0.001)
    with pytest.raises(BulkheadFullError):
        bulkhead.acquire()
    bulkhead.release()
    waiter.join()


def test_no_waiting_once_the_deadline_has_passed() -> None:
    bulkhead = Bulkhead(1, max_queue=5, max_wait=5.0)
    bulkhead.acquire()
    started = time.monotonic()
    with deadline(0.0), pytest.raises(BulkheadFullError):
        bulkhead.acquire()
    assert time.monotonic() - started < 1.0


def test_a_failing_call_gives_its_slot_back() -> None:
    bulkhead = Bulkhead(1)
    with pytest.raises(ZeroDivisionError):
        Policy(bulkhead).run(lambda: 1 / 0)
    assert 0 == bulkhead.in_use


@pytest.mark.parametrize("options", [{"max_concurrent": 0}, {"max_queue": -1}, {"max_wait": -1.0}])
def test_invalid_bulkheads_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Bulkhead(**options)  # type: ignore[arg-type]


@pytest.mark.slow
def test_32_threads_by_10000_calls_never_exceed_the_limit_and_all_run() -> None:
    bulkhead = Bulkhead(4, max_queue=32, max_wait=30.0)
    policy = Policy(bulkhead)
    lock = threading.Lock()
    state = {"now": 0, "peak": 0, "calls": 0}

    def work() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            state["calls"] += 1
        with lock:
            state["now"] -= 1

    def thread() -> None:
        for _ in range(10_000):
            policy.run(work)

    threads = [threading.Thread(target=thread) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (320_000, 0, 0) == (state["calls"], bulkhead.in_use, bulkhead.queued)
    assert state["peak"] <= 4


async def test_1000_tasks_share_4_slots() -> None:
    bulkhead = Bulkhead(4, max_queue=1000, max_wait=30.0)
    running = peak = 0

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return i

    results = await asyncio.gather(*(Policy(bulkhead).run_async(work, i) for i in range(1000)))
    assert (list(range(1000)), 4, 0) == (results, peak, bulkhead.in_use)


async def test_a_cancelled_call_and_a_cancelled_waiter_release_everything() -> None:
    bulkhead = Bulkhead(1, max_queue=2, max_wait=30.0)
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.sleep(60)

    holder = asyncio.create_task(Policy(bulkhead).run_async(hang))
    await started.wait()
    waiter = asyncio.create_task(Policy(bulkhead).run_async(hang))
    await queued(bulkhead)
    waiter.cancel()
    holder.cancel()
    await asyncio.gather(holder, waiter, return_exceptions=True)
    assert (0, 0) == (bulkhead.in_use, bulkhead.queued)


async def test_a_waiter_cancelled_after_being_granted_passes_the_slot_on() -> None:
    bulkhead = Bulkhead(1, max_queue=2, max_wait=30.0)
    await bulkhead.acquire_async()
    first = asyncio.create_task(bulkhead.acquire_async())
    second = asyncio.create_task(bulkhead.acquire_async())
    await queued(bulkhead, 2)
    bulkhead.release()  # grants the slot to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(first, return_exceptions=True)
    await second
    assert (1, 0) == (bulkhead.in_use, bulkhead.queued)


async def test_an_async_waiter_times_out_with_a_rejection() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=0.01)
    await bulkhead.acquire_async()
    with pytest.raises(BulkheadFullError):
        await bulkhead.acquire_async()
    assert (1, 0) == (bulkhead.in_use, bulkhead.queued)


async def test_an_async_waiter_granted_as_its_time_runs_out_keeps_the_slot() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=0.05)
    await bulkhead.acquire_async()
    waiter = asyncio.create_task(bulkhead.acquire_async())
    await queued(bulkhead)
    time.sleep(0.06)  # noqa: ASYNC251 (block the loop past the wait, then grant at once)
    bulkhead.release()
    await waiter
    assert (1, 0) == (bulkhead.in_use, bulkhead.queued)


async def test_threads_and_tasks_share_one_bulkhead() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=5.0)
    bulkhead.acquire()
    task = asyncio.create_task(Policy(bulkhead).run_async(asyncio.sleep, 0, "task"))
    await queued(bulkhead)
    await asyncio.to_thread(bulkhead.release)
    assert ("task", 0) == (await task, bulkhead.in_use)


async def test_a_release_skips_a_waiter_whose_task_was_just_cancelled() -> None:
    bulkhead = Bulkhead(1, max_queue=1, max_wait=30.0)
    await bulkhead.acquire_async()
    waiter = asyncio.create_task(bulkhead.acquire_async())
    await queued(bulkhead)
    waiter.cancel()  # its future is cancelled now; the task has not run its cleanup yet
    bulkhead.release()
    await asyncio.gather(waiter, return_exceptions=True)
    assert (0, 0) == (bulkhead.in_use, bulkhead.queued)

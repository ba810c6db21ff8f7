"""The seed example: ``count += 1`` on a module global from 8 threads, and three fixed twins."""

from __future__ import annotations

import queue
import threading

count = 0
THREADS = 8


def _run(target: object, n: int) -> int:
    global count  # noqa: PLW0603
    count = 0
    threads = [threading.Thread(target=target, args=(n,)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count


def _add(n: int) -> None:
    global count  # noqa: PLW0603
    for _ in range(n):
        count += 1


def racy(n: int = 200) -> int:
    """Unsynchronised: a lost update when two threads interleave, reported even when not."""
    return _run(_add, n)


_lock = threading.Lock()


def _add_locked(n: int) -> None:
    global count  # noqa: PLW0603
    for _ in range(n):
        with _lock:
            count += 1


def with_lock(n: int = 200) -> int:
    return _run(_add_locked, n)


def with_queue(n: int = 200) -> int:
    """Workers hand increments to one owner thread through a queue; only the owner writes."""
    global count  # noqa: PLW0603
    count = 0
    work: queue.Queue[int | None] = queue.Queue()

    def owner() -> None:
        global count  # noqa: PLW0603
        while (item := work.get()) is not None:
            count += item

    def producer(k: int) -> None:
        for _ in range(k):
            work.put(1)

    keeper = threading.Thread(target=owner)
    keeper.start()
    producers = [threading.Thread(target=producer, args=(n,)) for _ in range(THREADS)]
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    work.put(None)
    keeper.join()
    return count


def per_thread(n: int = 200) -> int:
    """Each thread counts in its own state; the totals are added after join."""
    totals = [0] * THREADS
    local = threading.local()

    def add(i: int) -> None:
        local.count = 0
        for _ in range(n):
            local.count += 1
        totals[i] = local.count

    threads = [threading.Thread(target=add, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(totals)

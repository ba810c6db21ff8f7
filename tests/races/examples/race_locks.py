"""An ABBA lock-order inversion that does not deadlock in this run, and the fixed twin."""

from __future__ import annotations

import threading

a = threading.Lock()
b = threading.Lock()


def _a_then_b() -> None:
    with a, b:
        pass


def _b_then_a() -> None:
    with b, a:
        pass


def run(fixed: bool = False) -> None:
    """Run the two orders one after the other: no deadlock, but one is possible."""
    for target in (_a_then_b, _a_then_b if fixed else _b_then_a):
        t = threading.Thread(target=target)
        t.start()
        t.join()


def deadlock(timeout: float) -> list[bool]:
    """Really deadlock for ``timeout`` seconds (each thread gives up after it)."""
    ready = threading.Barrier(2)
    got: list[bool] = []

    def one(first: threading.Lock, second: threading.Lock) -> None:
        with first:
            ready.wait()
            ok = second.acquire(timeout=timeout)
            got.append(ok)
            if ok:
                second.release()

    threads = [
        threading.Thread(target=one, args=(a, b), name="holds-a"),
        threading.Thread(target=one, args=(b, a), name="holds-b"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got

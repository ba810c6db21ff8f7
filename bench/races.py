"""Slowdown of test bodies under the race detector, side by side with the uninstrumented run.

Each workload is a module written to a temporary directory and imported twice: once plainly
and once under ``RaceDetector`` (rewritten at import, HB mode). The same function runs in
both; the table shows the median wall time of each and the ratio, then the peak memory that
one more run of each allocates (tracemalloc; not timed).

    python bench/races.py            # full sizes, prints a table
    python bench/races.py --quick    # small sizes, for development
    python bench/races.py --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from faultwise.races import RaceDetector, RacesConfig

WORKLOADS = textwrap.dedent(
    '''
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor


    class Book:
        """An order book: attributes, dict items and arithmetic, as in ordinary code."""

        def __init__(self):
            self.bids = {}
            self.asks = {}
            self.trades = 0
            self.volume = 0

        def add(self, side, price, qty):
            book = self.bids if side else self.asks
            book[price] = book.get(price, 0) + qty
            other = self.asks if side else self.bids
            if price in other:
                traded = min(other[price], qty)
                other[price] -= traded
                self.trades += 1
                self.volume += traded


    def simulate(n, seed=7):
        book = Book()
        x = seed
        for _ in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            book.add(x & 1, 100 + (x >> 3) % 50, 1 + (x >> 9) % 10)
        return book.trades, book.volume


    def numeric(n):
        """Locals only: loops, arithmetic and calls (what many CPU-bound tests are)."""
        total = 0
        for i in range(n):
            total += (i * i) % 7
        return total


    def cpu_single(n):
        return simulate(n), numeric(n)


    def cpu_single_beside_a_thread(n):
        """The same test while another thread is alive: every access is recorded."""
        stop = threading.Event()
        idle = threading.Thread(target=stop.wait)
        idle.start()
        try:
            return cpu_single(n)
        finally:
            stop.set()
            idle.join()


    def cpu_threads(n, threads=4):
        results = []
        lock = threading.Lock()

        def work(seed):
            r = simulate(n // threads, seed)
            with lock:
                results.append(r)

        ts = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return len(results)


    class Gate:
        """A waiter, as in a bulkhead: no weak reference, a lock granted by another thread."""

        __slots__ = ("granted", "wake")

        def __init__(self):
            self.granted = False
            self.wake = threading.Lock()
            self.wake.acquire()


    def handoff(n, threads=8, slots=2):
        """Calls through 2 slots; a waiter's gate is released by the thread giving one back."""
        lock = threading.Lock()
        waiting = []
        state = {"free": slots, "done": 0}

        def take():
            with lock:
                if state["free"]:
                    state["free"] -= 1
                    return
                gate = Gate()
                waiting.append(gate)
            gate.wake.acquire()  # held for good once granted

        def give():
            with lock:
                if waiting:
                    gate = waiting.pop(0)
                    gate.granted = True
                    gate.wake.release()
                else:
                    state["free"] += 1

        def work():
            for _ in range(n // threads):
                take()
                try:
                    with lock:
                        state["done"] += 1
                finally:
                    give()

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return state["done"]


    def io_threads(n, threads=8):
        stats = {"calls": 0, "bytes": 0}
        lock = threading.Lock()

        def call(i):
            time.sleep(0.002)  # a request to a slow dependency
            with lock:
                stats["calls"] += 1
                stats["bytes"] += i % 100
            return i

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(call, range(n)))
        return stats["calls"]
    '''
)


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak memory allocated while ``fn`` runs, in MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for development")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    scale = 1 if args.quick else 5
    repeat = 3 if args.quick else 5
    cases = [
        ("CPU-bound, 1 thread", "cpu_single", 20_000 * scale),
        ("CPU-bound, 1 thread + idle thread", "cpu_single_beside_a_thread", 20_000 * scale),
        ("CPU-bound, 4 threads", "cpu_threads", 20_000 * scale),
        ("lock hand-off, 8 threads", "handoff", 4_000 * scale),
        ("I/O-bound, 8 threads", "io_threads", 80 * scale),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench_plain.py").write_text(WORKLOADS)
        (root / "bench_traced.py").write_text(WORKLOADS)
        plain = load(root / "bench_plain.py", "bench_plain")
        sys.path.insert(0, tmp)
        config = RacesConfig(roots=(tmp,), hang_timeout=0)
        for label, name, n in cases:
            base = median_time(lambda name=name, n=n: getattr(plain, name)(n), repeat)
            base_mb = peak_mb(lambda name=name, n=n: getattr(plain, name)(n))
            with RaceDetector(config) as detector:
                fn = getattr(importlib.import_module("bench_traced"), name)
                under = median_time(lambda fn=fn, n=n: fn(n), repeat)
                detector.reset()  # as between tests: the memory run starts with no history
                under_mb = peak_mb(lambda fn=fn, n=n: fn(n))
            findings = len(detector.report().findings)
            rows.append(
                {
                    "workload": label,
                    "size": n,
                    "plain_s": round(base, 4),
                    "races_s": round(under, 4),
                    "slowdown": round(under / base, 2),
                    "plain_mb": round(base_mb, 1),
                    "races_mb": round(under_mb, 1),
                    "findings": findings,
                }
            )
    print(
        f"{'workload':<34}{'size':>8}{'plain s':>10}{'--races s':>11}{'slowdown':>10}"
        f"{'plain MB':>10}{'--races MB':>12}"
    )
    for r in rows:
        print(
            f"{r['workload']:<34}{r['size']:>8}{r['plain_s']:>10.4f}{r['races_s']:>11.4f}"
            f"{r['slowdown']:>9.2f}x{r['plain_mb']:>10.1f}{r['races_mb']:>12.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "quick": args.quick}, indent=2))


if __name__ == "__main__":
    main()

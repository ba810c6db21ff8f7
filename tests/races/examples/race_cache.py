"""Check-then-act: a module-level cache filled from a thread pool, and its fixed twin."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

cache: dict[int, int] = {}
computed: list[int] = []


def _compute(key: int) -> int:
    computed.append(key)
    return key * key


def lookup(key: int) -> int:
    if key not in cache:  # another thread may be between this check and the store
        cache[key] = _compute(key)
    return cache[key]


_lock = threading.Lock()


def lookup_locked(key: int) -> int:
    with _lock:
        if key not in cache:
            cache[key] = _compute(key)
        return cache[key]


def fill(fn_name: str = "lookup", keys: int = 4, repeat: int = 25) -> list[int]:
    cache.clear()
    computed.clear()
    fn = lookup if fn_name == "lookup" else lookup_locked
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(fn, [k for _ in range(repeat) for k in range(keys)]))

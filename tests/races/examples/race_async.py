"""An asyncio read-modify-write across an await, and two fixed twins."""

from __future__ import annotations

import asyncio


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = asyncio.Lock()

    async def incr(self) -> None:
        current = self.value
        await asyncio.sleep(0)  # another task runs here and writes self.value
        self.value = current + 1

    async def incr_locked(self) -> None:
        async with self.lock:
            current = self.value
            await asyncio.sleep(0)
            self.value = current + 1

    async def incr_atomic(self) -> None:
        await asyncio.sleep(0)
        self.value += 1  # no await between the read and the write


async def run(method: str = "incr", tasks: int = 10) -> int:
    counter = Counter()
    await asyncio.gather(*(getattr(counter, method)() for _ in range(tasks)))
    return counter.value

"""A lost update on an object attribute, and the fixed twin."""

from __future__ import annotations

import threading


class Account:
    def __init__(self) -> None:
        self.balance = 0
        self._lock = threading.Lock()

    def deposit(self, amount: int) -> None:
        self.balance += amount

    def deposit_locked(self, amount: int) -> None:
        with self._lock:
            self.balance += amount


def run(locked: bool = False, threads: int = 4, n: int = 100) -> int:
    account = Account()
    deposit = account.deposit_locked if locked else account.deposit

    def work() -> None:
        for _ in range(n):
            deposit(1)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return account.balance

"""Checked by mypy in test_policy.py: decorated functions keep their exact types.

Lines marked with ``# E:`` must be reported as errors; nothing else may be.
"""

from __future__ import annotations

from typing import assert_type

from faultwise.resilience import CircuitBreaker, Policy, Retry

policy = Policy(Retry(), CircuitBreaker())


@policy
def add(a: int, b: int = 2, *, scale: int = 1) -> int:
    return (a + b) * scale


@policy
async def fetch(url: str) -> bytes:
    return url.encode()


async def use() -> None:
    assert_type(add(1), int)
    assert_type(await fetch("x"), bytes)
    assert_type(policy.run(add, 1, scale=3), int)
    assert_type(await policy.run_async(fetch, "x"), bytes)
    add("1")  # E: wrong argument type
    add(1, scale="2")  # E: wrong keyword type
    policy.run(add, 1, 2, 3)  # E: too many arguments
    await policy.run_async(fetch, 1)  # E: wrong argument type

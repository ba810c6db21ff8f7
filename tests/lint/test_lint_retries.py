"""FW11x: retry loops without backoff, jitter or cap, and retry libraries set to forever."""

from __future__ import annotations

import ast

import pytest
from rule_cases import rule_tests

from faultwise.lint._retries import Delay, classify_delay

FLAGGED = [
    pytest.param(
        """
        def fetch():
            while True:
                try:
                    return call()
                except ConnectionError:
                    log.warning("retrying")
        """,
        [("FW110", 3), ("FW113", 3)],
        id="hot-loop-forever",
    ),
    pytest.param(
        """
        def fetch():
            for _ in range(5):
                try:
                    return call()
                except Exception:
                    continue
        """,
        [("FW110", 3)],
        id="capped-but-immediate",
    ),
    pytest.param(
        """
        import time
        def fetch():
            for attempt in range(5):
                try:
                    result = call()
                    break
                except TimeoutError:
                    time.sleep(2)
        """,
        [("FW111", 9)],
        id="constant-sleep",
    ),
    pytest.param(
        """
        import time
        RETRY_DELAY = 1.5
        def fetch():
            delay = 0.5
            while True:
                try:
                    return call()
                except OSError:
                    time.sleep(delay)
        """,
        [("FW111", 10), ("FW113", 6)],
        id="constant-through-a-name-and-no-cap",
    ),
    pytest.param(
        """
        import asyncio
        async def fetch():
            for attempt in range(6):
                try:
                    return await call()
                except ConnectionError:
                    await asyncio.sleep(0.1 * 2 ** attempt)
        """,
        [("FW112", 8)],
        id="exponential-without-jitter",
    ),
    pytest.param(
        """
        import time
        def fetch():
            delay = 0.1
            attempts = 0
            while attempts < 5:
                try:
                    return call()
                except ConnectionError:
                    attempts += 1
                    time.sleep(delay)
                    delay = min(delay * 2, 10)
        """,
        [("FW112", 11)],
        id="doubling-variable-without-jitter",
    ),
    pytest.param(
        """
        from tenacity import retry, wait_exponential
        import tenacity
        @retry
        def a(): ...
        @retry(wait=wait_exponential(multiplier=1))
        def b(): ...
        r = tenacity.Retrying(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential())
        """,
        [("FW114", 4), ("FW114", 6), ("FW115", 6), ("FW115", 8)],
        id="tenacity",
    ),
    pytest.param(
        """
        import backoff
        @backoff.on_exception(backoff.expo, ConnectionError, jitter=None)
        def a(): ...
        """,
        [("FW114", 3), ("FW115", 3)],
        id="backoff-library",
    ),
]

QUIET = [
    pytest.param(
        """
        import random, time
        def fetch():
            for attempt in range(5):
                try:
                    return call()
                except ConnectionError:
                    time.sleep(random.uniform(0, min(10, 0.1 * 2 ** attempt)))
            raise RuntimeError("gave up")
        """,
        id="capped-exponential-with-full-jitter",
    ),
    pytest.param(
        """
        import time
        def fetch(policy):
            while True:
                try:
                    return call()
                except ConnectionError:
                    if policy.exhausted():
                        raise
                    time.sleep(policy.next_delay())
        """,
        id="delay-decided-elsewhere-and-capped",
    ),
    pytest.param(
        """
        def handle_all(items):
            for item in items:
                try:
                    process(item)
                except ValueError:
                    log.warning("skipping %s", item)
        """,
        id="iterating-items-is-not-a-retry",
    ),
    pytest.param(
        """
        import os
        def unique(base):
            for i in range(100):
                try:
                    os.mkdir(f"{base}-{i}")
                    return i
                except FileExistsError:
                    continue
        """,
        id="searching-for-a-free-name",
    ),
    pytest.param(
        """
        import os
        def set_groups(groups):
            while True:
                try:
                    return os.setgroups(groups)
                except OSError:
                    if len(groups) <= 1:
                        raise
                    groups[:] = groups[:-1]
        """,
        id="shrinking-the-input-is-a-search",
    ),
    pytest.param(
        """
        def serve():
            while True:
                msg = queue.get()
                try:
                    handle(msg)
                except Exception:
                    log.exception("handler failed")
        """,
        id="worker-loop-does-not-leave-on-success",
    ),
    pytest.param(
        """
        def ask():
            while True:
                try:
                    return int(input())
                except KeyError:
                    print("again")
        """,
        id="non-transient-exception",
    ),
    pytest.param(
        """
        from tenacity import retry, stop_after_attempt, wait_random_exponential
        from tenacity import wait_exponential, wait_random
        @retry(stop=stop_after_attempt(3), wait=wait_random_exponential(max=10))
        def a(): ...
        @retry(stop=stop_after_attempt(3), wait=wait_exponential() + wait_random(0, 1))
        def b(): ...
        """,
        id="tenacity-with-stop-and-jitter",
    ),
    pytest.param(
        """
        import backoff
        @backoff.on_exception(backoff.expo, ConnectionError, max_tries=5)
        def a(): ...
        """,
        id="backoff-defaults-to-full-jitter",
    ),
]


test_flagged, test_near_miss = rule_tests(("FW11",), FLAGGED, QUIET)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("2", Delay.CONSTANT),
        ("base * 2 ** n", Delay.GROWING),
        ("1 << n", Delay.GROWING),
        ("random.random() * cap", Delay.RANDOM),
        ("min(cap, jitter(d))", Delay.RANDOM),
        ("self.delay", Delay.UNKNOWN),
        ("d", Delay.GROWING),
    ],
)
def test_delay_expressions_are_classified(expr: str, expected: Delay) -> None:
    assignments = {"d": [ast.parse("d * 2", mode="eval").body]}
    assert expected == classify_delay(ast.parse(expr, mode="eval").body, assignments, {"n"})

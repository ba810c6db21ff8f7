"""An open-loop HTTP load generator (asyncio) and a client that calls through a policy.

Open loop: request *k* starts at its Poisson arrival time whatever happened to the earlier
ones. The generator never waits for an answer before starting the next request, so it does not
slow down with the server (closed-loop tools such as wrk, hey or locust's default do, and so
never show a retry storm). If the event loop falls behind, late arrivals start at once. It is
bounded in count and time, and a cap on requests in flight keeps memory bounded: requests
refused by that cap are counted (``refused``), never silently dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from faultwise._clock import SYSTEM_CLOCK
from faultwise.lab._http import HttpClient
from faultwise.lab._policies import AttemptFailed, attempt_error
from faultwise.lab._sim import ClientPolicy, Outcome, Recorder
from faultwise.lab._telemetry import LogWriter, SpanWriter, new_span_id, new_trace_id
from faultwise.resilience import DEADLINE_HEADER, RejectedError, deadline_to_headers

__all__ = ["LiveCaller", "LoadStats", "open_loop"]


@dataclass(slots=True)
class LoadStats:
    started: int = 0
    refused: int = 0
    in_flight: int = 0


async def open_loop(
    send: Callable[[], Awaitable[object]],
    *,
    rate: float,
    duration: float,
    rng: random.Random,
    max_requests: int = 1_000_000,
    max_in_flight: int = 20_000,
    stats: LoadStats | None = None,
) -> tuple[LoadStats, set[asyncio.Task[object]]]:
    """Start ``send()`` at Poisson times for ``duration`` s; returns the tasks still running."""
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    stats = stats if stats is not None else LoadStats()
    tasks: set[asyncio.Task[object]] = set()

    def finished(task: asyncio.Task[object]) -> None:
        tasks.discard(task)
        stats.in_flight -= 1
        if not task.cancelled():
            task.exception()  # retrieve it: a crashing request must not go unnoticed later

    start = time.monotonic()
    due = start
    while stats.started + stats.refused < max_requests:
        due += rng.expovariate(rate)
        if due - start >= duration:
            break
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if stats.in_flight >= max_in_flight:
            stats.refused += 1
            continue
        stats.started += 1
        stats.in_flight += 1
        task: asyncio.Task[object] = asyncio.create_task(send())  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(finished)
    return stats, tasks


class LiveCaller:
    """Makes logical calls (``method path`` round robin over ``targets``) through a policy,
    in real time, and counts them per second (second = time since ``t0``) in ``recorder``.

    The policy is either a stepwise :class:`ClientPolicy` (the same adapters the simulation
    drives: ``admit`` before each attempt, ``outcome`` after it) or, for faultwise, its real
    :class:`~faultwise.resilience.Policy` run with ``run_async``. With ``logs``/``spans`` the
    caller is a service of its own (the retry storm's client) and writes its telemetry.
    """

    def __init__(
        self,
        targets: Sequence[HttpClient],
        path: str,
        policy: ClientPolicy,
        *,
        timeout: float,
        recorder: Recorder,
        t0: float,
        method: str = "GET",
        service: str = "client",
        peer: str = "backend",
        logs: LogWriter | None = None,
        spans: SpanWriter | None = None,
    ) -> None:
        self.targets = list(targets)
        self._turn = itertools.cycle(self.targets)
        self.path = path
        self.method = method
        self.policy = policy
        self.timeout = timeout
        self.recorder = recorder
        self.t0 = t0
        self.service = service
        self.peer = peer
        self.logs = logs
        self.spans = spans
        strategies = getattr(policy, "strategies", None)
        self.live_policy: Any = None
        if strategies is not None:
            from faultwise.lab._faultwise_policy import live_client_policy

            self.live_policy = live_client_policy(strategies, SYSTEM_CLOCK)

    def _slot(self) -> int:
        return self.recorder.slot(max(time.monotonic() - self.t0, 0.0))

    async def call(self) -> bool:
        rec = self.recorder
        rec.offered[self._slot()] += 1
        start = time.monotonic()
        ids = (new_trace_id(), new_span_id())
        if self.live_policy is not None:
            outcome, number = await self._call_policy(ids)
        else:
            outcome, number = await self._call_stepwise(ids, start)
        ok = outcome is Outcome.OK
        i = self._slot()
        if ok:
            rec.ok[i] += 1
            rec.ok_by_arrival[rec.slot(start - self.t0)] += 1
            rec.ok_latency[i].append(time.monotonic() - start)
        else:
            rec.failed[i] += 1
            self._log("ERROR", f"request failed after {number} attempts", ids, number, outcome)
        return ok

    async def _call_stepwise(self, ids: tuple[str, str], start: float) -> tuple[Outcome, int]:
        state = self.policy.begin(start)
        number = 0
        while True:
            refused = self.policy.admit(state, time.monotonic())
            if refused is not None:
                self.recorder.local_rejects[self._slot()] += 1
                outcome = refused
            else:
                number += 1
                outcome = await self._attempt(ids, number, self.timeout)
            delay = self.policy.outcome(state, time.monotonic(), outcome)
            if outcome is Outcome.OK or delay is None:
                return outcome, number
            self._log(
                "WARN",
                f"attempt {number} to {self.peer} failed ({outcome.value}), "
                f"retrying in {delay:.3f} s",
                ids, number, outcome, backoff_s=round(delay, 4),
            )  # fmt: skip
            if delay > 0:
                await asyncio.sleep(delay)

    async def _call_policy(self, ids: tuple[str, str]) -> tuple[Outcome, int]:
        number = 0

        async def attempt() -> None:
            nonlocal number
            number += 1
            outcome = await self._attempt(ids, number, None)
            if outcome is not Outcome.OK:
                self._log("WARN", f"attempt {number} to {self.peer} failed ({outcome.value})",
                          ids, number, outcome)  # fmt: skip
                raise attempt_error(outcome)

        try:
            await self.live_policy.run_async(attempt)
        except RejectedError:
            if number == 0:
                self.recorder.local_rejects[self._slot()] += 1
                return Outcome.LOCAL_REJECT, number
            return Outcome.REJECTED, number
        except TimeoutError:
            return Outcome.TIMEOUT, number
        except AttemptFailed as failed:
            return failed.outcome, number
        return Outcome.OK, number

    async def _attempt(self, ids: tuple[str, str], number: int, limit: float | None) -> Outcome:
        """One attempt; ``limit`` is the caller's own timeout (``None``: the policy's)."""
        trace_id, request_id = ids
        span_id = new_span_id()
        headers = {
            "traceparent": f"00-{trace_id}-{span_id}-01",
            "x-request-id": request_id,
        }
        if limit is not None:
            headers[DEADLINE_HEADER] = str(int(limit * 1000))
        else:
            deadline_to_headers(headers)
        self.recorder.attempts[self._slot()] += 1
        start_ns = time.time_ns()
        outcome = Outcome.ERROR
        try:
            outcome = await self._send(headers, limit)
        except TimeoutError:  # the caller's own per-attempt timeout
            outcome = Outcome.TIMEOUT
            self.recorder.timeouts[self._slot()] += 1
        except asyncio.CancelledError:  # the policy's Timeout cancelled the attempt
            outcome = Outcome.TIMEOUT
            self.recorder.timeouts[self._slot()] += 1
            raise
        finally:
            if outcome is Outcome.REJECTED:
                self.recorder.server_rejects[self._slot()] += 1
            if self.spans is not None:
                self.spans.span(
                    trace_id, span_id, None, self.service, f"{self.method} {self.path}",
                    "client", start_ns, time.time_ns(),
                    "ok" if outcome is Outcome.OK else "error", self.peer,
                )  # fmt: skip
        return outcome

    async def _send(self, headers: dict[str, str], limit: float | None) -> Outcome:
        client = next(self._turn)
        try:
            if limit is None:
                response = await client.request(self.method, self.path, headers)
            else:
                async with asyncio.timeout(limit):
                    response = await client.request(self.method, self.path, headers)
        except TimeoutError:
            raise
        except OSError:  # connection refused or reset: a failed attempt, as a client sees it
            return Outcome.ERROR
        status = response.status_code
        if status < 500:
            return Outcome.OK
        return Outcome.REJECTED if status == 503 else Outcome.ERROR

    def _log(
        self,
        severity: str,
        message: str,
        ids: tuple[str, str],
        number: int,
        outcome: Outcome,
        **attrs: Any,
    ) -> None:
        if self.logs is not None:
            self.logs.log(
                time.time_ns(), severity, message, trace_id=ids[0], request_id=ids[1],
                attempt=number, outcome=outcome.value, peer=self.peer, **attrs,
            )  # fmt: skip

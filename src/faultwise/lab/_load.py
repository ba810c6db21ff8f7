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
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faultwise.lab._http import HttpClient
from faultwise.lab._sim import ClientPolicy, Outcome, Recorder
from faultwise.lab._telemetry import LogWriter, SpanWriter, new_span_id, new_trace_id

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
    """Makes logical calls to ``url`` (a path of ``client``) through a policy, in real time.

    The same policy adapters as the simulation: ``admit`` before each attempt, ``outcome``
    after it (the answer, a 503, or the per-attempt ``timeout``). Records per-second counts
    into ``recorder`` (second = time since ``t0``) and writes client logs and spans.
    """

    def __init__(
        self,
        client: HttpClient,
        url: str,
        policy: ClientPolicy,
        *,
        timeout: float,
        recorder: Recorder,
        t0: float,
        service: str = "client",
        peer: str = "backend",
        logs: LogWriter | None = None,
        spans: SpanWriter | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.policy = policy
        self.timeout = timeout
        self.recorder = recorder
        self.t0 = t0
        self.service = service
        self.peer = peer
        self.logs = logs
        self.spans = spans

    def _slot(self) -> int:
        return self.recorder.slot(max(time.monotonic() - self.t0, 0.0))

    async def call(self) -> bool:
        rec = self.recorder
        rec.offered[self._slot()] += 1
        start = time.monotonic()
        request_id = new_span_id()
        trace_id = new_trace_id()
        state = self.policy.begin(start)
        number = 0
        while True:
            refused = self.policy.admit(state, time.monotonic())
            if refused is not None:
                rec.local_rejects[self._slot()] += 1
                outcome = refused
            else:
                number += 1
                rec.attempts[self._slot()] += 1
                outcome = await self._attempt(trace_id, request_id, number)
            delay = self.policy.outcome(state, time.monotonic(), outcome)
            if outcome is Outcome.OK or delay is None:
                break
            if self.logs is not None:
                self.logs.log(
                    time.time_ns(), "WARN", f"attempt {number} failed ({outcome.value}), retrying",
                    trace_id=trace_id, request_id=request_id, attempt=number,
                    outcome=outcome.value, backoff_s=round(delay, 4), peer=self.peer,
                )  # fmt: skip
            if delay > 0:
                await asyncio.sleep(delay)
        ok = outcome is Outcome.OK
        i = self._slot()
        if ok:
            rec.ok[i] += 1
            rec.ok_latency[i].append(time.monotonic() - start)
        else:
            rec.failed[i] += 1
            if self.logs is not None:
                self.logs.log(
                    time.time_ns(), "ERROR", f"request failed after {number} attempts",
                    trace_id=trace_id, request_id=request_id, attempts=number,
                    outcome=outcome.value, peer=self.peer,
                )  # fmt: skip
        return ok

    async def _attempt(self, trace_id: str, request_id: str, number: int) -> Outcome:
        span_id = new_span_id()
        headers = {
            "traceparent": f"00-{trace_id}-{span_id}-01",
            "x-request-id": request_id,
            "x-attempt": str(number),
            "x-request-timeout-ms": str(int(self.timeout * 1000)),
        }
        start_ns = time.time_ns()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.get(self.url, headers=headers)
            status = response.status_code
            if status < 500:
                outcome = Outcome.OK
            else:
                outcome = Outcome.REJECTED if status == 503 else Outcome.ERROR
        except TimeoutError:
            outcome = Outcome.TIMEOUT
            self.recorder.timeouts[self._slot()] += 1
        except Exception:  # connection refused or reset: a failed attempt, as a client sees it
            outcome = Outcome.ERROR
        if outcome is Outcome.REJECTED:
            self.recorder.server_rejects[self._slot()] += 1
        if self.spans is not None:
            self.spans.span(
                trace_id, span_id, None, self.service, "GET /work", "client", start_ns,
                time.time_ns(), "ok" if outcome is Outcome.OK else "error", self.peer,
            )  # fmt: skip
        return outcome

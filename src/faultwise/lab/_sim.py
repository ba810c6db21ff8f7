"""A discrete-event simulator: services as worker pools with queues, clients with policies.

Time is virtual: it jumps from one event to the next, so a minute of a 10,000-client system
runs in a few seconds and the same seed gives the same run. The resilience objects under test
read the time through :class:`SimClock`, a :class:`faultwise.Clock` whose ``now()`` is the
simulation's time, so the very objects a service uses in production make the decisions here.

Model (the loopback pilot's, and the metastable-failure papers'):

* a :class:`Service` is ``workers`` threads in front of a queue (FIFO or LIFO, bounded or
  not). A handler keeps working after its client gave up, as a real server does, unless the
  service sheds work whose deadline has passed (``shed_expired``);
* a :class:`Caller` makes one logical call through a :class:`ClientPolicy` (retries, breaker,
  budget...), each attempt with its own timeout;
* an :class:`OpenLoop` source starts requests at Poisson arrival times whatever happens to
  them: an open-loop client never slows down with the server, which is what lets a retry storm
  build (closed-loop load tools hide it).
"""

from __future__ import annotations

import enum
import gc
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from heapq import heappop, heappush
from math import log
from typing import Any, Protocol

__all__ = [
    "Attempt",
    "Caller",
    "ClientPolicy",
    "Constant",
    "Dist",
    "Exponential",
    "Limiter",
    "LogNormal",
    "OpenLoop",
    "Outcome",
    "QueueOrder",
    "Recorder",
    "Service",
    "ServiceSpec",
    "Sim",
    "SimClock",
]

_WALL_START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z, as faultwise.testing.FakeClock


class Sim:
    """The event loop: a heap of ``(time, seq, fn, arg)``; ``run(until)`` pops them in order.

    >>> sim = Sim(seed=1)
    >>> sim.at(2.0, print, "two seconds in")
    >>> sim.run(until=5.0)
    two seconds in
    """

    __slots__ = ("_heap", "_lanes", "_seq", "clock", "events", "now", "rng", "wall_start_ns")

    # Hot paths below push ``(t, self._seq(), fn, arg)`` onto ``self._heap`` themselves when
    # ``t >= now`` is certain (now plus a delay): the same entry ``at`` would push, one call
    # fewer. Tuples compare in C, so the heap needs no event objects.

    def __init__(self, *, seed: int = 0, wall_start_ns: int = _WALL_START_NS) -> None:
        self.now = 0.0
        self.rng = random.Random(seed)
        self.wall_start_ns = wall_start_ns
        self.events = 0
        self._heap: list[tuple[float, int, Callable[[Any], object], Any]] = []
        self._seq = itertools.count().__next__
        self._lanes: dict[float, _Lane] = {}
        self.clock = SimClock(self)

    def at(self, t: float, fn: Callable[[Any], object], arg: Any = None) -> None:
        """Run ``fn(arg)`` at virtual time ``t`` (never before now)."""
        now = self.now
        heappush(self._heap, (t if t > now else now, self._seq(), fn, arg))

    def after(self, delay: float, fn: Callable[[Any], object], arg: Any = None) -> None:
        self.at(self.now + delay, fn, arg)

    def lane(self, delay: float) -> _Lane:
        """The timeouts of ``delay`` seconds: equal delays expire in the order they were set,
        so a deque replaces the heap for them (one heap entry per lane, not per timeout)."""
        lane = self._lanes.get(delay)
        if lane is None:
            lane = self._lanes[delay] = _Lane(self, delay)
        return lane

    def run(self, until: float) -> None:
        """Process every event up to ``until`` (inclusive); time ends at ``until``."""
        heap = self._heap
        pop = heappop
        n = 0
        with _long_lived_frozen():
            while heap and heap[0][0] <= until:
                t, _, fn, arg = pop(heap)
                self.now = t
                fn(arg)
                n += 1
        self.events += n
        self.now = max(self.now, until)

    def wall_ns(self, t: float | None = None) -> int:
        return self.wall_start_ns + round((self.now if t is None else t) * 1e9)


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep the objects that exist before a run out of the cyclic GC's full passes during it.

    A run allocates a few objects per request; the survivors of young collections (work in
    flight) soon trigger full collections, and each one walks every object in the process:
    with 10,000 clients' policy objects that was 13 passes and 2.6 s of a 6 s run. Frozen
    (``gc.freeze``), the set-up's objects are skipped; what the run allocates is collected as
    usual. Nothing is frozen when the collector is off or something else froze objects.
    """
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()


class _Lane:
    """Pending timeouts of one duration: expire in the order they were set.

    An attempt answered before its deadline is skipped without an event, so a healthy system
    pays nothing for its timeouts.
    """

    __slots__ = ("_armed", "_items", "_sim", "delay")

    def __init__(self, sim: Sim, delay: float) -> None:
        self._sim = sim
        self.delay = delay
        self._items: deque[Attempt] = deque()
        self._armed = False

    def add(self, attempt: Attempt) -> None:
        """Expire ``attempt`` at its deadline unless it is done by then."""
        self._items.append(attempt)
        if not self._armed:
            self._armed = True
            self._sim.at(attempt.deadline, self._fire)

    def _fire(self, _: object) -> None:
        items = self._items
        now = self._sim.now
        while items and (items[0].done or items[0].deadline <= now):
            attempt = items.popleft()
            if not attempt.done:
                attempt.caller.expire(attempt)
        if items:
            self._sim.at(items[0].deadline, self._fire)
        else:
            self._armed = False


class SimClock:
    """A :class:`faultwise.Clock` in virtual time: the policies under test read it.

    Nothing may block in a simulation, so ``sleep`` raises: a decision that says "wait N s"
    is turned into an event N s later by the caller, never into a sleep.
    """

    __slots__ = ("_sim",)

    def __init__(self, sim: Sim) -> None:
        self._sim = sim

    def now(self) -> float:
        return self._sim.now

    def wall_ns(self) -> int:
        return self._sim.wall_ns()

    def sleep(self, seconds: float) -> None:
        raise RuntimeError("nothing sleeps in virtual time: schedule an event instead")

    async def sleep_async(self, seconds: float) -> None:
        raise RuntimeError("nothing sleeps in virtual time: schedule an event instead")

    def __repr__(self) -> str:
        return f"SimClock(now={self._sim.now!r})"


# -- service-time distributions -------------------------------------------------------------


class Dist(Protocol):
    """A service-time distribution: ``mean`` seconds, ``sample(rng)`` draws one."""

    @property
    def mean(self) -> float: ...

    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``mean`` seconds."""

    mean: float

    def sample(self, rng: random.Random) -> float:
        return self.mean


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponentially distributed with the given mean (an M/M/c server)."""

    mean: float

    def sample(self, rng: random.Random) -> float:
        # rng.expovariate(1.0 / mean), inlined: the same draw and arithmetic as CPython's
        return -log(1.0 - rng.random()) / (1.0 / self.mean)


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normal with the given mean and coefficient of variation: a long right tail."""

    mean: float
    cv: float = 0.5

    def sample(self, rng: random.Random) -> float:
        sigma2 = math.log1p(self.cv * self.cv)
        return rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))


# -- outcomes and policies ------------------------------------------------------------------


class Outcome(enum.Enum):
    """What one attempt came to."""

    OK = "ok"
    TIMEOUT = "timeout"  # the client gave up waiting
    REJECTED = "rejected"  # the server shed it (503), fast
    ERROR = "error"  # the server failed it (500)
    LOCAL_REJECT = "local_reject"  # the client's own policy refused to send it (breaker, budget)


# Module constants for the per-request paths: reading an Enum member through its class costs
# about 40 ns on CPython 3.11, a global one tenth of that.
_OK = Outcome.OK
_REJECTED = Outcome.REJECTED
_TIMEOUT = Outcome.TIMEOUT


class ClientPolicy(Protocol):
    """How a client makes one logical call: the seam where a resilience policy plugs in.

    One policy object serves every request of one client (as a ``Policy`` shared by a
    service's calls), so budgets and breakers see the client's whole traffic.
    """

    name: str

    def begin(self, now: float) -> Any:
        """Start one logical call; returns its per-call state."""
        ...

    def admit(self, state: Any, now: float) -> Outcome | None:
        """Before each attempt: ``None`` to send it, or why it is refused locally."""
        ...

    def outcome(self, state: Any, now: float, outcome: Outcome) -> float | None:
        """After each attempt: seconds to wait before the next one, or ``None`` to stop."""
        ...


# -- the recorder ---------------------------------------------------------------------------


class Recorder:
    """Per-second counters of one run: offered, goodput, failures, attempts; latencies."""

    __slots__ = (
        "attempts",
        "failed",
        "local_rejects",
        "offered",
        "ok",
        "ok_by_arrival",
        "ok_latency",
        "seconds",
        "server_rejects",
        "timeouts",
        "wasted",
    )

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        n = seconds + 1
        self.offered = [0] * n
        self.ok = [0] * n
        self.ok_by_arrival = [0] * n  # successes counted in the second the request arrived
        self.failed = [0] * n
        self.attempts = [0] * n
        self.timeouts = [0] * n
        self.server_rejects = [0] * n
        self.local_rejects = [0] * n
        self.wasted = [0] * n  # work finished for a client that had already given up
        self.ok_latency: list[list[float]] = [[] for _ in range(n)]

    def slot(self, t: float) -> int:
        i = int(t)
        return i if i < self.seconds else self.seconds


# -- services -------------------------------------------------------------------------------


class QueueOrder(enum.Enum):
    FIFO = "fifo"
    LIFO = "lifo"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service: ``workers`` threads, a queue, a service-time distribution.

    ``queue_limit`` bounds the waiting room (``None``: unbounded, as a thread pool's queue);
    beyond it new work gets a fast 503. ``shed_expired``: queued work leaves the queue with a
    503 when its caller's deadline passes (the deadline travels with the request), instead
    of being done later for nobody.
    """

    name: str
    workers: int
    service_time: Dist
    queue: QueueOrder = QueueOrder.FIFO
    queue_limit: int | None = None
    shed_expired: bool = False
    route: str = "GET /work"  # what its access log and spans call the endpoint
    observed: bool = True  # False for a database: only its clients' spans show it

    @property
    def capacity(self) -> float:
        """Requests per second the service completes when saturated."""
        return self.workers / self.service_time.mean


class Attempt:
    """One try of a call, as the server sees it: who asked, and until when they wait."""

    __slots__ = (
        "admitted",
        "caller",
        "deadline",
        "done",
        "number",
        "queued",
        "request",
        "sent",
        "span_id",
    )

    def __init__(self, caller: Caller, request: _Request, deadline: float, now: float) -> None:
        self.caller = caller
        self.request = request
        self.deadline = deadline
        self.sent = now
        self.done = False
        self.queued = False
        self.admitted: int | None = None  # the server limiter's in-flight count at admission
        self.number = request.attempts
        self.span_id = 0


Handler = Callable[["Service", Attempt], None]


class Limiter(Protocol):
    """Server-side admission, as :class:`faultwise.resilience.ConcurrencyLimit` answers it:
    ``try_acquire()`` gives the in-flight count at admission or ``None`` (reject), and every
    admitted call ends with ``on_done(in_flight, rtt, dropped)``."""

    def try_acquire(self) -> int | None: ...

    def on_done(self, in_flight: int, rtt: float, dropped: bool) -> None: ...


class Service:
    """A worker pool with a queue, driven by the simulation.

    ``slowdown`` multiplies the service time (a trigger sets it). A ``handler`` replaces the
    default work (sleep one service time, answer OK) for services that call others or hold
    resources; it must call :meth:`finish` exactly once per attempt it starts. A ``limiter``
    (a :class:`faultwise.resilience.ConcurrencyLimit`, driven as its own drivers drive it)
    admits or rejects each attempt before it takes a worker or a place in the queue.
    """

    def __init__(
        self,
        sim: Sim,
        spec: ServiceSpec,
        *,
        handler: Handler | None = None,
        tracer: Any = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.sim = sim
        self.spec = spec
        self.name = spec.name
        self.slowdown = 1.0
        self.busy = 0
        self.waiting = 0  # attempts in the queue that still wait for a worker
        self.queue: deque[Attempt] = deque()
        self.handled = 0
        self.shed = 0
        self.rejected = 0
        self.handler = handler
        self.tracer = tracer
        self.limiter = limiter
        self._sample = spec.service_time.sample
        self._lifo = spec.queue is QueueOrder.LIFO
        self._workers = spec.workers
        self._limit = spec.queue_limit
        self._shed = spec.shed_expired
        self._on_done = self._done_ok  # bound once, not per event

    def service_time(self) -> float:
        return self._sample(self.sim.rng) * self.slowdown

    def submit(self, attempt: Attempt) -> None:
        """An attempt arrives: a free worker takes it, else it waits (or is turned away).

        Its server span starts now, as a server's does when the request is read: time spent
        waiting for a worker is the server's time, not the network's."""
        if self.tracer is not None:
            self.tracer.server_start(self, attempt)
        limiter = self.limiter
        if limiter is not None:
            attempt.admitted = limiter.try_acquire()
            if attempt.admitted is None:
                self._reject(attempt)
                return
        if self.busy < self._workers:
            self._start(attempt)
        elif self._limit is not None and self.waiting >= self._limit:
            self._reject(attempt)
        else:
            self.queue.append(attempt)
            self.waiting += 1
            attempt.queued = True
            if self._shed:
                self.sim.at(attempt.deadline, self._expire, attempt)

    def _reject(self, attempt: Attempt) -> None:
        self.rejected += 1
        self._answer(attempt, _REJECTED)

    def _answer(self, attempt: Attempt, outcome: Outcome) -> None:
        """The server's answer: its span ends, the limiter learns, the caller hears."""
        if self.tracer is not None:
            self.tracer.server_end(self, attempt, outcome)
        if self.limiter is not None and attempt.admitted is not None:
            dropped = outcome is not _OK
            self.limiter.on_done(attempt.admitted, self.sim.now - attempt.sent, dropped)
            attempt.admitted = None
        attempt.caller.reply(attempt, outcome)

    def _expire(self, attempt: Attempt) -> None:
        """A queued attempt's deadline passed before a worker took it: it leaves the queue
        with a 503 (what a bulkhead wait bounded by the propagated deadline does)."""
        if not attempt.queued:
            return
        attempt.queued = False
        self.waiting -= 1
        self.shed += 1
        self._answer(attempt, _REJECTED)

    def _start(self, attempt: Attempt) -> None:
        self.busy += 1
        if self.handler is not None:
            self.handler(self, attempt)
        else:
            sim = self.sim
            t = sim.now + self._sample(sim.rng) * self.slowdown
            heappush(sim._heap, (t, sim._seq(), self._on_done, attempt))  # sim.at(t, ...)

    def _done_ok(self, attempt: Attempt) -> None:
        self.finish(attempt, _OK)

    def finish(self, attempt: Attempt, outcome: Outcome) -> None:
        """The handler is done with ``attempt``: answer the caller, take the next one."""
        self.busy -= 1
        self.handled += 1
        self._answer(attempt, outcome)
        if self.queue:
            self._next()

    def _next(self) -> None:
        queue = self.queue
        while queue and self.busy < self._workers:
            attempt = queue.pop() if self._lifo else queue.popleft()
            if attempt.queued:
                attempt.queued = False
                self.waiting -= 1
                self._start(attempt)


# -- clients --------------------------------------------------------------------------------


Done = Callable[[bool, float], object]
"""What runs when a logical call ends: ``done(ok, start_time)``."""


class _Request:
    __slots__ = ("attempts", "done", "start", "state", "trace")

    def __init__(self, start: float, state: Any, done: Done | None, trace: Any) -> None:
        self.start = start
        self.state = state
        self.done = done
        self.attempts = 0
        self.trace = trace


class Caller:
    """Makes logical calls from one client to one service through a :class:`ClientPolicy`.

    Each attempt gets ``timeout`` seconds; a late answer is wasted work (the server did it,
    nobody was waiting). ``recorder`` (if given) counts attempts and outcomes per second.
    """

    def __init__(
        self,
        sim: Sim,
        target: Service,
        policy: ClientPolicy,
        *,
        timeout: float,
        name: str = "client",
        recorder: Recorder | None = None,
        tracer: Any = None,
        route: str | None = None,
        quiet: bool = False,
    ) -> None:
        self.sim = sim
        self.target = target
        self.route = route or target.spec.route
        self.quiet = quiet  # users at the edge: they start traces but write no telemetry
        self.policy = policy
        self.timeout = timeout
        self.name = name
        self.recorder = recorder
        self.tracer = tracer
        self._timeouts = sim.lane(timeout)
        self._retry = self._attempt  # bound once, not per event

    def call(self, done: Done | None = None, trace: Any = None) -> None:
        """Start one logical call now; ``done(ok, start)`` runs when it ends."""
        now = self.sim.now
        self._attempt(_Request(now, self.policy.begin(now), done, trace))

    def _attempt(self, request: _Request) -> None:
        now = self.sim.now
        rec = self.recorder
        refused = self.policy.admit(request.state, now)
        if refused is not None:
            if rec is not None:
                rec.local_rejects[rec.slot(now)] += 1
            self._after(request, refused)
            return
        request.attempts += 1
        attempt = Attempt(self, request, now + self.timeout, now)
        if rec is not None:
            i = int(now)  # rec.slot(now), inlined on the per-attempt path
            rec.attempts[i if i < rec.seconds else rec.seconds] += 1
        if self.tracer is not None:
            self.tracer.client_start(self, attempt)
        self._timeouts.add(attempt)
        self.target.submit(attempt)

    def reply(self, attempt: Attempt, outcome: Outcome) -> None:
        """The server answers ``attempt`` (maybe long after the client gave up)."""
        rec = self.recorder
        if attempt.done:
            if rec is not None:
                rec.wasted[rec.slot(self.sim.now)] += 1
            return
        attempt.done = True
        if rec is not None and outcome is _REJECTED:
            rec.server_rejects[rec.slot(self.sim.now)] += 1
        if self.tracer is not None:
            self.tracer.client_end(self, attempt, outcome)
        self._after(attempt.request, outcome)

    def expire(self, attempt: Attempt) -> None:
        """``attempt``'s deadline passed with no answer: the client gives up on it."""
        attempt.done = True
        if self.recorder is not None:
            self.recorder.timeouts[self.recorder.slot(self.sim.now)] += 1
        if self.tracer is not None:
            self.tracer.client_end(self, attempt, _TIMEOUT)
        self._after(attempt.request, _TIMEOUT)

    def _after(self, request: _Request, outcome: Outcome) -> None:
        sim = self.sim
        ok = outcome is _OK
        delay = self.policy.outcome(request.state, sim.now, outcome)
        if delay is not None and not ok:
            if self.tracer is not None:
                self.tracer.retrying(self, request, outcome, delay)
            sim.at(sim.now + delay, self._retry, request)
            return
        if request.done is not None:
            request.done(ok, request.start)
        if self.tracer is not None:
            self.tracer.request_end(self, request, ok)


# -- open-loop load -------------------------------------------------------------------------


class OpenLoop:
    """Poisson arrivals at ``rate`` per second from ``start`` to ``stop``, spread over callers.

    Superposed Poisson streams are one Poisson stream, so N clients at rate/N each are one
    source that picks a client at random per arrival: 10,000 clients cost nothing extra.
    Bounded: never more than ``max_requests`` arrivals.
    """

    def __init__(
        self,
        sim: Sim,
        callers: list[Caller],
        *,
        rate: float,
        start: float,
        stop: float,
        recorder: Recorder,
        max_requests: int = 10_000_000,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.sim = sim
        self.callers = callers
        self.rate = rate
        self.stop = stop
        self.recorder = recorder
        self.remaining = max_requests
        self.started = 0
        self._next = self._arrive  # bound once, not per event
        self._on_done = self._done
        sim.at(start + sim.rng.expovariate(rate), self._next)

    def _arrive(self, _: object) -> None:
        sim = self.sim
        now = sim.now
        if now >= self.stop or self.remaining <= 0:
            return
        self.remaining -= 1
        self.started += 1
        rec = self.recorder
        i = int(now)  # rec.slot(now), inlined: this runs once per request
        rec.offered[i if i < rec.seconds else rec.seconds] += 1
        callers = self.callers
        rng = sim.rng
        caller = callers[int(rng.random() * len(callers))] if len(callers) > 1 else callers[0]
        caller.call(self._on_done)
        # sim.at(now + rng.expovariate(rate), ...), inlined: the same draw and arithmetic
        t = now + -log(1.0 - rng.random()) / self.rate
        heappush(sim._heap, (t, sim._seq(), self._next, None))

    def _done(self, ok: bool, start: float) -> None:
        rec = self.recorder
        t = self.sim.now
        i = int(t)  # rec.slot(t), inlined
        i = min(i, rec.seconds)
        if ok:
            rec.ok[i] += 1
            j = int(start)
            rec.ok_by_arrival[j if j < rec.seconds else rec.seconds] += 1
            rec.ok_latency[i].append(t - start)
        else:
            rec.failed[i] += 1

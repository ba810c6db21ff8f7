"""The lab's scenarios in simulation: each outage, without and with its defense.

Every scenario builds a small service graph in virtual time, runs open-loop load through it,
writes telemetry (``--out DIR``: JSON-lines logs, ``spans.csv``, ``metrics.csv``, configs
where they matter) and ``DIR/truth.json``, and reports whether the outage happened.

=================  =======================================  ==============================
scenario           fault                                    defense
=================  =======================================  ==============================
retry-storm        10 s slowdown, 3 immediate retries       budget, breaker, shedding, LIFO
cascading-failure  the database slows 40x                   timeouts + breakers + fallback
pool-exhaustion    a connection leaked on an error path     release in ``finally``
config-drift       one instance's pool is 2, not 20         the same config everywhere
deadlock           a row lock held across a call that       call before locking
                   needs the same row
race               read-modify-write of stock, no lock      an atomic conditional update
silent-failure     ack before processing, crash midway      ack after processing
=================  =======================================  ==============================
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultwise.lab._policies import NoRetries
from faultwise.lab._sim import (
    Attempt,
    Caller,
    Constant,
    Exponential,
    OpenLoop,
    Outcome,
    Recorder,
    Service,
    ServiceSpec,
    Sim,
)
from faultwise.lab._simtrace import SimTelemetry
from faultwise.lab._telemetry import (
    payments_config,
    steady_state,
    write_config,
    write_restart_events,
    write_truth,
)

if TYPE_CHECKING:
    from faultwise.lab._storm import StormResult

__all__ = ["SCENARIOS", "Scenario", "ScenarioResult", "run_scenario_sim"]


class Scenario(enum.Enum):
    RETRY_STORM = "retry-storm"
    CASCADING_FAILURE = "cascading-failure"
    POOL_EXHAUSTION = "pool-exhaustion"
    CONFIG_DRIFT = "config-drift"
    DEADLOCK = "deadlock"
    RACE = "race"
    SILENT_FAILURE = "silent-failure"


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One run: did the outage happen, the numbers that say so, and the truth."""

    scenario: Scenario
    defended: bool
    outage: bool
    headline: str
    pattern: str
    component: str
    metrics: dict[str, float] = field(default_factory=dict)
    out: Path | None = None
    notes: tuple[str, ...] = ()  # what the run used (PostgreSQL, RabbitMQ or built-ins)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.value,
            "defended": self.defended,
            "outage": self.outage,
            "headline": self.headline,
            "truth": {"pattern": self.pattern, "component": self.component},
            "metrics": self.metrics,
            "out": str(self.out) if self.out else None,
            "notes": list(self.notes),
        }


class _Run:
    """What every scenario shares: the simulation, a recorder, optional telemetry."""

    def __init__(self, seed: int, seconds: int, out: Path | None) -> None:
        self.sim = Sim(seed=seed)
        self.seconds = seconds
        self.recorder = Recorder(seconds + 30)
        self.tel = SimTelemetry(self.sim, out, seed=seed) if out is not None else None
        self.out = out
        self._pools: list[tuple[str, _Pool]] = []

    def service(self, spec: ServiceSpec, handler: Any = None) -> Service:
        return Service(self.sim, spec, handler=handler, tracer=self.tel)

    def caller(
        self, target: Service, *, name: str, timeout: float, policy: Any = None,
        route: str | None = None,
    ) -> Caller:  # fmt: skip
        return Caller(
            self.sim, target, policy or NoRetries(), timeout=timeout, name=name,
            recorder=None, tracer=self.tel, route=route,
        )  # fmt: skip

    def edge(
        self, target: Service, *, name: str = "users", timeout: float, rate: float,
        route: str | None = None, recorder: Recorder | None = None,
    ) -> Caller:  # fmt: skip
        """Users: open-loop Poisson load into ``target`` for the whole run. They start the
        traces but write no telemetry of their own, as users of a real service do not."""
        rec = recorder or self.recorder
        caller = Caller(
            self.sim, target, NoRetries(), timeout=timeout, name=name,
            recorder=rec, tracer=self.tel, route=route, quiet=True,
        )  # fmt: skip
        OpenLoop(self.sim, [caller], rate=rate, start=0.0, stop=float(self.seconds), recorder=rec)
        return caller

    def every_second(self, sample: Callable[[int], dict[str, Any]]) -> None:
        """Once a second: ``sample(i)``, the users' counts and the pools' leak rule."""

        def tick(i: int) -> None:
            rec, prev = self.recorder, max(i - 1, 0)
            row = {
                "users_requests_per_s": rec.offered[prev],
                "users_goodput_per_s": rec.ok[prev],
                "users_failures_per_s": rec.failed[prev],
                **sample(i),
            }
            if self.tel is not None:
                self.tel.metrics(row)
            for service, pool in self._pools:
                self._leak_rule(service, pool)
            if i < self.seconds:
                self.sim.at(i + 1.0, tick, i + 1)

        self.sim.at(1.0, tick, 1)

    def watch_pool(self, service: str, pool: _Pool) -> None:
        """Apply faultwise.observe's leak rule to ``pool`` (its ``PoolWatch`` warning)."""
        self._pools.append((service, pool))

    def _leak_rule(self, service: str, pool: _Pool) -> None:
        pinned = pool.used >= pool.size
        if not pinned:
            pool.pinned_since = None
            return
        if pool.pinned_since is None:
            pool.pinned_since = self.sim.now
        seconds = self.sim.now - pool.pinned_since
        if seconds >= PINNED_AFTER_S and not pool.alerted:
            pool.alerted = True
            self.log(
                service, "WARNING",
                f"pool {pool.name} pinned at its maximum ({pool.used} of {pool.size} "
                f"connections in use) for {seconds:.0f} s: a connection leak or an undersized pool",
                logger="faultwise.pool", **{"db.client.connection.pool.name": pool.name,
                "event.name": "pool.pinned"},
            )  # fmt: skip

    def log(self, service: str, severity: str, message: str, **attrs: Any) -> None:
        if self.tel is not None:
            self.tel.log(service, severity, message, **attrs)

    def log_in(
        self, attempt: Attempt, service: str, severity: str, message: str, **attrs: Any
    ) -> None:
        """A line a handler logs while serving ``attempt`` (with its trace and request ids)."""
        if self.tel is not None:
            self.tel.log(
                service, severity, message, logger="faultwise.lab.app", **self.tel.ids(attempt),
                **attrs,
            )  # fmt: skip

    def child_trace(self, attempt: Attempt) -> Any:
        """The trace context for a call made while handling ``attempt``."""
        if self.tel is None or attempt.request.trace is None:
            return None
        trace_id, _, request_id = attempt.request.trace
        return (trace_id, self.tel.server_span(attempt), request_id)

    def goodput(self, start: int, end: int) -> float:
        """The share of requests arriving in ``[start, end)`` s that succeeded."""
        offered = sum(self.recorder.offered[start:end])
        return sum(self.recorder.ok_by_arrival[start:end]) / offered if offered else 1.0

    def finish(
        self, scenario: Scenario, defended: bool, pattern: str, component: str,
        *, steady_s: float | None = None,
    ) -> None:  # fmt: skip
        """Run to the end; write ``truth.json`` (with the steady state before the fault, when
        the fault comes after one)."""
        self.sim.run(until=self.seconds + 25.0)
        if self.tel is not None and self.out is not None:
            self.tel.close()
            extra = {"steady_state": steady_state(self.sim.wall_start_ns, steady_s)} if (
                steady_s is not None
            ) else {}  # fmt: skip
            write_truth(
                self.out, pattern, component, scenario=scenario.value, defended=defended,
                mode="sim", wall_start_ns=self.sim.wall_start_ns, **extra,
            )  # fmt: skip


PINNED_AFTER_S = 30.0  # faultwise.observe.PoolWatch's default


# -- cascading failure ----------------------------------------------------------------------


def _cascading(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    """gateway -> orders -> db. The database slows 40x for 20 s. Without timeouts, orders'
    workers wait on the database, the gateway's workers wait on orders, and the gateway stops
    serving even the catalog, which needs neither. With short timeouts and breakers, the
    gateway keeps serving the catalog and degrades orders fast."""
    run = _Run(seed, 60, out)
    db = run.service(
        ServiceSpec("db", 8, Exponential(0.005), route="SELECT orders", observed=False)
    )
    timeout_db, timeout_orders = (0.25, 0.5) if defended else (30.0, 30.0)

    def breaker() -> Any:
        return _breaker_policy(run.sim.clock) if defended else NoRetries()

    orders_to_db = run.caller(db, name="orders", timeout=timeout_db, policy=breaker())

    def orders_handler(service: Service, attempt: Attempt) -> None:
        def done(ok: bool, start: float) -> None:
            if not ok:
                run.log_in(attempt, "orders", "ERROR", "database call failed: TimeoutError")
            service.finish(attempt, Outcome.OK if ok else Outcome.ERROR)

        orders_to_db.call(done, run.child_trace(attempt))

    orders = run.service(
        ServiceSpec("orders", 16, Constant(0.0), route="GET /orders/{order_id}"), orders_handler
    )
    gw_to_orders = run.caller(orders, name="gateway", timeout=timeout_orders, policy=breaker())

    def gateway_handler(service: Service, attempt: Attempt) -> None:
        if attempt.caller is catalog:
            run.sim.at(run.sim.now + 0.002, lambda _: service.finish(attempt, Outcome.OK))
            return

        def done(ok: bool, start: float) -> None:
            if not ok:
                run.log_in(attempt, "gateway", "ERROR", "orders unavailable")
            service.finish(attempt, Outcome.OK if ok else Outcome.ERROR)

        gw_to_orders.call(done, run.child_trace(attempt))

    gateway = run.service(ServiceSpec("gateway", 32, Constant(0.0)), gateway_handler)
    catalog_rec = Recorder(90)
    catalog = run.edge(
        gateway, name="catalog", timeout=2.0, rate=100.0, route="GET /catalog",
        recorder=catalog_rec,
    )  # fmt: skip
    run.edge(gateway, timeout=2.0, rate=100.0, route="GET /orders/{order_id}")
    run.sim.at(15.0, lambda factor: setattr(db, "slowdown", factor), 40.0)
    run.sim.at(35.0, lambda factor: setattr(db, "slowdown", factor), 1.0)
    run.every_second(
        lambda i: {
            "orders_busy": orders.busy, "orders_queue_depth": orders.waiting,
            "gateway_busy": gateway.busy, "gateway_queue_depth": gateway.waiting,
        }
    )  # fmt: skip
    run.finish(Scenario.CASCADING_FAILURE, defended, "cascading_failure", "db", steady_s=15.0)
    offered = sum(catalog_rec.offered[18:35])
    catalog_goodput = sum(catalog_rec.ok_by_arrival[18:35]) / offered if offered else 1.0
    return ScenarioResult(
        Scenario.CASCADING_FAILURE, defended, catalog_goodput < 0.5,
        f"catalog goodput while the database is slow: {catalog_goodput:.0%}",
        "cascading_failure", "db", {"catalog_goodput_during": round(catalog_goodput, 3)}, out,
    )  # fmt: skip


def _breaker_policy(clock: Any) -> Any:
    from faultwise.lab._faultwise_policy import breaker_only_policy

    return breaker_only_policy(clock)


# -- pool exhaustion ------------------------------------------------------------------------


class _Pool:
    """A bounded connection pool: ``acquire(cb)`` runs ``cb(ok)`` once a connection is free
    or after ``timeout`` (``ok`` False)."""

    def __init__(self, sim: Sim, size: int, timeout: float, name: str) -> None:
        self.sim = sim
        self.size = size
        self.name = name
        self.used = 0
        self.timeout = timeout
        self.waiting: deque[list[Any]] = deque()
        self.timeouts = 0
        self.pinned_since: float | None = None
        self.alerted = False

    def acquire(self, cb: Callable[[bool], None]) -> None:
        if self.used < self.size:
            self.used += 1
            cb(True)
            return
        entry: list[Any] = [cb, False]
        self.waiting.append(entry)

        def expire(e: list[Any]) -> None:
            if not e[1]:
                e[1] = True
                self.timeouts += 1
                e[0](False)

        self.sim.at(self.sim.now + self.timeout, expire, entry)

    def release(self) -> None:
        while self.waiting:
            entry = self.waiting.popleft()
            if not entry[1]:
                entry[1] = True
                entry[0](True)
                return
        self.used -= 1


def _pooled_service(
    run: _Run,
    spec: ServiceSpec,
    pool: _Pool,
    *,
    leak_on_error: bool,
    error_rate: float,
    instance: str | None = None,
    hold: float = 0.02,
) -> Service:
    """A service whose requests borrow a database connection for ``hold`` s (exponential);
    ``error_rate`` of them take the card-declined path, which leaks the connection when
    ``leak_on_error``. The log lines are those of the live service (``_kinds``)."""
    rng = run.sim.rng
    name = spec.name
    where = {"instance": instance} if instance else {}

    def handler(service: Service, attempt: Attempt) -> None:
        def got(ok: bool) -> None:
            if not ok:
                run.log_in(
                    attempt, name, "ERROR",
                    f"could not get a database connection: couldn't get a connection after "
                    f"{pool.timeout:.2f} sec", **{"error.type": "PoolTimeout"}, pool=pool.name,
                    **where,
                )  # fmt: skip
                service.finish(attempt, Outcome.ERROR)
                return
            failed = rng.random() < error_rate

            def done(_: object) -> None:
                if failed:
                    run.log_in(
                        attempt, name, "ERROR", "payment declined by the provider",
                        **{"error.type": "Declined"}, **where,
                    )  # fmt: skip
                    if not leak_on_error:
                        pool.release()
                    service.finish(attempt, Outcome.ERROR)
                else:
                    pool.release()
                    service.finish(attempt, Outcome.OK)

            run.sim.at(run.sim.now + rng.expovariate(1 / hold), done)

        pool.acquire(got)

    run.watch_pool(name, pool)
    return run.service(spec, handler)


def _pool_rows(service: str, pool: _Pool) -> dict[str, int]:
    return {
        f"{service}_db_client_connection_count_used": pool.used,
        f"{service}_db_client_connection_count_idle": pool.size - pool.used,
        f"{service}_db_client_connection_max": pool.size,
        f"{service}_db_client_connection_pending_requests": len(pool.waiting),
    }


def _pool_exhaustion(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    """orders holds a pool of 10 database connections. 1 % of requests take an error path
    that (without the defense) never returns its connection: the pool drains slowly, then
    every request waits 1 s for a connection and fails. With the connection released in a
    ``finally`` (a context manager), nothing leaks."""
    run = _Run(seed, 90, out)
    pool = _Pool(run.sim, 10, 1.0, "orders-db")
    spec = ServiceSpec("orders", 64, Constant(0.0), route="POST /orders")
    orders = _pooled_service(run, spec, pool, leak_on_error=not defended, error_rate=0.01)
    run.edge(orders, timeout=2.0, rate=50.0)
    run.every_second(lambda i: _pool_rows("orders", pool))
    run.finish(Scenario.POOL_EXHAUSTION, defended, "pool_exhaustion", "orders")
    tail = run.goodput(75, 90)
    return ScenarioResult(
        Scenario.POOL_EXHAUSTION, defended, tail < 0.5,
        f"goodput in the last 15 s: {tail:.0%} (pool timeouts: {pool.timeouts})",
        "pool_exhaustion", "orders",
        {"goodput_end": round(tail, 3), "pool_timeouts": pool.timeouts}, out,
    )  # fmt: skip


# -- config drift ---------------------------------------------------------------------------


def _config_drift(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    """Three payments instances behind a round-robin balancer; one was deployed with a
    database pool of 2 instead of 20. Under load its requests wait for a connection and fail:
    a third of payments fail. Defended: the configuration is the same everywhere."""
    run = _Run(seed, 60, out)
    sizes = [20, 20, 20 if defended else 2]
    instances = []
    for i, size in enumerate(sizes, start=1):
        name = f"payments-{i}"
        pool = _Pool(run.sim, size, 0.5, f"{name}-db")
        spec = ServiceSpec("payments", 64, Constant(0.0), route="POST /payments")
        service = _pooled_service(
            run, spec, pool, leak_on_error=False, error_rate=0.0, instance=name, hold=0.05
        )
        instances.append((service, pool, name))
        if out is not None:
            write_config(out / "configs" / f"{name}.yaml", payments_config(name, size))
    callers = [
        run.caller(svc, name="gateway", timeout=2.0, route="POST /payments")
        for svc, _, _ in instances
    ]
    turn = [0]

    def balance(service: Service, attempt: Attempt) -> None:
        caller = callers[turn[0] % len(callers)]
        turn[0] += 1

        def done(ok: bool, start: float) -> None:
            service.finish(attempt, Outcome.OK if ok else Outcome.ERROR)

        caller.call(done, run.child_trace(attempt))

    gateway = run.service(ServiceSpec("gateway", 256, Constant(0.0), route="GET /pay"), balance)
    run.edge(gateway, timeout=3.0, rate=240.0)
    run.every_second(
        lambda i: {
            f"{name}_db_client_connection_count_used": pool.used for _, pool, name in instances
        }
    )
    run.finish(Scenario.CONFIG_DRIFT, defended, "config_drift", "payments")
    goodput = run.goodput(5, 60)
    return ScenarioResult(
        Scenario.CONFIG_DRIFT, defended, goodput < 0.9,
        f"payments goodput: {goodput:.0%}", "config_drift", "payments",
        {"goodput": round(goodput, 3)}, out,
    )  # fmt: skip


# -- deadlock -------------------------------------------------------------------------------


class _RowLocks:
    """Row locks as the database holds them: one holder per row, waiters in line, a wait
    longer than 1 s logged as PostgreSQL logs it with ``log_lock_waits``."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.rows: dict[str, list[Any]] = {}  # row -> [holder pid, deque of (pid, cb)]
        self.pids = itertools.count(10_000)
        self.waits = 0

    def lock(self, row: str, pid: int, cb: Callable[[], None]) -> None:
        entry = self.rows.setdefault(row, [None, deque()])
        if entry[0] is None:
            entry[0] = pid
            cb()
            return
        self.waits += 1
        waiter = [pid, cb, False]
        entry[1].append(waiter)
        sim = self.run.sim
        started = sim.now

        def still_waiting(_: object) -> None:
            if not waiter[2]:
                holder = entry[0]
                self.run.log(
                    "db", "WARNING",
                    f"process {pid} still waiting for ShareLock on transaction {holder} after "
                    f"{(sim.now - started) * 1000:.3f} ms", logger="faultwise.lab.db",
                    detail=f"Process holding the lock: {holder}. Wait queue: {pid}.",
                    context='while updating tuple in relation "stock"', key=row,
                )  # fmt: skip

        sim.at(sim.now + 1.0, still_waiting)

    def unlock(self, row: str) -> None:
        entry = self.rows[row]
        if entry[1]:
            waiter = entry[1].popleft()
            waiter[2] = True
            entry[0] = waiter[0]
            waiter[1]()
        else:
            entry[0] = None


def _deadlock(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    """orders opens a transaction, locks the stock row of the item, and calls pricing, which
    updates the same row: pricing waits for orders' lock, orders waits for pricing. Each such
    request hangs until pricing's call times out (5 s) while holding the row: every order of
    that item queues behind it. Defended: call pricing first, then lock and write."""
    run = _Run(seed, 60, out)
    sim = run.sim
    locks = _RowLocks(run)
    row = "stock:sku-42"
    stats = {"timed_out": 0}

    def pricing_handler(service: Service, attempt: Attempt) -> None:
        def release(_: object) -> None:
            locks.unlock(row)
            service.finish(attempt, Outcome.OK)

        locks.lock(row, next(locks.pids), lambda: sim.at(sim.now + 0.005, release))

    pricing = run.service(
        ServiceSpec("pricing", 64, Constant(0.0), route="POST /price/{sku}"), pricing_handler
    )
    to_pricing = run.caller(pricing, name="orders", timeout=5.0, route="POST /price/{sku}")

    def orders_handler(service: Service, attempt: Attempt) -> None:
        pid = next(locks.pids)
        trace = run.child_trace(attempt)

        def write_and_commit(ok: bool) -> None:
            def commit(_: object) -> None:
                locks.unlock(row)
                service.finish(attempt, Outcome.OK if ok else Outcome.ERROR)

            sim.at(sim.now + 0.002, commit)

        if defended:  # the call first, then a short transaction
            to_pricing.call(lambda ok, _: locks.lock(row, pid, lambda: write_and_commit(ok)), trace)
            return

        def in_tx() -> None:  # the call inside the transaction, holding the row lock
            run.log_in(attempt, "orders", "INFO",
                       f"holding the lock on {row} while calling pricing", key=row)  # fmt: skip

            def priced(ok: bool, _: float) -> None:
                if not ok:
                    stats["timed_out"] += 1
                    run.log_in(attempt, "orders", "WARNING",
                               "call to pricing /price/{sku} failed: TimeoutError")  # fmt: skip
                    run.log_in(
                        attempt, "orders", "ERROR",
                        f"pricing did not answer while the lock on {row} was held; rolled back",
                        key=row,
                    )  # fmt: skip
                write_and_commit(ok)

            to_pricing.call(priced, trace)

        locks.lock(row, pid, in_tx)

    orders = run.service(
        ServiceSpec("orders", 64, Constant(0.0), route="POST /orders/{sku}/reserve"),
        orders_handler,
    )
    run.edge(orders, timeout=10.0, rate=20.0)
    run.every_second(lambda i: {"orders_busy": orders.busy, "pricing_busy": pricing.busy})
    run.finish(Scenario.DEADLOCK, defended, "deadlock", "orders")
    goodput = run.goodput(2, 60)
    return ScenarioResult(
        Scenario.DEADLOCK, defended, goodput < 0.5,
        f"order goodput: {goodput:.0%} ({stats['timed_out']} lock cycles broken by timeouts)",
        "deadlock", "orders", {"goodput": round(goodput, 3), "lock_waits": locks.waits,
                               **stats}, out,
    )  # fmt: skip


# -- race -----------------------------------------------------------------------------------


def _race(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    """inventory reserves one unit per request: it reads the stock, works 20 ms, writes
    stock - 1. Two instances of 8 workers each interleave on the same row, so updates are
    lost: more units are sold than the stock went down. Defended: one atomic conditional
    update (``UPDATE stock SET n = n - 1 WHERE n > 0``)."""
    run = _Run(seed, 30, out)
    sim = run.sim
    state = {"stock": 100_000, "sold": 0, "lost": 0, "version": 0}
    sku = "sku-7"

    def handler_of(instance: str) -> Callable[[Service, Attempt], None]:
        def handler(service: Service, attempt: Attempt) -> None:
            def wrote(qty: int) -> None:
                run.log_in(attempt, "inventory", "INFO", f"updated stock sku={sku} qty={qty}",
                           instance=instance)  # fmt: skip
                service.finish(attempt, Outcome.OK)

            if defended:

                def atomic(_: object) -> None:
                    state["stock"] -= 1
                    state["sold"] += 1
                    state["version"] += 1
                    wrote(state["stock"])

                sim.at(sim.now + sim.rng.expovariate(1 / 0.02), atomic)
                return
            seen, version = state["stock"], state["version"]

            def write(_: object) -> None:
                if state["version"] != version:
                    state["lost"] += 1
                state["stock"] = seen - 1
                state["version"] += 1
                state["sold"] += 1
                wrote(seen - 1)

            sim.at(sim.now + sim.rng.expovariate(1 / 0.02), write)

        return handler

    for i in (1, 2):
        spec = ServiceSpec("inventory", 8, Constant(0.0), route="POST /reserve/{sku}")
        run.edge(run.service(spec, handler_of(f"inventory-{i}")), timeout=2.0, rate=100.0)
    run.every_second(lambda i: {"inventory_stock": state["stock"]})
    run.finish(Scenario.RACE, defended, "race_condition", "inventory")
    oversold = state["sold"] - (100_000 - state["stock"])
    return ScenarioResult(
        Scenario.RACE, defended, oversold > 0,
        f"units sold beyond the stock decrease (lost updates): {oversold}",
        "race_condition", "inventory",
        {"sold": state["sold"], "oversold": oversold, "lost_updates": state["lost"]}, out,
    )  # fmt: skip


# -- silent failure -------------------------------------------------------------------------


def _silent_failure(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    """A consumer takes messages from a queue, processes each for 50 ms, and crashes midway
    on 2 % of them (the orchestrator restarts it in 1 s). Acked before processing, the
    crashed message is gone: nothing logs an error, the producer's count and the processed
    count drift apart. Acked after processing, the broker redelivers it."""
    run = _Run(seed, 60, out)
    sim = run.sim
    rng = sim.rng
    queue: deque[int] = deque()
    state = {"published": 0, "processed": 0, "lost": 0, "redelivered": 0, "busy": False}
    restarts: list[tuple[int, int]] = []

    def publish(_: object) -> None:
        if sim.now >= run.seconds:
            return
        state["published"] += 1
        queue.append(state["published"])
        run.log("orders", "INFO", f"published order.created message_id={state['published']}")
        consume(None)
        sim.at(sim.now + rng.expovariate(15.0), publish)

    def consume(_: object) -> None:
        if state["busy"] or not queue:
            return
        state["busy"] = True
        message = queue.popleft()
        run.log("consumer", "INFO", f"received order.created message_id={message}")
        if not defended:
            run.log("consumer", "INFO", f"acked order.created message_id={message}")
        crash = rng.random() < 0.02

        def done(_: object) -> None:
            if crash:  # the process dies: no line, no exception, nothing flushed
                if defended:
                    queue.appendleft(message)
                    state["redelivered"] += 1
                else:
                    state["lost"] += 1
                sim.at(sim.now + 1.0, restart)
                return
            state["processed"] += 1
            run.log("consumer", "INFO", f"processed order.created message_id={message}")
            if defended:
                run.log("consumer", "INFO", f"acked order.created message_id={message}")
            state["busy"] = False
            consume(None)

        sim.at(sim.now + (0.025 if crash else 0.05), done)

    def restart(_: object) -> None:
        restarts.append((sim.wall_ns(), len(restarts) + 1))
        run.log("consumer", "INFO", "consumer process started")
        state["busy"] = False
        consume(None)

    sim.at(0.0, publish)
    run.every_second(
        lambda i: {
            "consumer_queue_depth": len(queue),
            "orders_messages_published_total": state["published"],
            "consumer_messages_processed_total": state["processed"],
        }
    )
    run.finish(Scenario.SILENT_FAILURE, defended, "silent_failure", "consumer")
    if out is not None:
        write_restart_events(out, "consumer", restarts)
    return ScenarioResult(
        Scenario.SILENT_FAILURE, defended, state["lost"] > 0,
        f"messages lost without an error: {state['lost']} of {state['published']}",
        "silent_failure", "consumer",
        {k: float(v) for k, v in state.items() if k != "busy"}, out,
    )  # fmt: skip


# -- retry storm ----------------------------------------------------------------------------


def _retry_storm(defended: bool, seed: int, out: Path | None) -> ScenarioResult:
    from faultwise.lab._storm import PolicyKey, StormSpec, run_storm_sim

    key = PolicyKey.FAULTWISE_FULL if defended else PolicyKey.IMMEDIATE_RETRIES
    return storm_scenario_result(run_storm_sim(StormSpec(), key, seed=seed, out=out), out)


def storm_scenario_result(result: StormResult, out: Path | None) -> ScenarioResult:
    """A retry-storm run (sim or live) as a scenario result: the outage is no recovery."""
    from faultwise.lab._storm import PolicyKey

    s = result.summary
    recovery = "never" if s.recovery_s is None else f"{s.recovery_s:.0f} s"
    metrics = {
        "goodput_during": round(s.goodput_during, 3),
        "goodput_after": round(s.goodput_after, 3),
        "attempts_per_request": round(s.attempts_per_request, 3),
        "p99_s": round(s.p99_s, 4),
    }
    if s.recovery_s is not None:
        metrics["recovery_s"] = s.recovery_s
    return ScenarioResult(
        Scenario.RETRY_STORM, result.policy is PolicyKey.FAULTWISE_FULL, s.recovery_s is None,
        f"recovery after the trigger: {recovery}; goodput in the last 10 s "
        f"{s.goodput_after:.0%}; {s.attempts_per_request:.2f} attempts per request",
        "retry_storm", "backend", metrics, out,
    )  # fmt: skip


SCENARIOS: dict[Scenario, Callable[[bool, int, Path | None], ScenarioResult]] = {
    Scenario.RETRY_STORM: _retry_storm,
    Scenario.CASCADING_FAILURE: _cascading,
    Scenario.POOL_EXHAUSTION: _pool_exhaustion,
    Scenario.CONFIG_DRIFT: _config_drift,
    Scenario.DEADLOCK: _deadlock,
    Scenario.RACE: _race,
    Scenario.SILENT_FAILURE: _silent_failure,
}


SUMMARIES = {
    Scenario.RETRY_STORM: "a 10 s slowdown that 3 immediate retries turn into an outage that stays",
    Scenario.CASCADING_FAILURE: "a slow database through orders takes down the whole gateway",
    Scenario.POOL_EXHAUSTION: "a connection leaked on an error path drains the pool",
    Scenario.CONFIG_DRIFT: "one of three instances runs with a database pool of 2, not 20",
    Scenario.DEADLOCK: "a row lock held across a call to a service that needs the same row",
    Scenario.RACE: "read-modify-write of stock under concurrency loses updates",
    Scenario.SILENT_FAILURE: "a consumer acks before processing, crashes midway, loses messages",
}


def run_scenario_sim(
    scenario: Scenario, *, defended: bool, seed: int = 1, out: Path | None = None
) -> ScenarioResult:
    """Run one scenario in virtual time; telemetry and ``truth.json`` go to ``out``."""
    return SCENARIOS[scenario](defended, seed, out)

"""The scenarios live: the same outages as in the simulation, with real processes.

Every run starts its own data tier (the built-in one, or a table in the PostgreSQL given with
``--postgres``), its services and, where the fault is on the network, the fault proxy; drives
open-loop load; applies the fault on a timeline; and writes what the services wrote (JSON
logs, spans, scraped metrics, configuration files) and ``truth.json`` under ``out``.
Durations scale with ``LiveOptions.duration``; rates and fault sizes are chosen so that the
outage happens at any length (a leak is sized to drain the pool a third of the way in).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from faultwise.lab._live import Edge, LiveOptions, LiveRun, get_json, proxy_api
from faultwise.lab._scenarios import Scenario, ScenarioResult
from faultwise.lab._sim import Recorder
from faultwise.lab._telemetry import payments_config, steady_state, write_config, write_truth

__all__ = ["LIVE_SCENARIOS", "run_scenario_live"]


def _share(rec: Recorder | None, start: float, end: float) -> float:
    """The share of requests arriving in ``[start, end)`` s that succeeded."""
    if rec is None:
        return 1.0
    a, b = int(start), int(end)
    offered = sum(rec.offered[a:b])
    return sum(rec.ok_by_arrival[a:b]) / offered if offered else 1.0


@contextmanager
def _telemetry_dir(out: Path | None) -> Iterator[Path]:
    """``out``, or a directory that lives for the run (some results are read from logs)."""
    if out is not None:
        yield out
        return
    with tempfile.TemporaryDirectory(prefix="faultwise-lab-") as tmp:
        yield Path(tmp)


def _result(  # noqa: PLR0917
    scenario: Scenario,
    defended: bool,
    outage: bool,
    headline: str,
    pattern: str,
    component: str,
    metrics: dict[str, float],
    run: LiveRun,
    out: Path | None,
    steady_s: float | None = None,
) -> ScenarioResult:
    if out is not None:
        extra = {"steady_state": steady_state(run.wall_t0_ns, steady_s)} if (
            steady_s is not None
        ) else {}  # fmt: skip
        write_truth(
            out, pattern, component, scenario=scenario.value, defended=defended, mode="live",
            notes=run.notes, **extra,
        )  # fmt: skip
    return ScenarioResult(
        scenario, defended, outage, headline, pattern, component, metrics, out, tuple(run.notes)
    )


# -- cascading failure --------------------------------------------------------------------


def _cascading(defended: bool, seed: int, out: Path | None, opts: LiveOptions) -> ScenarioResult:
    """users -> gateway -> orders -> (fault proxy) -> database. The database's answers take
    a second longer for the middle 40 % of the run. Without timeouts, orders' connections and
    workers wait on it, the gateway's workers wait on orders, and the catalog, which needs
    neither, stops being served. Defended: timeouts, breakers and a short pool wait."""
    duration = opts.duration or 30.0
    fault_at, fault_end = 0.3 * duration, 0.7 * duration
    with LiveRun(out, seed=seed, options=opts) as run:
        db = run.database({})
        proxied, api = run.proxy("db", db["url"])
        orders = run.start(
            "orders", "orders", workers=32, db={**db, "url": proxied}, pool_size=10,
            pool_timeout=0.2 if defended else 30.0, db_timeout=0.25 if defended else None,
        )  # fmt: skip
        gateway = run.start(
            "gateway", "gateway", workers=32, peers={"orders": orders},
            call_timeout=0.5 if defended else None,
        )  # fmt: skip
        catalog = Edge("catalog", [gateway], "/catalog", 40.0, 2.0)
        shop = Edge("orders", [gateway], "/orders/1", 40.0, 2.0)
        toxic = {"name": "slow_db", "type": "latency", "stream": "downstream",
                 "attributes": {"latency": 1000, "jitter": 100}}  # fmt: skip
        run.drive(
            [catalog, shop],
            duration=duration,
            faults=[
                (fault_at, lambda: proxy_api(api, "POST", "/proxies/db/toxics", toxic)),
                (fault_end, lambda: proxy_api(api, "DELETE", "/proxies/db/toxics/slow_db")),
            ],
            sample=_stats_sampler({"orders": orders, "gateway": gateway}),
        )
        # users who arrived while the database was slow and gave up (their timeout) before it
        # recovered: a catalog request that arrives in the fault's last seconds is served
        # once the queue drains, which says nothing about the fault
        last = max(0.5 * duration + 1.0, fault_end - catalog.timeout)
        during = _share(catalog.recorder, 0.5 * duration, last)
        return _result(
            Scenario.CASCADING_FAILURE, defended, during < 0.5,
            f"catalog goodput while the database is slow: {during:.0%}",
            "cascading_failure", "db",
            {"catalog_goodput_during": round(during, 3),
             "orders_goodput_during": round(_share(shop.recorder, 0.5 * duration, last), 3)},
            run, out, steady_s=fault_at,
        )  # fmt: skip


def _stats_sampler(urls: dict[str, str]) -> Callable[[int], Any]:
    """Per-second samples of the services' worker pools and database pools."""

    async def sample(i: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, url in urls.items():
            stats = await get_json(url, "/_lab/stats")
            row[f"{name}_busy"] = stats.get("busy")
            row[f"{name}_queue_depth"] = stats.get("queue")
            pool = stats.get("pool")
            if pool:
                used = pool["pool_size"] - pool["pool_available"]
                row[f"{name}_db_client_connection_count_used"] = used
                row[f"{name}_db_client_connection_max"] = pool["pool_max"]
        return row

    return sample


# -- pool exhaustion ----------------------------------------------------------------------


def _pool_exhaustion(
    defended: bool, seed: int, out: Path | None, opts: LiveOptions
) -> ScenarioResult:
    """orders borrows a connection from a pool of 10 per request; a share of requests take
    the card-declined error path, which (undefended) never returns its connection. The share
    is sized so the pool runs dry a third of the way into the run; after that every request
    waits 1 s for a connection and fails. Defended: the connection is returned in any case."""
    duration = opts.duration or 60.0
    rate = 40.0
    decline_rate = min(10 / (rate * duration / 3), 0.5)
    with LiveRun(out, seed=seed, options=opts) as run:
        db = run.database({})
        orders = run.start(
            "orders", "orders", workers=64, db=db, pool_size=10, pool_timeout=1.0,
            decline_rate=decline_rate, defended=defended,
        )  # fmt: skip
        users = Edge("users", [orders], "/orders", rate, 3.0, method="POST")
        run.drive([users], duration=duration, sample=_stats_sampler({"orders": orders}))
        tail = _share(users.recorder, 0.75 * duration, duration)
        # a declined card is a failure users see, defended or not: count it apart
        expected = 1.0 - decline_rate
        return _result(
            Scenario.POOL_EXHAUSTION, defended, tail < 0.5 * expected,
            f"goodput in the last quarter: {tail:.0%} (cards declined: {decline_rate:.1%})",
            "pool_exhaustion", "orders",
            {"goodput_end": round(tail, 3), "decline_rate": round(decline_rate, 4)}, run, out,
        )  # fmt: skip


# -- config drift -------------------------------------------------------------------------


def _config_drift(defended: bool, seed: int, out: Path | None, opts: LiveOptions) -> ScenarioResult:
    """Three payments instances behind the gateway's round robin, each configured by its own
    file; one was deployed with a database pool of 2 instead of 20. Its payments wait for a
    connection and a third of all payments fail. Defended: the same file everywhere."""
    duration = opts.duration or 30.0
    with _telemetry_dir(out) as folder, LiveRun(out, seed=seed, options=opts) as run:
        db = run.database({})
        starts: dict[str, dict[str, Any]] = {}
        for i, size in enumerate((20, 20, 20 if defended else 2), start=1):
            instance = f"payments-{i}"
            path = write_config(
                folder / "configs" / f"{instance}.yaml", payments_config(instance, size)
            )
            starts[instance] = {"kind": "payments", "name": "payments", "workers": 64, "db": db,
                                "config_file": str(path), "work_s": 0.1}  # fmt: skip
        payments = run.start_many(starts)
        gateway = run.start("gateway", "gateway", workers=128, peers=payments, call_timeout=2.0)
        users = Edge("users", [gateway], "/pay", 120.0, 3.0)
        run.drive([users], duration=duration, sample=_stats_sampler(payments))
        goodput = _share(users.recorder, 2, duration)
        return _result(
            Scenario.CONFIG_DRIFT, defended, goodput < 0.9, f"payments goodput: {goodput:.0%}",
            "config_drift", "payments", {"goodput": round(goodput, 3)}, run, out,
        )  # fmt: skip


# -- deadlock -----------------------------------------------------------------------------


def _deadlock(defended: bool, seed: int, out: Path | None, opts: LiveOptions) -> ScenarioResult:
    """orders locks the item's stock row and, inside the transaction, calls pricing, which
    updates the same row: pricing waits for orders' lock, orders waits for pricing until its
    call times out (2 s) and rolls back. Every order of that item queues behind the row.
    Defended: call pricing first, then a short transaction."""
    duration = opts.duration or 20.0
    with LiveRun(out, seed=seed, options=opts) as run:
        db = run.database({"stock:sku-42": 1_000_000})
        pricing = run.start("pricing", "pricing", workers=32, db=db, pool_size=10)
        orders = run.start(
            "orders", "orders", workers=32, db=db, pool_size=10, pool_timeout=5.0,
            peers={"pricing": pricing}, pricing_timeout=2.0, defended=defended,
        )  # fmt: skip
        users = Edge("users", [orders], "/orders/sku-42/reserve", 10.0, 4.0, method="POST")
        run.drive([users], duration=duration, drain=4.0,
                  sample=_stats_sampler({"orders": orders, "pricing": pricing}))  # fmt: skip
        goodput = _share(users.recorder, 1, duration)
        return _result(
            Scenario.DEADLOCK, defended, goodput < 0.5, f"order goodput: {goodput:.0%}",
            "deadlock", "orders", {"goodput": round(goodput, 3)}, run, out,
        )  # fmt: skip


# -- race ---------------------------------------------------------------------------------


def _race(defended: bool, seed: int, out: Path | None, opts: LiveOptions) -> ScenarioResult:
    """Two inventory instances take one unit of stock per request; undefended each reads the
    stock, works 10 ms and writes back what it read minus one, so concurrent requests lose
    updates: more units are sold than the stock went down. Defended: one conditional update."""
    duration = opts.duration or 10.0
    initial = 100_000
    with LiveRun(out, seed=seed, options=opts) as run:
        db = run.database({"stock:sku-7": initial})
        inventory = run.start_many(
            {
                f"inventory-{i}": {
                    "kind": "inventory",
                    "name": "inventory",
                    "workers": 16,
                    "db": db,
                    "defended": defended,
                }
                for i in (1, 2)
            }
        )
        users = Edge("users", list(inventory.values()), "/reserve/sku-7", 100.0, 2.0, method="POST")
        run.drive([users], duration=duration)
        final = run.read_row(db, "stock:sku-7") or 0
        sold = sum(users.recorder.ok) if users.recorder else 0
        oversold = sold - (initial - final)
        return _result(
            Scenario.RACE, defended, oversold > 0,
            f"units sold beyond the stock decrease (lost updates): {oversold}",
            "race_condition", "inventory",
            {"sold": sold, "stock_decrease": initial - final, "oversold": oversold}, run, out,
        )  # fmt: skip


# -- silent failure -----------------------------------------------------------------------

_MESSAGE_ID = re.compile(rb'"message":"(published|processed) order\.created message_id=(\d+)"')


def _message_ids(logs: Path, service: str, what: bytes) -> set[int]:
    ids: set[int] = set()
    for path in sorted(logs.glob(f"{service}*.jsonl")):
        for match in _MESSAGE_ID.finditer(path.read_bytes()):
            if match.group(1) == what:
                ids.add(int(match.group(2)))
    return ids


def _drain(run: LiveRun, queue: dict[str, str], *, limit: float = 20.0) -> None:
    """Wait (at most ``limit`` s) until the consumer is up and the queue has stayed empty
    for a second: every message still deliverable has been delivered."""
    started = time.monotonic()
    empty_since: float | None = None
    while time.monotonic() - started < limit:
        if run.services["consumer"].process.poll() is not None:
            run.revive("consumer")
        if run.queue_depth(queue) == 0:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since >= 1.0:
                return
        else:
            empty_since = None
        time.sleep(0.25)
    run.notes.append(f"the queue was not empty {limit:.0f} s after the load ended")


def _silent_failure(
    defended: bool, seed: int, out: Path | None, opts: LiveOptions
) -> ScenarioResult:
    """orders publishes ``order.created``; a consumer acks each message on receipt
    (undefended) and dies midway through 3 % of them (the lab restarts it, as an orchestrator
    would). An acked message whose consumer died is gone, and nothing logs an error.
    Defended: ack after the work; the broker redelivers what a dead consumer held."""
    duration = opts.duration or 20.0
    with _telemetry_dir(out) as folder, LiveRun(folder, seed=seed, options=opts) as run:
        queue = run.queue()
        orders = run.start("orders", "orders", workers=16, db=run.database({}), queue=queue)
        run.start("consumer", "consumer", queue=queue, defended=defended, crash_rate=0.03,
                  work_s=0.01)  # fmt: skip
        run.supervised.add("consumer")
        users = Edge("users", [orders], "/orders/publish", 10.0, 2.0, method="POST")
        run.drive([users], duration=duration)
        _drain(run, queue)
        published = _message_ids(folder / "logs", "orders", b"published")
        processed = _message_ids(folder / "logs", "consumer", b"processed")
        lost = len(published - processed)
        restarts = run.restarts.get("consumer", 0)
        return _result(
            Scenario.SILENT_FAILURE, defended, lost > 0,
            f"messages lost without an error: {lost} of {len(published)} "
            f"(consumer restarts: {restarts})",
            "silent_failure", "consumer",
            {"published": len(published), "processed": len(processed), "lost": lost,
             "restarts": restarts}, run, out,
        )  # fmt: skip


# -- retry storm --------------------------------------------------------------------------


def _retry_storm(defended: bool, seed: int, out: Path | None, opts: LiveOptions) -> ScenarioResult:
    from faultwise.lab._demo import DEMO_SPEC
    from faultwise.lab._live_storm import run_storm_live
    from faultwise.lab._scenarios import storm_scenario_result
    from faultwise.lab._storm import PolicyKey

    spec = DEMO_SPEC.scaled(opts.duration / DEMO_SPEC.duration) if opts.duration else DEMO_SPEC
    key = PolicyKey.FAULTWISE_FULL if defended else PolicyKey.IMMEDIATE_RETRIES
    return storm_scenario_result(run_storm_live(spec, key, seed=seed, out=out), out)


LIVE_SCENARIOS: dict[Scenario, Callable[[bool, int, Path | None, LiveOptions], ScenarioResult]] = {
    Scenario.RETRY_STORM: _retry_storm,
    Scenario.CASCADING_FAILURE: _cascading,
    Scenario.POOL_EXHAUSTION: _pool_exhaustion,
    Scenario.CONFIG_DRIFT: _config_drift,
    Scenario.DEADLOCK: _deadlock,
    Scenario.RACE: _race,
    Scenario.SILENT_FAILURE: _silent_failure,
}


def run_scenario_live(
    scenario: Scenario,
    *,
    defended: bool,
    seed: int = 1,
    out: Path | None = None,
    options: LiveOptions | None = None,
) -> ScenarioResult:
    """Run one scenario with real processes on 127.0.0.1; telemetry and truth to ``out``."""
    return LIVE_SCENARIOS[scenario](defended, seed, out, options or LiveOptions())

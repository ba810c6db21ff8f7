from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tests.conftest import system_tool

from faultwise.observe import (
    AsyncObservedTransport,
    ObserveMiddleware,
    PoolWatch,
    ResilienceListener,
)
from faultwise.resilience import BreakerStateChanged, CircuitState, RetryScheduled

WORKER = textwrap.dedent(
    """
    import os, sys
    from werkzeug.test import Client
    from faultwise.observe import ObserveWSGIMiddleware

    def app(environ, start_response):
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    client = Client(ObserveWSGIMiddleware(app, route=lambda environ: "/work"))
    if sys.argv[1] == "scrape":
        sys.stdout.write(client.get("/metrics").get_data(as_text=True))
    else:
        for _ in range(int(sys.argv[1])):
            client.get("/work").close()
        print(os.getpid())
    """
)


def run_worker(directory: Path, arg: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, arg],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    return proc.stdout


def series_value(page: str, prefix: str) -> float:
    (line,) = [line for line in page.splitlines() if line.startswith(prefix)]
    return float(line.rsplit(" ", 1)[1])


def test_multiprocess_mode_merges_every_worker_and_forgets_dead_ones(tmp_path: Path) -> None:
    pids = [int(run_worker(tmp_path, n)) for n in ("3", "4")]
    page = run_worker(tmp_path, "scrape")
    count = (
        "http_server_request_duration_seconds_count{"
        'http_request_method="GET",http_response_status_code="200",http_route="/work"}'
    )
    assert 7.0 == series_value(page, count)
    assert 0.0 == series_value(page, "http_server_active_requests ")
    worker_files = [tmp_path / f"gauge_livesum_{pid}.db" for pid in pids]
    assert [True, True] == [f.exists() for f in worker_files]

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    code = f"from faultwise.observe import mark_process_dead\nfor p in {pids}: mark_process_dead(p)"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert [False, False] == [f.exists() for f in worker_files]
    assert 7.0 == series_value(run_worker(tmp_path, "scrape"), count)


async def page_of_every_metric(postgres_url: str) -> str:
    from sqlalchemy import create_engine, text

    registry = CollectorRegistry()

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/items/{item_id}", item)])
    app.add_middleware(ObserveMiddleware, registry=registry)
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    PoolWatch(registry=registry).sqlalchemy(engine, name="main")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    listener = ResilienceListener(registry=registry)
    listener(RetryScheduled("payments", attempt=2, delay=0.1, error_type="OSError"))
    listener(
        BreakerStateChanged(
            "payments",
            from_state=CircuitState.CLOSED,
            to_state=CircuitState.OPEN,
            failure_rate=0.6,
            slow_call_rate=0.0,
            calls=20,
        )
    )
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    outgoing = AsyncObservedTransport(mock, registry=registry)
    async with httpx.AsyncClient(transport=outgoing) as out:
        await out.get("http://payments.internal/charge")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/items/1")
        await client.get("/missing")
        return (await client.get("/metrics")).text


@pytest.mark.integration
def test_promtool_check_metrics_on_a_scraped_page(postgres_url: str) -> None:
    page = asyncio.run(page_of_every_metric(postgres_url))
    result = subprocess.run(
        [system_tool("promtool"), "check", "metrics"],
        input=page,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # The one finding is OpenTelemetry's own name: db.client.connection.count exported in
    # Prometheus form ends in _count, which Prometheus reserves for histograms and summaries.
    # Anything else (missing help, bad units, bad names, syntax) would show up here.
    expected = (
        "db_client_connection_count non-histogram and non-summary metrics "
        'should not have "_count" suffix\n'
    )
    assert (3, expected) == (result.returncode, result.stdout + result.stderr)


def test_the_bound_observer_fills_buckets_as_histogram_observe_does() -> None:
    from prometheus_client import Histogram

    from faultwise.observe._metrics import HTTP_BUCKETS, fast_observe

    def samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
        return [
            (s.name, s.labels, s.value)
            for metric in registry.collect()
            for s in metric.samples
            if not s.name.endswith("_created")
        ]

    amounts = [0.0, 0.005, 0.0051, 0.1, 0.3, 10.0, 11.0, 0.0049]
    stock, bound = CollectorRegistry(), CollectorRegistry()
    for registry in (stock, bound):
        Histogram("d_seconds", "d", ("route",), buckets=HTTP_BUCKETS, registry=registry)
    stock_child = stock._names_to_collectors["d_seconds"].labels("/a")  # type: ignore[attr-defined]
    observe = fast_observe(bound._names_to_collectors["d_seconds"].labels("/a"))  # type: ignore[attr-defined]
    for amount in amounts:
        stock_child.observe(amount)
        observe(amount)
    assert samples(stock) == samples(bound)


def _exposition(registry: CollectorRegistry) -> list[str]:
    from prometheus_client import generate_latest

    return [
        line
        for line in generate_latest(registry).decode().splitlines()
        if "_created" not in line  # creation times differ by construction
    ]


def test_the_cell_histogram_is_exposed_exactly_as_prometheus_histogram() -> None:
    from prometheus_client import Histogram

    from faultwise.observe._metrics import HTTP_BUCKETS, CellHistogram

    labels = ("method", "route")
    stock, cells = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("d_seconds", "Durations.", labels, buckets=HTTP_BUCKETS, registry=stock)
    cell = CellHistogram("d_seconds", "Durations.", labels, HTTP_BUCKETS, cells)
    amounts = [0.0, 0.005, 0.0051, 0.1, 0.3, 10.0, 11.0, 0.0049, -1.0, 2.5]
    for method, route in [("GET", "/a"), ("POST", "/b/{id}"), ("GET", "/a")]:
        observe = cell.observer(method, route)
        for amount in amounts:
            histogram.labels(method, route).observe(amount)
            observe(amount)
    assert _exposition(stock) == _exposition(cells)
    created = [s for m in cells.collect() for s in m.samples if s.name.endswith("_created")]
    assert 2 == len(created)


def test_the_cell_histogram_leaves_out_created_series_when_prometheus_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import metrics

    from faultwise.observe._metrics import HTTP_BUCKETS, CellHistogram

    registry = CollectorRegistry()
    CellHistogram("d_seconds", "d", ("route",), HTTP_BUCKETS, registry).observer("/a")(0.1)
    monkeypatch.setattr(metrics, "_use_created", False)
    assert not [s for m in registry.collect() for s in m.samples if "_created" in s.name]


def test_the_cell_histogram_counts_every_observation_of_concurrent_threads() -> None:
    import threading

    from faultwise.observe._metrics import HTTP_BUCKETS, CellHistogram

    registry = CollectorRegistry()
    observe = CellHistogram("d_seconds", "d", ("route",), HTTP_BUCKETS, registry).observer("/a")
    start = threading.Barrier(8)

    def work() -> None:
        start.wait(timeout=10)
        for i in range(20_000):
            observe(0.002 if i % 2 else 0.2)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    value = registry.get_sample_value
    assert 160_000 == value("d_seconds_count", {"route": "/a"})
    assert 80_000 == value("d_seconds_bucket", {"route": "/a", "le": "0.005"})
    assert 160_000 == value("d_seconds_bucket", {"route": "/a", "le": "0.25"})
    assert pytest.approx(80_000 * 0.202) == value("d_seconds_sum", {"route": "/a"})


def test_the_cells_of_ended_threads_are_folded_and_still_counted() -> None:
    import threading

    from faultwise.observe._metrics import HTTP_BUCKETS, CellHistogram

    registry = CollectorRegistry()
    histogram = CellHistogram("d_seconds", "d", ("route",), HTTP_BUCKETS, registry)
    observe = histogram.observer("/a")
    for _ in range(200):  # a thread per request, as some servers run
        thread = threading.Thread(target=observe, args=(0.01,))
        thread.start()
        thread.join(timeout=10)
    assert 200 == registry.get_sample_value("d_seconds_count", {"route": "/a"})
    (child,) = histogram._children.values()
    assert len(child._live) <= 16

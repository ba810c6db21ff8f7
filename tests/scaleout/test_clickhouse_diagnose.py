"""The analyser on ClickHouse (in-process through chDB) gives the DuckDB path's diagnosis on
every golden incident, read from the OpenTelemetry Collector exporter's tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.diagnose.conftest import golden_incident
from tests.diagnose.incidents import GOLDEN

from faultwise.diagnose import Window, diagnose, load_incident, split_inputs, to_json
from faultwise.diagnose._clickhouse import ChdbConnection, open_clickhouse
from faultwise.diagnose._sql import CLICKHOUSE, DUCKDB
from faultwise.lab._diagnose import telemetry_paths
from faultwise.lab._scenarios import Scenario, run_scenario_sim
from faultwise.telemetry import Store

from .otel_clickhouse import export

chdb_session = pytest.importorskip("chdb.session")

COMPARED = ("root_cause", "ranking", "findings", "timeline")


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("golden")


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One chDB server for the module (chDB allows one data directory per process)."""
    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    yield session
    session.close()


def data_range(store: Store) -> tuple[int, int]:
    lo, hi = store.query(
        "SELECT min(lo), max(hi) FROM ("
        "SELECT min(ts_ns) AS lo, max(ts_ns) AS hi FROM logs UNION ALL "
        "SELECT min(start_ns), max(end_ns) FROM spans UNION ALL "
        "SELECT min(ts_ns), max(ts_ns) FROM samples UNION ALL "
        "SELECT min(ts_ns), max(ts_ns) FROM changes) r"
    )[0]
    return int(lo), int(hi) + 1


def rounded(value: Any) -> Any:
    """Floats to 9 significant digits: the engines sum in different orders, so the last bits
    of a mean or a ratio may differ; every other value must be equal."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    inputs = doc["inputs"]
    return rounded(
        {
            **{k: doc[k] for k in COMPARED},
            "inputs": {k: inputs[k] for k in ("rows", "services", "window")},
        }
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_clickhouse_and_duckdb_give_the_same_diagnosis(
    golden_root: Path, clickhouse: Any, name: str
) -> None:
    folder, expected = golden_incident(golden_root, name)
    with load_incident([str(folder)]) as store:
        on_duckdb = to_json(diagnose(store))
        export(store, clickhouse, database=name)
        since, until = data_range(store)
    _, configs = split_inputs([str(folder)])
    connection = ChdbConnection(clickhouse, database=name)
    with open_clickhouse(connection, since=since, until=until, configs=configs) as store:
        on_clickhouse = to_json(diagnose(store, dialect=CLICKHOUSE))
    assert comparable(on_duckdb) == comparable(on_clickhouse)
    assert (expected.component, expected.pattern) == (
        on_clickhouse["root_cause"]["component"],
        on_clickhouse["root_cause"]["pattern"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_clickhouse_and_duckdb_agree_on_the_labs_outages(
    tmp_path: Path, clickhouse: Any, scenario: Scenario
) -> None:
    """The lab's telemetry exercises detectors the golden incidents reach with empty results
    (repeated counter values, unfinished acknowledgements, lock waits, drifted instances)."""
    run_scenario_sim(scenario, defended=False, seed=1, out=tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    steady = truth.get("steady_state")  # the window the lab's own diagnosis takes as baseline
    baseline = Window(int(steady["start_ns"]), int(steady["end_ns"])) if steady else None
    paths = telemetry_paths(tmp_path)
    database = f"lab_{scenario.value.replace('-', '_')}"
    with load_incident(paths) as store:
        on_duckdb = to_json(diagnose(store, baseline=baseline))
        export(store, clickhouse, database=database)
        since, until = data_range(store)
    _, configs = split_inputs(paths)
    connection = ChdbConnection(clickhouse, database=database)
    with open_clickhouse(connection, since=since, until=until, configs=configs) as store:
        on_clickhouse = to_json(diagnose(store, baseline=baseline, dialect=CLICKHOUSE))
    assert comparable(on_duckdb) == comparable(on_clickhouse)
    assert (truth["component"], truth["pattern"]) == (
        on_clickhouse["root_cause"]["component"],
        on_clickhouse["root_cause"]["pattern"],
    )


@pytest.mark.parametrize("name", ["deadlock", "race_condition", "error_burst"])
def test_logs_without_file_lines_are_diagnosed_on_clickhouse(
    golden_root: Path, clickhouse: Any, name: str
) -> None:
    """Logs sent by an OpenTelemetry SDK name no file:line; evidence then cites none."""
    folder, expected = golden_incident(golden_root, name)
    database = f"nolines_{name}"
    with load_incident([str(folder)]) as store:
        export(store, clickhouse, database=database, file_lines=False)
        since, until = data_range(store)
    _, configs = split_inputs([str(folder)])
    connection = ChdbConnection(clickhouse, database=database)
    with open_clickhouse(connection, since=since, until=until, configs=configs) as store:
        doc = to_json(diagnose(store, dialect=CLICKHOUSE))
    assert (expected.component, expected.pattern) == (
        doc["root_cause"]["component"],
        doc["root_cause"]["pattern"],
    )
    assert all(
        e.get("source") is None
        for f in doc["findings"]
        for e in f["evidence"]
        if e["kind"] == "log"
    )


def test_clickhouse_percentiles_interpolate_as_duckdb_does(clickhouse: Any) -> None:
    """p50/p95/p99 over 20,000 latencies (more than ClickHouse's sampling ``quantile`` keeps):
    the same numbers on both engines."""
    levels = (0.5, 0.95, 0.99)
    latency = "((n * 7919) % 10007) / 1000.0"
    on_clickhouse = clickhouse.query(
        f"SELECT {', '.join(CLICKHOUSE.quantile('x', q) for q in levels)} "
        f"FROM (SELECT {latency} AS x FROM (SELECT number AS n FROM numbers(20000)))",
        "CSV",
    )
    with Store() as store:
        on_duckdb = store.query(
            f"SELECT {', '.join(DUCKDB.quantile('x', q) for q in levels)} "
            f"FROM (SELECT {latency} AS x FROM range(20000) t(n))"
        )[0]
    assert [round(v, 9) for v in on_duckdb] == [
        round(float(v), 9) for v in str(on_clickhouse).strip().split(",")
    ]

"""Root-cause accuracy and speed of ``faultwise diagnose``, side by side with naive rankers.

    python bench/diagnose.py                # Train Ticket, golden incidents, 1 M logs + 1 M spans
    python bench/diagnose.py --quick        # 100 k + 100 k rows, no Train Ticket without baseline
    python bench/diagnose.py --json out.json

Accuracy: AC@k is the share of cases whose true root-cause component is among the first k of
the ranking; Avg@5 is the mean of AC@1..AC@5 (RCAEval's definition). Cases: the three
complete Train Ticket cases of the Nezha data set (``../shared/data/nezha-trainticket``; its
fault-free minute as baseline, and also without one) and the golden incidents of
``tests/diagnose/incidents.py`` (one per failure pattern, also scored on the pattern).
Two naive rankers run on the same stores for comparison: "most errors" (error log lines and
failed spans per service) and "largest slowdown" (p95 of a service's spans against the
baseline). Speed: an incident of N log lines and N spans written as JSON lines and a CSV
span table, timed from files to diagnosis (ingest and diagnosis separately).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from faultwise.diagnose import diagnose, load_incident
from faultwise.telemetry import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data" / "nezha-trainticket").resolve()
Ranker = Callable[[Store, Store | None], list[str]]


def _incidents() -> ModuleType:
    path = ROOT / "tests" / "diagnose" / "incidents.py"
    spec = importlib.util.spec_from_file_location("golden_incidents", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- rankers ----------------------------------------------------------------------------------


def faultwise_ranker(store: Store, baseline: Store | None) -> list[str]:
    return [r.component for r in diagnose(store, baseline=baseline).ranking]


def most_errors(store: Store, baseline: Store | None) -> list[str]:
    rows = store.query(
        "SELECT service, sum(n) FROM ("
        "SELECT service, count(*) AS n FROM logs WHERE severity >= 17 GROUP BY 1 UNION ALL "
        "SELECT service, count(*) FROM spans WHERE status = 2 GROUP BY 1) e "
        "WHERE service IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    return [r[0] for r in rows]


def largest_slowdown(store: Store, baseline: Store | None) -> list[str]:
    sql = (
        "SELECT service, quantile_cont(end_ns - start_ns, 0.95) FROM spans "
        "WHERE service IS NOT NULL GROUP BY 1"
    )
    now = dict(store.query(sql))
    before = dict(baseline.query(sql)) if baseline is not None else {}
    if not before:  # no baseline: compare with the first quarter of the incident's own spans
        lo, hi = store.query("SELECT min(start_ns), max(start_ns) FROM spans")[0]
        if lo is None:
            return []
        cut = lo + (hi - lo) // 4
        before = dict(store.query(sql.replace("WHERE", f"WHERE start_ns < {cut} AND")))
    ratio = {s: v / before[s] for s, v in now.items() if before.get(s)}
    return sorted(ratio, key=lambda s: -ratio[s])


RANKERS: dict[str, Ranker] = {
    "faultwise": faultwise_ranker,
    "most errors": most_errors,
    "largest slowdown": largest_slowdown,
}


def scores(ranks: Sequence[int | None]) -> dict[str, float]:
    """AC@1, AC@3, Avg@5 from the 1-based rank of the right answer in each case."""

    def ac(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)

    return {"AC@1": ac(1), "AC@3": ac(3), "Avg@5": statistics.mean(ac(k) for k in range(1, 6))}


def _rank(ranking: list[str], answer: str) -> int | None:
    return ranking.index(answer) + 1 if answer in ranking else None


# -- Train Ticket -----------------------------------------------------------------------------


def train_ticket(with_baseline: bool) -> dict[str, Any]:
    cases = json.loads((DATA / "CASES.json").read_text())
    normal_dir = DATA / "construct_data" / "2023-01-29"
    normal = load_incident([str(normal_dir / "log"), str(normal_dir / "trace")])
    ranks: dict[str, list[int | None]] = {name: [] for name in RANKERS}
    details = []
    try:
        for case in cases:
            files = [str(DATA / f) for f in case["minute_files"] if "/traceid/" not in f]
            answer = case["inject_pod"].rsplit("-", 2)[0]
            with load_incident(files) as store:
                for name, ranker in RANKERS.items():
                    ranking = ranker(store, normal if with_baseline else None)
                    ranks[name].append(_rank(ranking, answer))
            details.append(
                {"case": f"{answer} {case['inject_type']}", "rank": ranks["faultwise"][-1]}
            )
    finally:
        normal.close()
    return {"scores": {n: scores(r) for n, r in ranks.items()}, "cases": details}


# -- golden incidents -------------------------------------------------------------------------


def golden(seeds: Sequence[int | None]) -> dict[str, Any]:
    """Every golden incident once per seed (None: the seed the tests use)."""
    incidents = _incidents()
    ranks: dict[str, list[int | None]] = {name: [] for name in RANKERS}
    patterns = []
    with tempfile.TemporaryDirectory(prefix="faultwise-golden-") as tmp:
        for seed, (name, make) in itertools.product(seeds, incidents.GOLDEN.items()):
            folder = Path(tmp) / f"{name}-{seed}"
            expected = make(folder) if seed is None else make(folder, seed=seed)
            with load_incident([str(folder)]) as store:
                result = diagnose(store)
                for ranker_name, ranker in RANKERS.items():
                    ranking = (
                        [r.component for r in result.ranking]
                        if ranker_name == "faultwise"
                        else ranker(store, None)
                    )
                    ranks[ranker_name].append(_rank(ranking, expected.component))
            cause = result.root_cause
            patterns.append(
                {
                    "incident": name,
                    "seed": seed,
                    "rank": ranks["faultwise"][-1],
                    "pattern": cause.pattern.value if cause else None,
                    "right": bool(
                        cause
                        and cause.component == expected.component
                        and cause.pattern.value == expected.pattern
                    ),
                }
            )
    right = sum(1 for p in patterns if p["right"]) / len(patterns)
    return {
        "scores": {n: scores(r) for n, r in ranks.items()},
        "component_and_pattern_at_1": right,
        "cases": patterns,
    }


# -- speed ------------------------------------------------------------------------------------

_SERVICES = [
    "frontend",
    "checkout",
    "payments",
    "inventory",
    "catalog",
    "shipping",
    "users",
    "search",
]


def write_big_incident(folder: Path, rows: int) -> None:
    """``rows`` JSON log lines and ``rows`` spans over one hour, with payments failing and
    slowing down in the last 20 minutes; written by DuckDB (fast, and not what is timed)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    services = "['" + "', '".join(_SERVICES) + "']"
    start = 1_772_614_800 * 10**9
    hour = 3600 * 10**9
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""
COPY (
  SELECT strftime(make_timestamp(CAST(({start} + i * {hour} // {rows}) / 1000 AS BIGINT)),
                  '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp,
         CASE WHEN svc = 'payments' AND i > {rows} * 2 // 3 AND i % 7 = 0 THEN 'ERROR'
              ELSE 'INFO' END AS level,
         CASE WHEN svc = 'payments' AND i > {rows} * 2 // 3 AND i % 7 = 0
              THEN 'charge failed: card processor timeout after ' || (i % 900 + 100) || ' ms'
              ELSE 'request ' || (i % 5000) || ' completed status=200 in ' || (i % 40) || ' ms'
         END AS message,
         svc AS service, lpad(printf('%x', i // 4 + 1), 32, '0') AS trace_id
  FROM (SELECT i, {services}[1 + i % {len(_SERVICES)}] AS svc FROM range({rows}) r(i))
) TO '{folder / "logs.jsonl"}' (FORMAT JSON)"""
    )
    con.execute(
        f"""
COPY (
  SELECT lpad(printf('%x', i // 4 + 1), 32, '0') AS trace_id,
         lpad(printf('%x', i + 1), 16, '0') AS span_id,
         CASE WHEN i % 4 = 0 THEN '' ELSE lpad(printf('%x', i - i % 4 + 1), 16, '0') END
         AS parent_span_id,
         CASE i % 4 WHEN 0 THEN 'frontend' WHEN 1 THEN 'checkout' WHEN 2 THEN 'payments'
              ELSE 'inventory' END AS service_name,
         'op' || (i % 4) AS name,
         {start} + (i - i % 4) * {hour} // {rows} + (i % 4) * 1000000 AS start_time_unix_nano,
         CASE WHEN i % 4 = 0 THEN 400.0
              WHEN i % 4 = 2 AND i > {rows} * 2 // 3 THEN 180.0 ELSE 8.0 + i % 5 END
         AS duration_ms
  FROM range({rows}) r(i)
) TO '{folder / "spans.csv"}' (HEADER)"""
    )
    con.close()


def speed(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="faultwise-big-") as tmp:
        folder = Path(tmp) / "incident"
        write_big_incident(folder, rows)
        started = time.perf_counter()
        store = load_incident([str(folder)])
        loaded = time.perf_counter()
        try:
            result = diagnose(store)
        finally:
            store.close()
        done = time.perf_counter()
    cause = result.root_cause
    return {
        "log_lines": rows,
        "spans": rows,
        "ingest_s": round(loaded - started, 2),
        "diagnose_s": round(done - loaded, 2),
        "total_s": round(done - started, 2),
        "root_cause": f"{cause.component} {cause.pattern.value}" if cause else None,
    }


# -- output -----------------------------------------------------------------------------------


def table(title: str, by_ranker: dict[str, dict[str, float]]) -> str:
    lines = [title, "| ranker | AC@1 | AC@3 | Avg@5 |", "|---|---|---|---|"]
    for name, s in by_ranker.items():
        lines.append(f"| {name} | {s['AC@1']:.2f} | {s['AC@3']:.2f} | {s['Avg@5']:.2f} |")
    return "\n".join(lines)


def accuracy(args: argparse.Namespace, results: dict[str, Any]) -> None:
    if DATA.is_dir():
        results["train_ticket_baseline"] = train_ticket(True)
        print(
            table(
                "Train Ticket (3 cases, fault-free minute as baseline)",
                results["train_ticket_baseline"]["scores"],
            )
        )
        if not args.quick:
            results["train_ticket_no_baseline"] = train_ticket(False)
            print()
            print(
                table(
                    "Train Ticket (3 cases, no baseline)",
                    results["train_ticket_no_baseline"]["scores"],
                )
            )
    else:
        print(f"Train Ticket data not found at {DATA}: skipped")
    seeds = [None] if args.quick else [None, 101, 202]
    results["golden"] = golden(seeds)
    print()
    print(
        table(
            f"Golden incidents ({len(results['golden']['cases'])}: 15 patterns × "
            f"{len(seeds)} seeds, no baseline)",
            results["golden"]["scores"],
        )
    )
    print(
        f"component and pattern right at rank 1: "
        f"{results['golden']['component_and_pattern_at_1']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 k rows; fewer Train Ticket runs")
    parser.add_argument("--rows", type=int, help="log lines and spans for the speed run")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--only", choices=["accuracy", "speed"], help="run one half of the benchmark"
    )
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    if args.only != "speed":
        accuracy(args, results)
    if args.only != "accuracy":
        rows = args.rows or (100_000 if args.quick else 1_000_000)
        results["speed"] = s = speed(rows)
        print()
        print("| log lines | spans | ingest s | diagnose s | total s | target | root cause |")
        print("|---|---|---|---|---|---|---|")
        print(
            f"| {s['log_lines']:,} | {s['spans']:,} | {s['ingest_s']} | {s['diagnose_s']} | "
            f"{s['total_s']} | < 30 s | {s['root_cause']} |"
        )
    load = os.getloadavg()[0]
    print(f"\n(load average {load:.1f} on {os.cpu_count()} cores during the run)")
    results["load_average"] = round(load, 2)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

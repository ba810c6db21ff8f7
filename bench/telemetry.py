"""Telemetry ingest, filter-by-trace-id, template mining and trace lookup, side by side.

One generated JSON-lines stream (service logs with trace ids, 1 GiB by default, in /tmp) is
read by every tool in one run:

* ingest: DuckDB's own ``read_json`` into a table (the practical limit of a bulk load) against
  ``faultwise.telemetry.load`` (every line normalised, line numbers kept, rejects counted),
  without and with template mining, and into a kept ``--db`` file (which also indexes trace
  ids);
* the same records as text in five layouts (``--text`` picks some): logback-style lines with
  a Java stack trace after every 1000th record, PostgreSQL's stderr log (one record in 19 an
  error with a ``DETAIL:``, a ``STATEMENT:`` and a continued line), Python's logging cookbook
  format (a traceback after every 1000th), RFC 3164 syslog and nginx's combined log format:
  DuckDB's ``read_csv`` of each file's lines against ``load`` of it (header parsed, stack
  traces and PostgreSQL's field lines joined to their record), wall and CPU seconds;
* filter by trace id: ``grep -F`` (a floor), ``jq``, ``lnav`` (headless), DuckDB ``read_json``
  with a WHERE, and ``faultwise trace`` end to end (read everything, then answer);
* template mining on the same messages: Drain3 (``TemplateMiner.add_log_message`` per line)
  against faultwise (masks in DuckDB, grouping of the distinct shapes in Python);
* ``faultwise trace ID --db FILE`` on a kept store of 10 million log lines (the stream's rows
  plus copies under new trace ids until there are 10 M).

Wall-clock seconds (DuckDB and the peers use several threads or processes), the fastest of
three rounds in which every case of a group runs once (``--runs N``); command-line tools run
as installed tools do (bytecode cached). The text cases also give the CPU seconds of the
process (every DuckDB thread). The machine's load average is printed with the results: on a
shared machine, compare the ratios, not the seconds.

    python bench/telemetry.py            # 1 GiB stream; generating it takes a few minutes once
    python bench/telemetry.py --quick    # 40 MB, 1 M-row store: a minute while developing
    python bench/telemetry.py --json
    python bench/telemetry.py --size-mb 200 --only-text --text logback postgres --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from faultwise.telemetry import Store, load
from faultwise.telemetry._templates import assign_templates

WORK = Path("/tmp/faultwise-bench")
SERVICES = ("checkout", "payments", "inventory", "gateway", "auth", "orders", "search", "cart")
MESSAGES = (
    "order {o} placed by user {u} total {a} EUR",
    "payment {o} authorised in {ms}ms",
    "cache miss for key user:{u}:profile",
    "GET /api/orders/{o} 200 {ms}ms",
    "connection pool at {p}% (used {n} of 50)",
    "retrying call to inventory after {ms}ms (attempt {k})",
    "upstream inventory timed out after {ms}ms",
    "user {u} logged in from 10.{a}.{k}.{n}",
    "slow query on orders took {ms}ms rows={n}",
    "circuit breaker for payments opened after {k} failures",
)
LEVELS = ("info",) * 12 + ("debug",) * 4 + ("warn",) * 2 + ("error",)


def generate(path: Path, size: int, seed: int = 7) -> int:
    """Write about ``size`` bytes of JSON-lines logs; returns the number of lines."""
    rnd = random.Random(seed)
    t0 = 1_767_225_600_000_000_000
    lines = 0
    written = 0
    with path.open("w") as out:
        while written < size:
            batch = []
            for _ in range(2000):
                trace = f"{rnd.getrandbits(128):032x}"
                for _ in range(rnd.randint(2, 6)):
                    lines += 1
                    ts = t0 + lines * 1_000_003
                    message = rnd.choice(MESSAGES).format(
                        o=rnd.randint(1, 10**6), u=rnd.randint(1, 10**5), a=rnd.randint(1, 255),
                        ms=rnd.randint(1, 3000), p=rnd.randint(1, 100), n=rnd.randint(1, 50),
                        k=rnd.randint(1, 5),
                    )  # fmt: skip
                    secs, frac = divmod(ts, 10**9)
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
                    batch.append(
                        f'{{"timestamp":"{stamp}.{frac:09d}Z","level":"{rnd.choice(LEVELS)}",'
                        f'"service":"{rnd.choice(SERVICES)}","message":"{message}",'
                        f'"trace_id":"{trace}","span_id":"{rnd.getrandbits(64):016x}",'
                        f'"thread":"worker-{rnd.randint(1, 16)}"}}\n'
                    )
            chunk = "".join(batch)
            out.write(chunk)
            written += len(chunk)
    return lines


def best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result: Any = None
    fastest = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest, result


def best_of_rounds(cases: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Each case once per round, ``runs`` rounds, the fastest of each: on a shared machine a
    busy minute then slows every case alike instead of the one that ran in it."""
    fastest = dict.fromkeys(cases, float("inf"))
    for _ in range(runs):
        for name, fn in cases.items():
            fastest[name] = min(fastest[name], best(fn, 1)[0])
    return fastest


# Commands run as an installed tool runs: with compiled bytecode cached (kept in /tmp, not in
# the source tree), whatever PYTHONDONTWRITEBYTECODE the calling shell sets.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")


def run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, check=True, capture_output=True, env=ENV)


def ingest_cases(path: Path, runs: int) -> dict[str, float]:
    def raw() -> None:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # as the store sets it
        con.execute("CREATE TABLE t AS SELECT * FROM read_json(?)", [str(path)])
        con.close()

    def faultwise(templates: bool, kept: bool = False) -> Callable[[], None]:
        def go() -> None:
            db = WORK / "ingest.duckdb"
            db.unlink(missing_ok=True)
            load([path], templates=templates, db=db if kept else None).close()
            db.unlink(missing_ok=True)

        return go

    cases = {
        "duckdb read_json into a table": raw,
        "faultwise load (no templates)": faultwise(False),
        "faultwise load (with templates)": faultwise(True),
        "faultwise load --db (+ index)": faultwise(False, kept=True),
    }
    return best_of_rounds(cases, runs)


_TS = "strftime(CAST(timestamp AS TIMESTAMP), '%Y-%m-%d %H:%M:%S{frac}')"
_NL = "chr(10)"
# Each layout's line (a SQL expression over the stream's columns and ``i``, the record's
# number), as its logger writes it.
TEXT_LAYOUTS = {
    "logback": (
        f"{_TS.format(frac=',%g')} || ' ' || upper(level) || ' [' || thread || '] com.acme.' "
        f"|| service || ': ' || message || CASE WHEN i % 1000 = 0 THEN {_NL} || "
        f"'java.lang.IllegalStateException: pool closed' || {_NL} || "
        "chr(9) || 'at com.acme.Pool.get(Pool.java:42)' ELSE '' END"
    ),
    "postgres": (
        f"{_TS.format(frac='.%g')} || ' UTC [' || (1000 + i % 50) || '] app@orders ' || "
        "CASE WHEN i % 19 = 0 THEN 'ERROR' WHEN level = 'warn' THEN 'WARNING' "
        "WHEN level = 'debug' THEN 'DEBUG1' ELSE 'LOG' END || ':  ' || message || "
        f"CASE WHEN i % 19 = 0 THEN {_NL} || {_TS.format(frac='.%g')} || ' UTC [' || "
        "(1000 + i % 50) || '] app@orders DETAIL:  Key (id)=(42) already exists.' || "
        f"{_NL} || {_TS.format(frac='.%g')} || ' UTC [' || (1000 + i % 50) || '] app@orders "
        f"STATEMENT:  SELECT *' || {_NL} || chr(9) || '  FROM orders' ELSE '' END"
    ),
    "python": (
        f"{_TS.format(frac=',%g')} || ' - ' || service || ' - ' || upper(level) || ' - ' || "
        f"message || CASE WHEN i % 1000 = 0 THEN {_NL} || 'Traceback (most recent call last):'"
        f" || {_NL} || '  File \"app.py\", line 3, in pay' || {_NL} || "
        "'ValueError: bad amount' ELSE '' END"
    ),
    "syslog": (
        "strftime(CAST(timestamp AS TIMESTAMP), '%b ') || "
        "lpad(strftime(CAST(timestamp AS TIMESTAMP), '%-d'), 2, ' ') || "
        "strftime(CAST(timestamp AS TIMESTAMP), ' %H:%M:%S') || ' web-1 ' || service || '[' || "
        "(1000 + i % 50) || ']: ' || message"
    ),
    "nginx": (
        "'10.0.' || (i % 7) || '.' || (i % 250) || ' - - [' || "
        "strftime(CAST(timestamp AS TIMESTAMP), '%d/%b/%Y:%H:%M:%S') || ' +0000] \"GET /api/' "
        "|| service || '/' || i || ' HTTP/1.1\" ' || CASE WHEN level = 'error' THEN 503 "
        'ELSE 200 END || \' 512 "-" "curl/8.5"\''
    ),
}


def text_log(path: Path, layout: str) -> Path:
    """The stream's records as text lines in ``layout`` (see TEXT_LAYOUTS)."""
    text = path.with_suffix(".log" if layout == "logback" else f".{layout}.log")
    if not text.exists():
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        con.execute(
            f"COPY (SELECT {TEXT_LAYOUTS[layout]} FROM (SELECT row_number() OVER () AS i, * "
            f"FROM read_json(?)) ORDER BY i) TO '{text}' "
            "(HEADER false, QUOTE '', DELIMITER '\x01')",
            [str(path)],
        )
        con.close()
    return text


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of one call (CPU of every thread of this process)."""
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return wall, (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)


def text_cases(texts: dict[str, Path], runs: int) -> dict[str, dict[str, list[float]]]:
    """Per layout: [wall, cpu] of DuckDB's read_csv of the lines and of ``load``, the fastest
    of ``runs`` rounds (each round runs every case once)."""

    def raw(text: Path) -> None:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "CREATE TABLE t AS SELECT * FROM read_csv(?, columns={'line': 'VARCHAR'}, "
            "header=false, auto_detect=false, delim='\x01', quote='', escape='')",
            [str(text)],
        )
        con.close()

    cases = {
        (layout, name): fn
        for layout, text in texts.items()
        for name, fn in (
            ("duckdb read_csv of the lines", lambda t=text: raw(t)),
            ("faultwise load (no templates)", lambda t=text: load([t], templates=False).close()),
        )
    }
    fastest = {key: [float("inf"), float("inf")] for key in cases}
    for _ in range(runs):
        for key, fn in cases.items():
            wall, cpu = timed(fn)
            fastest[key] = [min(fastest[key][0], wall), min(fastest[key][1], cpu)]
    result: dict[str, dict[str, list[float]]] = {}
    for (layout, name), seconds in fastest.items():
        result.setdefault(layout, {})[name] = seconds
    return result


def filter_cases(path: Path, trace_id: str, runs: int) -> dict[str, float]:
    faultwise = shutil.which("faultwise") or str(Path(sys.executable).parent / "faultwise")
    cases: dict[str, Callable[[], Any]] = {
        "grep -F": lambda: run(["grep", "-F", trace_id, str(path)]),
        "duckdb read_json WHERE": lambda: (
            duckdb.connect()
            .execute("SELECT * FROM read_json(?) WHERE trace_id = ?", [str(path), trace_id])
            .fetchall()
        ),
        "faultwise trace (read + answer)": lambda: run(
            [faultwise, "trace", trace_id, str(path), "--json"]
        ),
    }
    if shutil.which("jq"):
        cases["jq select"] = lambda: run(
            ["jq", "-c", f'select(.trace_id == "{trace_id}")', str(path)]
        )
    if shutil.which("lnav"):
        cases["lnav -n :filter-in"] = lambda: run(
            ["lnav", "-n", "-c", f":filter-in {trace_id}", str(path)]
        )
    return best_of_rounds(cases, runs)


def mining_cases(path: Path, limit: int, runs: int) -> dict[str, tuple[float, int, int]]:
    """(seconds, lines, templates) for Drain3 and faultwise on the same messages."""
    from drain3 import TemplateMiner  # type: ignore[import-untyped]
    from drain3.template_miner_config import TemplateMinerConfig  # type: ignore[import-untyped]

    messages = []
    with path.open() as f:
        for line in f:
            messages.append(json.loads(line)["message"])
            if len(messages) >= limit:
                break
    config = TemplateMinerConfig()
    config.profiling_enabled = False

    def drain() -> int:
        miner = TemplateMiner(config=config)  # a fresh miner each run: none learns twice
        for m in messages:
            miner.add_log_message(m)
        return len(miner.drain.clusters)

    drain_s, drain_n = best(drain, runs)
    subset = WORK / "messages.jsonl"
    with subset.open("w") as out:
        for i, m in enumerate(messages):
            out.write(json.dumps({"ts": 1_767_225_600 + i, "msg": m}) + "\n")
    store = load([subset], templates=False)
    ours_s, ours_n = best(lambda: assign_templates(store), runs)
    store.close()
    subset.unlink()
    return {
        "drain3": (drain_s, len(messages), drain_n),
        "faultwise": (ours_s, len(messages), ours_n),
    }


def trace_db_case(path: Path, rows: int, runs: int) -> tuple[float, int, str]:
    db = WORK / f"trace-{rows}.duckdb"
    if db.exists():
        db.unlink()
    with Store(db) as store:
        from faultwise.telemetry import ingest

        ingest(store, [path], templates=False)  # trace reads no templates
        copy = 1
        while (n := int(store.scalar("SELECT count(*) FROM logs"))) < rows:
            store.execute(
                "INSERT INTO logs SELECT * REPLACE (md5(trace_id || ?) AS trace_id) FROM logs "
                "LIMIT ?",
                [str(copy), rows - n],
            )
            copy += 1
        total = int(store.scalar("SELECT count(*) FROM logs"))
        trace_id = str(store.scalar("SELECT trace_id FROM logs WHERE rowid = ?", [total // 2]))
    faultwise = shutil.which("faultwise") or str(Path(sys.executable).parent / "faultwise")
    command = [faultwise, "trace", trace_id, "--db", str(db), "--json"]
    run(command)  # warm: bytecode compiled, the file in the page cache
    seconds, _ = best(lambda: run(command), runs)
    db.unlink()
    return seconds, total, trace_id


def print_text(text_ingest: dict[str, dict[str, list[float]]], texts: dict[str, Path]) -> None:
    print("\ningest of the same records as text      wall s  × read_csv   CPU s  × read_csv")
    for layout, cases in text_ingest.items():
        size = texts[layout].stat().st_size / 2**20
        raw_wall, raw_cpu = cases["duckdb read_csv of the lines"]
        print(f"  {layout} ({size:,.0f} MiB)")
        for name, (wall, cpu) in cases.items():
            print(
                f"    {name:31} {wall:6.2f} {wall / raw_wall:8.2f} {cpu:9.2f} {cpu / raw_cpu:8.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 MB stream, 1 M-row store")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--size-mb", type=int, default=None, help="size of the stream")
    parser.add_argument("--runs", type=int, default=3, help="rounds; the fastest of each case")
    parser.add_argument(
        "--text", nargs="+", choices=list(TEXT_LAYOUTS), default=list(TEXT_LAYOUTS),
        help="text layouts to load (all by default)",
    )  # fmt: skip
    parser.add_argument("--only-text", action="store_true", help="run the text cases only")
    args = parser.parse_args()
    size_mb = args.size_mb or (40 if args.quick else 1024)
    runs = args.runs
    WORK.mkdir(exist_ok=True)
    path = WORK / f"logs-{size_mb}MB.jsonl"
    if not path.exists() or path.stat().st_size < size_mb * 2**20:
        print(f"generating {path} ...", file=sys.stderr)
        generate(path, size_mb * 2**20)
    lines = sum(1 for _ in path.open("rb"))
    texts = {layout: text_log(path, layout) for layout in args.text}
    if args.only_text:
        text_ingest = text_cases(texts, runs)
        if args.json:
            print(json.dumps({"text_ingest_s": text_ingest, "load_average": os.getloadavg()}))
            return
        print(f"stream: {path.stat().st_size / 2**20:,.0f} MiB, {lines:,} JSON lines; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
        print_text(text_ingest, texts)
        return
    with path.open() as f:
        for i, line in enumerate(f):
            if i == lines // 2:
                trace_id = json.loads(line)["trace_id"]
                break
    ingest = ingest_cases(path, runs)
    text_ingest = text_cases(texts, runs)
    filters = filter_cases(path, trace_id, runs)
    mining = mining_cases(path, limit=min(lines, 300_000 if args.quick else lines), runs=runs)
    db_rows = 1_000_000 if args.quick else 10_000_000
    trace_s, trace_rows, _ = trace_db_case(path, db_rows, max(3, runs))
    result: dict[str, Any] = {
        "stream": {"path": str(path), "bytes": path.stat().st_size, "lines": lines},
        "ingest_s": ingest,
        "text_ingest_s": text_ingest,
        "filter_by_trace_id_s": filters,
        "template_mining": {
            k: {"seconds": s, "lines": n, "templates": t, "lines_per_s": n / s}
            for k, (s, n, t) in mining.items()
        },
        "trace_on_db": {"rows": trace_rows, "seconds": trace_s},
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"stream: {path.stat().st_size / 2**20:,.0f} MiB, {lines:,} JSON lines; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    raw = ingest["duckdb read_json into a table"]
    print("\ningest (wall s)                   seconds   MB/s   × raw read_json")
    for name, s in ingest.items():
        print(f"  {name:31} {s:8.2f} {size_mb / s:6.0f} {s / raw:9.2f}")
    print_text(text_ingest, texts)
    floor = filters["grep -F"]
    print("\nfilter by one trace id (wall s)  seconds   × grep")
    for name, s in filters.items():
        print(f"  {name:31} {s:8.2f} {s / floor:8.1f}")
    d = result["template_mining"]
    ratio = d["faultwise"]["lines_per_s"] / d["drain3"]["lines_per_s"]
    print(f"\ntemplate mining ({mining['drain3'][1]:,} messages)  lines/s   templates")
    for name, v in d.items():
        print(f"  {name:31} {v['lines_per_s']:10,.0f} {v['templates']:8}")
    print(f"  faultwise / Drain3 lines per second: {ratio:.1f}×")
    print(f"\nfaultwise trace ID --db ({trace_rows:,} log lines): {trace_s:.2f} s")


if __name__ == "__main__":
    main()

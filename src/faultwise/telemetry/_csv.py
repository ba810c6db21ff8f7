"""CSV logs, spans and metrics with automatic column mapping, read by DuckDB's CSV scanner.

Column names are matched case- and punctuation-insensitively against the field tables in
:mod:`faultwise.telemetry._fields` (``TraceID``, ``trace_id`` and ``trace.id`` are one name).
Malformed rows (too many or too few columns) are rejects with their line numbers, taken from
DuckDB's ``store_rejects`` tables. ``source_line`` of a good row is its header-relative row
number plus one, which is its line number unless quoted fields hold line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from faultwise._errors import InputError
from faultwise.telemetry._fields import FIELDS, SPAN_FIELDS, Field, SpanField
from faultwise.telemetry._logsql import LogsResult, finish_logs, quote
from faultwise.telemetry._model import Format, Reject
from faultwise.telemetry._services import POD_SUFFIX_SQL
from faultwise.telemetry._source import KEEP_REJECTS, Source, intact
from faultwise.telemetry._store import Store
from faultwise.telemetry._timestamps import TsForm, detect_form, ts_sql

__all__ = [
    "CsvTable",
    "classify_csv",
    "metric_name",
    "open_csv",
    "read_csv_logs",
    "read_csv_metrics",
    "read_csv_spans",
]

_ids = count(1)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^(NaN|nan|[-+]?Inf|inf)$")
_NULL_PARENTS = "('', 'root', '0', '0000000000000000', 'null', 'none', 'nil')"


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A CSV file staged as a temporary all-VARCHAR table with a row number ``_n``."""

    table: str
    columns: tuple[str, ...]
    rejected: int
    rejects: tuple[Reject, ...]

    def find(self, names: tuple[str, ...], taken: set[str] | None = None) -> str | None:
        by_norm = {norm(c): c for c in self.columns}
        for name in names:
            column = by_norm.get(norm(name))
            if column is not None and (taken is None or column not in taken):
                return column
        return None


def ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def open_csv(store: Store, src: Source, spool_dir: Path) -> CsvTable:
    """Stage ``src`` with DuckDB's CSV sniffer (delimiter, quoting, header) as VARCHARs."""
    import duckdb

    n = next(_ids)
    table, rej_t, rej_s = f"_csv_{n}", f"_csv_rej_{n}", f"_csv_scan_{n}"
    con = store.connection
    path, compression, cut = intact(src, spool_dir)
    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT row_number() OVER () + 1 AS _n, * FROM "
            "read_csv(?, header=true, all_varchar=true, compression=?, store_rejects=true, "
            f"rejects_table='{rej_t}', rejects_scan='{rej_s}', max_line_size=4194306)",
            [str(path), compression],
        )
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read as CSV: {reason[:160]}", source=src.name) from None
    finally:
        if path != src.path:
            path.unlink(missing_ok=True)
    columns = tuple(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "_n")
    rejected = int(con.execute(f"SELECT count(DISTINCT line) FROM {rej_t}").fetchone()[0])  # type: ignore[index]
    rows = con.execute(
        f"SELECT line, any_value(error_type), any_value(csv_line) FROM {rej_t} "
        f"GROUP BY line ORDER BY line LIMIT {KEEP_REJECTS}"
    ).fetchall()
    con.execute(f"DROP TABLE IF EXISTS {rej_t}")
    con.execute(f"DROP TABLE IF EXISTS {rej_s}")
    rejects = tuple(
        Reject(src.name, int(line), str(kind).lower(), (text or "")[:200])
        for line, kind, text in rows
    )
    if cut is not None:
        return CsvTable(table, columns, rejected + 1, (*rejects, cut)[:KEEP_REJECTS])
    return CsvTable(table, columns, rejected, rejects)


def classify_csv(columns: tuple[str, ...]) -> Format:
    """Spans when trace and span ids and a start or duration are there; logs when a message
    column is; metrics otherwise."""
    probe = CsvTable("", columns, 0, ())
    has = {f: probe.find(names) is not None for f, names in SPAN_FIELDS.items()}
    if (
        has[SpanField.TRACE_ID]
        and has[SpanField.SPAN_ID]
        and (has[SpanField.START] or has[SpanField.DURATION])
        and (has[SpanField.PARENT_ID] or has[SpanField.NAME])
    ):
        return Format.CSV_SPANS
    if probe.find(FIELDS[Field.MESSAGE]) is not None:
        return Format.CSV_LOGS
    return Format.CSV_METRICS


def _sample(store: Store, table: str, column: str, limit: int = 200) -> list[str]:
    rows = store.query(
        f"SELECT {ident(column)} FROM {table} WHERE {ident(column)} IS NOT NULL LIMIT {limit}"
    )
    return [str(r[0]) for r in rows]


def _epoch_unit(column: str) -> int | None:
    """The unit a time column's name declares (``StartTimeUnixNano``, ``start_ms``), if any."""
    name = column.lower()
    if "nano" in name or name.endswith("_ns"):
        return 1
    if name.endswith(("_us", "micros")):
        return 1_000
    if name.endswith(("_ms", "millis")):
        return 1_000_000
    return None


def _duration_unit_ns(column: str) -> int:
    name = column.lower()
    for suffix, ns in (
        ("ns", 1),
        ("nano", 1),
        ("us", 1_000),
        ("micro", 1_000),
        ("ms", 1_000_000),
        ("milli", 1_000_000),
    ):
        if name.endswith(suffix) or f"({suffix})" in name:
            return ns
    if name.endswith(("_s", "(s)", "seconds")):
        return 1_000_000_000
    return 1_000  # Jaeger's unit


def read_csv_spans(store: Store, src: Source, csv: CsvTable) -> tuple[int, int, list[Reject]]:
    """Insert the staged span table; returns (inserted, rejected, first rejects)."""
    taken: set[str] = set()
    col: dict[SpanField, str | None] = {}
    for field, names in SPAN_FIELDS.items():
        found = csv.find(names, taken)
        col[field] = found
        if found:
            taken.add(found)

    def c(field: SpanField) -> str:
        found = col[field]
        return ident(found) if found else "NULL"

    start_col = col[SpanField.START]
    form = detect_form(_sample(store, csv.table, start_col)) if start_col else None
    start = (
        ts_sql(c(SpanField.START), form, day=src.day, unit_ns=_epoch_unit(start_col))
        if start_col
        else "NULL"
    )
    end_col = col[SpanField.END]
    end_form = detect_form(_sample(store, csv.table, end_col)) if end_col else None
    dur_col = col[SpanField.DURATION]
    duration = (
        f"TRY_CAST(round(TRY_CAST({ident(dur_col)} AS DOUBLE) * {_duration_unit_ns(dur_col)}) "
        "AS BIGINT)"
        if dur_col
        else "NULL"
    )
    end_direct = (
        ts_sql(c(SpanField.END), end_form, day=src.day, unit_ns=_epoch_unit(end_col))
        if end_col
        else "NULL"
    )
    pod = c(SpanField.POD)
    service = (
        f"coalesce(nullif({c(SpanField.SERVICE)}, ''), "
        f"nullif(regexp_replace({pod}, '{POD_SUFFIX_SQL}', ''), ''))"
    )
    kind = c(SpanField.KIND)
    status = c(SpanField.STATUS)
    staged = (
        f"SELECT _n AS n, lower(trim({c(SpanField.TRACE_ID)})) AS trace_id, "
        f"lower(trim({c(SpanField.SPAN_ID)})) AS span_id, "
        f"CASE WHEN lower(trim(coalesce({c(SpanField.PARENT_ID)}, ''))) IN {_NULL_PARENTS} "
        f"THEN NULL ELSE lower(trim({c(SpanField.PARENT_ID)})) END AS parent_span_id, "
        f"{service} AS service, {c(SpanField.NAME)} AS name, {_kind_sql(kind)} AS kind, "
        f"{start} AS start_ns, {_status_sql(status)} AS status, "
        f"{c(SpanField.PEER)} AS peer_service, {_attrs_sql(csv, taken)} AS attrs, "
        f"{end_direct} AS end_direct, {duration} AS duration_ns "
        f"FROM {csv.table}"
    )
    con = store.connection
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _spans_staged AS SELECT *, "
        f"coalesce(end_direct, TRY_CAST(start_ns::HUGEINT + duration_ns AS BIGINT)) AS end_ns "
        f"FROM ({staged})"
    )
    ok = "trace_id IS NOT NULL AND trace_id <> '' AND span_id IS NOT NULL AND start_ns IS NOT NULL"
    con.execute(
        "INSERT INTO spans SELECT trace_id, span_id, parent_span_id, service, name, kind, "
        "start_ns, coalesce(end_ns, start_ns), status, peer_service, attrs "
        f"FROM _spans_staged WHERE {ok} ORDER BY n"
    )
    inserted, bad = con.execute(
        f"SELECT count(*) FILTER (WHERE {ok}), count(*) FILTER (WHERE NOT ({ok})) "
        "FROM _spans_staged"
    ).fetchone() or (0, 0)
    rows = con.execute(
        f"SELECT n FROM _spans_staged WHERE NOT ({ok}) ORDER BY n LIMIT {KEEP_REJECTS}"
    ).fetchall()
    con.execute("DROP TABLE _spans_staged")
    con.execute(f"DROP TABLE {csv.table}")
    rejects = list(csv.rejects) + [
        Reject(src.name, int(n), "span without trace id, span id or start time", "")
        for (n,) in rows
    ]
    return int(inserted), int(bad) + csv.rejected, rejects[:KEEP_REJECTS]


def _kind_sql(expr: str) -> str:
    text = f"lower(regexp_replace(trim({expr}), '^(SPAN_KIND_|span_kind_)', ''))"
    return (
        f"CAST(coalesce(TRY_CAST({expr} AS INTEGER), CASE {text} WHEN 'internal' THEN 1 "
        "WHEN 'server' THEN 2 WHEN 'client' THEN 3 WHEN 'producer' THEN 4 "
        "WHEN 'consumer' THEN 5 ELSE 0 END) AS TINYINT)"
    )


def _status_sql(expr: str) -> str:
    text = f"lower(regexp_replace(trim({expr}), '^(STATUS_CODE_|status_code_)', ''))"
    return (
        f"CAST(CASE WHEN {text} IN ('error', 'true', '2') THEN 2 "
        f"WHEN {text} IN ('ok', '1') THEN 1 ELSE 0 END AS TINYINT)"
    )


def _attrs_sql(csv: CsvTable, taken: set[str]) -> str:
    rest = [c for c in csv.columns if c not in taken]
    if not rest:
        return "NULL"
    pairs = ", ".join(f"{quote(c)}, {ident(c)}" for c in rest)
    return f"CAST(json_object({pairs}) AS VARCHAR)"


def read_csv_logs(
    store: Store,
    src: Source,
    csv: CsvTable,
    *,
    default_service: str | None,
    mapping: Mapping[Field, str],
) -> LogsResult:
    """Insert a staged CSV log table (a message column holding JSON or a text header is
    unwrapped by :func:`finish_logs`)."""
    taken: set[str] = set()
    col: dict[Field, str | None] = {}
    for field in Field:
        names = (mapping[field],) if field in mapping else FIELDS[field]
        found = csv.find(names, taken)
        col[field] = found
        if found:
            taken.add(found)

    def c(field: Field) -> str:
        found = col[field]
        return f"nullif({ident(found)}, '')" if found else "NULL"

    ts_col = col[Field.TS]
    ts_sample = _sample(store, csv.table, ts_col) if ts_col else []
    staged = (
        f"SELECT _n AS n, {c(Field.TS)} AS raw_ts, rtrim({c(Field.MESSAGE)}, "
        f"chr(10) || chr(13)) AS message, {c(Field.SEVERITY)} AS sev_text, "
        f"{c(Field.SEVERITY_NUMBER)} AS sev_num, {c(Field.SERVICE)} AS service, "
        f"{c(Field.POD)} AS pod, {c(Field.INSTANCE)} AS instance, "
        f"{c(Field.TRACE_ID)} AS trace_id, {c(Field.SPAN_ID)} AS span_id, "
        f"{c(Field.REQUEST_ID)} AS request_id, {c(Field.THREAD)} AS thread, "
        f"{_attrs_sql(csv, taken)} AS attrs, NULL AS reject, "
        f"CAST(NULL AS VARCHAR) AS raw FROM {csv.table}"
    )
    result = finish_logs(
        store,
        staged,
        raw_of=f"SELECT _n AS n, CAST({csv.table} AS VARCHAR) AS raw FROM {csv.table}",
        numbered=True,
        source=src.name,
        ts_form=detect_form(ts_sample) or TsForm.ISO,
        day=src.day,
        default_service=default_service,
        has_ts=ts_col is not None,
    )
    store.execute(f"DROP TABLE {csv.table}")
    rejects = (csv.rejects + result.rejects)[:KEEP_REJECTS]
    return LogsResult(
        result.inserted, result.rejected + csv.rejected, rejects, result.clock, result.layers
    )


def metric_name(column: str) -> str:
    """A Prometheus-style name: ``CpuUsageRate(%)`` -> ``cpu_usage_rate_percent``."""
    units = {
        "%": "percent",
        "s": "seconds",
        "ms": "milliseconds",
        "mi": "mebibytes",
        "m": "millicores",
        "ops": "ops",
    }
    base, _, unit = column.partition("(")
    unit = unit.rstrip(")").strip().lower()
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base.strip())
    snake = re.sub(r"[^a-zA-Z0-9_]+", "_", snake).strip("_").lower()
    return f"{snake}_{units.get(unit, unit)}".strip("_") if unit else snake


def read_csv_metrics(
    store: Store, src: Source, csv: CsvTable, *, default_service: str | None
) -> tuple[int, int, tuple[Reject, ...]]:
    """A time column plus value columns: one row per pod (labels in text columns) or a wide
    table whose columns are ``<service>_<metric>``. Returns (samples, rejected, rejects).

    A table without rows (a damaged stream cut before its first row) gives nothing and no
    error: its columns are not checked, the cut is counted."""
    if store.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {csv.table} LIMIT 1)") == 0:
        store.execute(f"DROP TABLE {csv.table}")
        return 0, csv.rejected, csv.rejects
    ts_col = csv.find((*FIELDS[Field.TS], "time", "date"))
    if ts_col is None:
        raise InputError("a metrics table needs a time column", source=src.name)
    numeric, text = [], []
    for column in csv.columns:
        if column == ts_col:
            continue
        values = _sample(store, csv.table, column, 50)
        is_number = all(_NUMBER.match(v.strip()) for v in values if v.strip())
        if is_number:
            numeric.append(column)
        elif detect_form(values) is None:  # a second time column is not a label
            text.append(column)
    if not numeric:
        raise InputError("a metrics table needs at least one numeric column", source=src.name)
    pod_col = csv.find(SPAN_FIELDS[SpanField.POD], set()) if text else None
    service_col = csv.find(SPAN_FIELDS[SpanField.SERVICE], set()) if text else None
    pod = ident(pod_col) if pod_col in text else "NULL"
    svc = ident(service_col) if service_col in text else "NULL"
    items = []
    for column in numeric:
        prefix, sep, rest = column.partition("_")
        wide = not text and sep and rest
        series_service = quote(prefix) if wide else None
        name = metric_name(rest if wide else column)
        items.append(
            f"{{'metric': {quote(name)}, 'svc': {series_service or 'NULL'}, "
            f"'value': TRY_CAST({ident(column)} AS DOUBLE)}}"
        )
    ts = ts_sql(ident(ts_col), detect_form(_sample(store, csv.table, ts_col)), day=src.day)
    service = (
        f"coalesce(u.svc, nullif({svc}, ''), nullif(regexp_replace({pod}, "
        f"'{POD_SUFFIX_SQL}', ''), ''), {quote(default_service) if default_service else 'NULL'})"
    )
    labels = [c for c in text if c not in (pod_col, service_col)]
    label_sql = (
        "CAST(json_object(" + ", ".join(f"{quote(c)}, {ident(c)}" for c in labels) + ") AS VARCHAR)"
        if labels
        else "NULL"
    )
    con = store.connection
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _samples_staged AS SELECT _n, ts_ns, "
        f"{service} AS service, {pod} AS instance, u.metric AS metric, {label_sql} AS labels, "
        f"u.value AS value FROM (SELECT *, {ts} AS ts_ns, unnest([{', '.join(items)}]) AS u "
        f"FROM {csv.table})"
    )
    ok = "ts_ns IS NOT NULL AND value IS NOT NULL AND NOT isnan(value)"
    con.execute(
        "INSERT INTO samples SELECT ts_ns, service, instance, metric, labels, value "
        f"FROM _samples_staged WHERE {ok} ORDER BY _n"
    )
    inserted = int(con.execute(f"SELECT count(*) FROM _samples_staged WHERE {ok}").fetchone()[0])  # type: ignore[index]
    bad_rows = con.execute(
        "SELECT DISTINCT _n FROM _samples_staged WHERE ts_ns IS NULL ORDER BY _n"
    ).fetchall()
    con.execute("DROP TABLE _samples_staged")
    con.execute(f"DROP TABLE {csv.table}")
    rejects = csv.rejects + tuple(
        Reject(src.name, int(n), "no readable time", "") for (n,) in bad_rows[:KEEP_REJECTS]
    )
    return inserted, len(bad_rows) + csv.rejected, rejects[:KEEP_REJECTS]

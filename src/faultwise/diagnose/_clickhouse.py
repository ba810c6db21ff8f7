"""The analyser on ClickHouse: the OpenTelemetry Collector exporter's tables read as the model.

``faultwise diagnose --clickhouse URL --since T1 --until T2`` runs the same detectors, with
the same SQL, on the telemetry the Collector's ClickHouse exporter wrote (``otel_logs``,
``otel_traces``, ``otel_metrics_gauge|sum|histogram|summary``). The dialect layer is small:

- each model table (``logs``, ``spans``, ``samples``, ``changes``) is a SELECT over the
  exporter's tables, cut to the incident window (so ClickHouse prunes partitions and uses
  the primary key); a query gets those it names as common table expressions, so detectors
  keep writing ``FROM logs`` and every aggregation runs inside ClickHouse;
- the few functions without a standard spelling come from the detectors'
  :class:`~faultwise.diagnose._sql.Dialect` (``CLICKHOUSE``);
- session settings give standard SQL's NULL semantics (outer joins fill NULL, aggregates
  of nothing are NULL), which the detectors, written for DuckDB, rely on.

Configuration files (for drift) are read locally into an in-memory DuckDB as usual and
handed to ClickHouse inline with each query that names ``configs``.

    store = open_clickhouse("http://127.0.0.1:8123/otel", since="2026-03-04T09:00Z",
                            until="2026-03-04T09:30Z")
    result = diagnose(store, dialect=CLICKHOUSE)

URLs: ``http(s)://[user[:password]@]host[:port][/database]`` (the HTTP interface; no
driver needed) and ``chdb:[PATH][?database=NAME]`` (ClickHouse in-process through chDB, on
a data directory, or in memory).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from faultwise._errors import FaultwiseError, InputError, require
from faultwise.diagnose._inputs import parse_window
from faultwise.diagnose._model import Window
from faultwise.diagnose._sql import literal
from faultwise.telemetry import ChangeKind, Store, Table
from faultwise.telemetry._documents import _K8S_CHANGES
from faultwise.telemetry._store import Params

__all__ = [
    "CHANGE_ATTRIBUTE",
    "ChdbConnection",
    "ClickHouseConnection",
    "ClickHouseStore",
    "HttpConnection",
    "connect",
    "open_clickhouse",
]

CHANGE_ATTRIBUTE = "faultwise.change.kind"
"""A log record with this attribute (deploy, config, restart, oom_kill, scale, other) is a
change record: a deploy pipeline can send one through the Collector."""

SETTINGS = {
    "join_use_nulls": "1",  # an outer join fills NULL, not 0 or ''
    "aggregate_functions_null_for_empty": "1",  # min() of nothing is NULL
    "output_format_json_quote_64bit_integers": "0",
    "output_format_json_quote_denormals": "0",
}

_MODEL = ("logs", "spans", "samples", "changes", "configs")
_MODEL_WORD = re.compile(r"\b(?:" + "|".join(_MODEL) + r")\b")
_BOOKKEEPING = re.compile(r"\bFROM\s+(?:sources|rejects|clock_findings|templates)\b", re.I)


class ClickHouseConnection(Protocol):
    """Runs one query and returns its columns (name, type) and rows (parsed JSONCompact)."""

    def run(self, sql: str) -> tuple[list[tuple[str, str]], list[list[Any]]]: ...
    def close(self) -> None: ...


class HttpConnection:
    """ClickHouse's HTTP interface through the standard library (no driver)."""

    def __init__(self, url: str, *, timeout: float = 300.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname:
            raise InputError(f"--clickhouse {url!r}: no host")
        port = parts.port or (8443 if parts.scheme == "https" else 8123)
        self._endpoint = f"{parts.scheme}://{parts.hostname}:{port}/"
        self.database = parts.path.strip("/") or "default"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if parts.username:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        query = {"database": self.database, "default_format": "JSONCompact", **SETTINGS}
        self._params = urllib.parse.urlencode(query)
        self._timeout = timeout
        self._where = f"{parts.hostname}:{port}"

    def run(self, sql: str) -> tuple[list[tuple[str, str]], list[list[Any]]]:
        request = urllib.request.Request(
            f"{self._endpoint}?{self._params}", sql.encode(), self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip().splitlines()
            raise FaultwiseError(f"ClickHouse at {self._where}: {' '.join(detail)[:500]}") from None
        except OSError as exc:
            raise FaultwiseError(f"cannot reach ClickHouse at {self._where}: {exc}") from None
        return _parsed(body)

    def close(self) -> None:
        pass


class ChdbConnection:
    """ClickHouse in this process through chDB: a session on a data directory (or memory)."""

    def __init__(self, session: Any = None, *, path: str = "", database: str = "default") -> None:
        self._owned = session is None
        if session is None:
            chdb_session = require("chdb.session", "clickhouse")
            session = chdb_session.Session(path) if path else chdb_session.Session()
        self._session = session
        self.database = database
        self._settings = " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in SETTINGS.items())

    def run(self, sql: str) -> tuple[list[tuple[str, str]], list[list[Any]]]:
        try:
            result = self._session.query(
                f"{sql.rstrip().rstrip(';')}{self._settings}", "JSONCompact"
            )
        except Exception as exc:  # chDB raises its own RuntimeError subclasses
            raise FaultwiseError(f"chDB: {str(exc).strip()[:500]}") from None
        return _parsed(result.bytes())

    def close(self) -> None:
        if self._owned:  # a session handed in belongs to whoever made it
            self._session.close()


def _parsed(body: bytes) -> tuple[list[tuple[str, str]], list[list[Any]]]:
    if not body.strip():
        return [], []
    doc = json.loads(body)
    return [(m["name"], m["type"]) for m in doc["meta"]], doc["data"]


def connect(url: str) -> ClickHouseConnection:
    """A connection for ``http(s)://...`` or ``chdb:PATH`` (see the module docstring)."""
    if url.startswith(("http://", "https://")):
        return HttpConnection(url)
    if url.startswith("chdb:"):
        parts = urllib.parse.urlsplit(url)
        database = urllib.parse.parse_qs(parts.query).get("database", ["default"])[0]
        return ChdbConnection(path=parts.path, database=database)
    raise InputError(f"--clickhouse takes http(s)://host:8123/database or chdb:PATH, got {url!r}")


# -- the exporter's tables as the model -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OtelTables:
    """Which exporter tables exist in a database, and their columns (versions differ)."""

    database: str
    columns: Mapping[str, frozenset[str]]

    @classmethod
    def discover(cls, connection: ClickHouseConnection, database: str) -> OtelTables:
        _, rows = connection.run(
            "SELECT table, name FROM system.columns "
            f"WHERE database = {literal(database)} AND table LIKE 'otel\\_%'"
        )
        found: dict[str, set[str]] = {}
        for table, name in rows:
            found.setdefault(table, set()).add(name)
        return cls(database, {t: frozenset(c) for t, c in found.items()})

    def has(self, table: str) -> bool:
        return table in self.columns

    def name(self, table: str) -> str:
        return f"{_ident(self.database)}.{_ident(table)}"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _ns(column: str) -> str:
    return f"toUnixTimestamp64Nano(toDateTime64({column}, 9))"


def _within(column: str, window: Window, coarse: str | None = None) -> str:
    """``column`` (a DateTime64) inside ``window``, compared as the bare column so ClickHouse
    prunes partitions and skips granules by it; ``coarse`` (a DateTime primary-key column, as
    ``TimestampTime`` in ``otel_logs``) is bounded too."""
    cond = (
        f"{column} >= fromUnixTimestamp64Nano(toInt64({window.start_ns})) "
        f"AND {column} < fromUnixTimestamp64Nano(toInt64({window.end_ns}))"
    )
    if coarse:
        lo, hi = window.start_ns // 1_000_000_000, window.end_ns // 1_000_000_000 + 1
        cond += f" AND {coarse} >= toDateTime({lo}) AND {coarse} <= toDateTime({hi})"
    return cond


def _attr(column: str, *keys: str) -> str:
    """The first non-empty value of ``keys`` in a map column, or NULL."""
    values = ", ".join(f"nullIf({column}[{literal(k)}], '')" for k in keys)
    return f"coalesce({values})" if len(keys) > 1 else values


_INSTANCE_KEYS = ("service.instance.id", "k8s.pod.name", "host.name")
_REQUEST_KEYS = ("request.id", "http.request.id", "request_id")
_THREAD_KEYS = ("thread.name", "thread.id")
_FILE_KEYS = ("log.file.path", "log.file.name")
_LINE_KEY = "log.file.line"
_OWN_LOG_KEYS = (*_REQUEST_KEYS, *_THREAD_KEYS, *_FILE_KEYS, _LINE_KEY)
_EVENT_REASON = "k8s.event.reason"

# The model's severity is the OTel SeverityNumber of the level's first step.
_SEVERITY = (
    "if(SeverityNumber > 0, least(21, 1 + intDiv(toInt32(SeverityNumber) - 1, 4) * 4), "
    "multiIf(startsWith(upper(SeverityText), 'TRACE'), 1, startsWith(upper(SeverityText), "
    "'DEBUG'), 5, startsWith(upper(SeverityText), 'INFO'), 9, startsWith(upper(SeverityText), "
    "'WARN'), 13, startsWith(upper(SeverityText), 'ERR'), 17, "
    "upper(SeverityText) IN ('FATAL', 'CRITICAL', 'PANIC', 'EMERGENCY'), 21, 0))"
)


def _logs_sql(t: OtelTables, window: Window) -> str:
    columns = t.columns["otel_logs"]
    coarse = "TimestampTime" if "TimestampTime" in columns else None
    own = ", ".join(literal(k) for k in (*_OWN_LOG_KEYS, CHANGE_ATTRIBUTE))
    return f"""SELECT {_ns("Timestamp")} AS ts_ns,
    nullIf(ServiceName, '') AS service,
    {_attr("ResourceAttributes", *_INSTANCE_KEYS)} AS instance,
    toInt8({_SEVERITY}) AS severity,
    Body AS message,
    CAST(NULL AS Nullable(Int32)) AS template_id,
    nullIf(TraceId, '') AS trace_id,
    nullIf(SpanId, '') AS span_id,
    {_attr("LogAttributes", *_REQUEST_KEYS)} AS request_id,
    {_attr("LogAttributes", *_THREAD_KEYS)} AS thread,
    toJSONString(mapFilter((k, v) -> k NOT IN ({own}), LogAttributes)) AS attrs,
    {_attr("LogAttributes", *_FILE_KEYS)} AS source_file,
    toInt64OrNull(LogAttributes[{literal(_LINE_KEY)}]) AS source_line
FROM {t.name("otel_logs")}
WHERE {_within("Timestamp", window, coarse)}
  AND LogAttributes[{literal(CHANGE_ATTRIBUTE)}] = ''"""


_SPAN_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
_STATUS = {"OK": 1, "ERROR": 2}


def _enum(column: str, prefix: str, values: Mapping[str, int]) -> str:
    """Exporter strings ("Server", or "SPAN_KIND_SERVER" in older versions) to numbers."""
    keys = ", ".join(literal(k) for k in values)
    numbers = ", ".join(str(v) for v in values.values())
    plain = f"upper(replaceRegexpOne({column}, '^{prefix}', ''))"
    return f"toInt8(transform({plain}, [{keys}], [{numbers}], 0))"


def _spans_sql(t: OtelTables, window: Window) -> str:
    return f"""SELECT TraceId AS trace_id,
    SpanId AS span_id,
    nullIf(ParentSpanId, '') AS parent_span_id,
    nullIf(ServiceName, '') AS service,
    SpanName AS name,
    {_enum("SpanKind", "(?i)SPAN_KIND_", _SPAN_KIND)} AS kind,
    {_ns("Timestamp")} AS start_ns,
    {_ns("Timestamp")} + toInt64(Duration) AS end_ns,
    {_enum("StatusCode", "(?i)STATUS_CODE_", _STATUS)} AS status,
    {_attr("SpanAttributes", "peer.service")} AS peer_service,
    toJSONString(SpanAttributes) AS attrs
FROM {t.name("otel_traces")}
WHERE {_within("Timestamp", window)}"""


@dataclass(frozen=True, slots=True)
class _Metrics:
    """SELECTs of ``samples`` from the metrics tables, inside one window."""

    tables: OtelTables
    window: Window

    def select(self, table: str, metric: str, labels: str, value: str, join: str = "") -> str:
        """``metric``, ``labels`` and ``value`` may use ``q``, the element of ``join``."""
        array_join = f"\nARRAY JOIN {join} AS q" if join else ""
        return f"""SELECT {_ns("TimeUnix")} AS ts_ns,
    nullIf(ServiceName, '') AS service,
    {_attr("ResourceAttributes", *_INSTANCE_KEYS)} AS instance,
    {metric} AS metric,
    {labels} AS labels,
    toFloat64({value}) AS value
FROM {self.tables.name(table)}{array_join}
WHERE {_within("TimeUnix", self.window)}"""

    def sum_and_count(self, table: str) -> list[str]:
        labels = "toJSONString(Attributes)"
        return [
            self.select(table, "MetricName || '_sum'", labels, "Sum"),
            self.select(table, "MetricName || '_count'", labels, "Count"),
        ]


# Explicit bounds plus +Inf, with cumulative counts: the buckets as Prometheus writes them.
_BUCKETS = (
    "arrayZip(arrayCumSum(BucketCounts), "
    "arrayPushBack(arrayResize(ExplicitBounds, length(BucketCounts) - 1), inf))"
)
_LE = "toJSONString(mapUpdate(Attributes, map('le', if(q.2 = inf, '+Inf', toString(q.2)))))"
_QUANTILES = "arrayZip(ValueAtQuantiles.Quantile, ValueAtQuantiles.Value)"
_QUANTILE = "toJSONString(mapUpdate(Attributes, map('quantile', toString(q.1))))"


def _samples_sql(t: OtelTables, window: Window) -> str | None:
    m = _Metrics(t, window)
    parts = [
        m.select(table, "MetricName", "toJSONString(Attributes)", "Value")
        for table in ("otel_metrics_gauge", "otel_metrics_sum")
        if t.has(table)
    ]
    if t.has("otel_metrics_histogram"):
        hist = "otel_metrics_histogram"
        parts.append(m.select(hist, "MetricName || '_bucket'", _LE, "q.1", _BUCKETS))
        parts += m.sum_and_count(hist)
    if t.has("otel_metrics_summary"):
        summary = "otel_metrics_summary"
        parts.append(m.select(summary, "MetricName", _QUANTILE, "q.2", _QUANTILES))
        parts += m.sum_and_count(summary)
    return "\nUNION ALL\n".join(parts) if parts else None


def _changes_sql(t: OtelTables, window: Window) -> str:
    kinds = ", ".join(literal(k.value) for k in ChangeKind)
    reasons = ", ".join(literal(r) for r in _K8S_CHANGES)
    mapped = ", ".join(literal(k.value) for k in _K8S_CHANGES.values())
    reason = f"LogAttributes[{literal(_EVENT_REASON)}]"
    kind = (
        f"if(LogAttributes[{literal(CHANGE_ATTRIBUTE)}] IN ({kinds}), "
        f"LogAttributes[{literal(CHANGE_ATTRIBUTE)}], transform({reason}, [{reasons}], "
        f"[{mapped}], ''))"
    )
    # A first start is not a restart (as the Kubernetes event file reader decides).
    first_start = f"({reason} = 'Started' AND LogAttributes['k8s.event.count'] IN ('', '1'))"
    return f"""SELECT ts_ns, service, kind, detail FROM (
  SELECT {_ns("Timestamp")} AS ts_ns, nullIf(ServiceName, '') AS service, {kind} AS kind,
         Body AS detail, {first_start} AS first_start
  FROM {t.name("otel_logs")}
  WHERE {_within("Timestamp", window)}
    AND (LogAttributes[{literal(CHANGE_ATTRIBUTE)}] != '' OR {reason} IN ({reasons})))
WHERE kind != '' AND NOT first_start"""


_EMPTY = {
    "logs": (
        "SELECT toInt64(0) AS ts_ns, CAST(NULL AS Nullable(String)) AS service, "
        "CAST(NULL AS Nullable(String)) AS instance, toInt8(0) AS severity, '' AS message, "
        "CAST(NULL AS Nullable(Int32)) AS template_id, CAST(NULL AS Nullable(String)) AS trace_id,"
        " CAST(NULL AS Nullable(String)) AS span_id, CAST(NULL AS Nullable(String)) AS request_id,"
        " CAST(NULL AS Nullable(String)) AS thread, '{}' AS attrs, "
        "CAST(NULL AS Nullable(String)) AS source_file, CAST(NULL AS Nullable(Int64)) AS "
        "source_line WHERE 0"
    ),
    "spans": (
        "SELECT '' AS trace_id, '' AS span_id, CAST(NULL AS Nullable(String)) AS parent_span_id, "
        "CAST(NULL AS Nullable(String)) AS service, '' AS name, toInt8(0) AS kind, "
        "toInt64(0) AS start_ns, toInt64(0) AS end_ns, toInt8(0) AS status, "
        "CAST(NULL AS Nullable(String)) AS peer_service, '{}' AS attrs WHERE 0"
    ),
    "samples": (
        "SELECT toInt64(0) AS ts_ns, CAST(NULL AS Nullable(String)) AS service, "
        "CAST(NULL AS Nullable(String)) AS instance, '' AS metric, '{}' AS labels, "
        "toFloat64(0) AS value WHERE 0"
    ),
    "changes": (
        "SELECT toInt64(0) AS ts_ns, CAST(NULL AS Nullable(String)) AS service, '' AS kind, "
        "'' AS detail WHERE 0"
    ),
}


def model_tables(t: OtelTables, window: Window, configs: str) -> dict[str, str]:
    """The SELECT behind each model table: the exporter's tables inside ``window`` (an empty
    SELECT of the right shape where a table is missing) and the local configuration rows."""
    has_logs = t.has("otel_logs")
    samples = _samples_sql(t, window)
    return {
        "logs": _logs_sql(t, window) if has_logs else _EMPTY["logs"],
        "spans": _spans_sql(t, window) if t.has("otel_traces") else _EMPTY["spans"],
        "samples": samples or _EMPTY["samples"],
        "changes": _changes_sql(t, window) if has_logs else _EMPTY["changes"],
        "configs": configs,
    }


def _values(table: Table, rows: Sequence[tuple[Any, ...]]) -> str:
    """Local rows as an inline SELECT (the columns typed as the model's, all Nullable)."""
    from faultwise.telemetry import TABLES

    types = {"BIGINT": "Int64", "VARCHAR": "String"}
    columns = TABLES[table]
    structure = ", ".join(f"{name} Nullable({types[typ]})" for name, typ in columns)
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS Nullable({types[t]})) AS {n}" for n, t in columns)
        return f"SELECT {nulls} WHERE 0"
    tuples = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    return f"SELECT * FROM VALUES({literal(structure)}, {tuples})"


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return literal(str(value)).replace("\\", "\\\\")


# -- queries ------------------------------------------------------------------------------------


def with_model(sql: str, tables: Mapping[str, str]) -> str:
    """``sql`` ready for ClickHouse: the model tables it reads defined in front of it as
    common table expressions, and each projected ``alias.column`` named ``column``.

    ClickHouse names a projected ``s.service`` "s.service" when the query joins a table
    twice (standard SQL names it "service"), so an outer ``SELECT service`` would not find
    it; an explicit alias restores the standard name. ``lag``/``lead`` get standard SQL's
    NULL at the edge of a partition (see :func:`_standard_lag`). The query is parsed with
    SQLGlot, so a table name inside a string or a column alias is never taken for a table.
    """
    sqlglot = require("sqlglot", "clickhouse")
    exp = sqlglot.exp
    tree = sqlglot.parse_one(sql, read="clickhouse")
    for select in tree.find_all(exp.Select):
        projected = select.expressions
        names = [e.alias_or_name for e in projected]
        for i, column in enumerate(projected):
            if isinstance(column, exp.Column) and column.table and names.count(column.name) == 1:
                projected[i] = exp.alias_(column.copy(), column.name)
        select.set("expressions", projected)
    for window in tree.find_all(exp.Window):
        _standard_lag(exp, window)
    own = {cte.alias for cte in tree.find_all(exp.CTE)}
    read = {t.name for t in tree.find_all(exp.Table) if not t.db and t.name not in own}
    ours = [f"{name} AS (\n{tables[name]}\n)" for name in _MODEL if name in read]
    if not ours:
        return str(tree.sql("clickhouse"))
    # The outermost WITH (on the query, or on the first SELECT of a UNION) takes ours first.
    outer = min(tree.find_all(exp.With), key=lambda w: w.depth, default=None)
    theirs, recursive = [], ""
    if outer is not None and outer.parent is not None:
        theirs = [cte.sql("clickhouse") for cte in outer.expressions]
        recursive = "RECURSIVE " if outer.args.get("recursive") else ""
        outer.parent.set(outer.arg_key, None)
    return f"WITH {recursive}{', '.join([*ours, *theirs])}\n{tree.sql('clickhouse')}"


def _standard_lag(exp: Any, window: Any) -> None:
    """``lag``/``lead`` as standard SQL means them: NULL where there is no such row.

    ClickHouse's ``lagInFrame`` returns the type's default (0, '') there, and only looks
    inside the window frame; over a Nullable argument and the whole partition it answers as
    ``lag`` does elsewhere.
    """
    function = window.this
    if not isinstance(function, exp.Lag | exp.Lead):
        return
    name = "lagInFrame" if isinstance(function, exp.Lag) else "leadInFrame"
    args = [exp.Anonymous(this="toNullable", expressions=[function.this.copy()])]
    args += [function.args[k].copy() for k in ("offset", "default") if function.args.get(k)]
    window.set("this", exp.Anonymous(this=name, expressions=args))
    window.set(
        "spec",
        exp.WindowSpec(
            kind="ROWS",
            start="UNBOUNDED",
            start_side="PRECEDING",
            end="UNBOUNDED",
            end_side="FOLLOWING",
        ),
    )


def bind(sql: str, params: Params) -> str:
    """``?`` placeholders (outside string literals) replaced by SQL literals."""
    if not params:
        return sql
    if isinstance(params, Mapping):
        raise InputError("the ClickHouse store takes positional (?) parameters only")
    values = iter(params)
    out, last = [], 0
    for match in re.finditer(r"'(?:[^']|'')*'|\?", sql):
        if match.group(0) == "?":
            out.append(sql[last : match.start()])
            out.append(_literal(_plain(next(values))))
            last = match.end()
    out.append(sql[last:])
    return "".join(out)


def _plain(value: object) -> object:
    from enum import Enum

    return value.value if isinstance(value, Enum) else value


def _typed(kind: str, value: Any) -> Any:
    """JSON numbers as the column's type: a Float64 of 1.0 arrives as ``1``."""
    if value is None:
        return None
    if "Float" in kind or "Decimal" in kind:
        return float(value)
    return value


class ClickHouseStore(Store):
    """A store whose model tables live in ClickHouse, in the exporter's schema.

    Queries go to ClickHouse; the local part (an in-memory DuckDB, as for files) holds what
    came from local files: configuration files and change records, and the ingest summary.
    """

    def __init__(
        self, connection: ClickHouseConnection, window: Window, *, database: str | None = None
    ) -> None:
        super().__init__()
        self._ch = connection
        self.window = window
        self.database = database or str(getattr(connection, "database", "default"))
        self.otel = OtelTables.discover(connection, self.database)
        self._tables: dict[str, str] | None = None

    def model(self) -> dict[str, str]:
        """The SELECT behind each model table (built once the local inputs are read)."""
        if self._tables is None:
            configs = super().query("SELECT * FROM configs")
            self._tables = model_tables(self.otel, self.window, _values(Table.CONFIGS, configs))
        return self._tables

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        if _BOOKKEEPING.search(sql) and not _MODEL_WORD.search(sql):
            return super().query(sql, params)  # what the local files were: sources, rejects
        _, rows = self._run(sql, params)
        return rows

    def query_dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        if _BOOKKEEPING.search(sql) and not _MODEL_WORD.search(sql):
            return super().query_dicts(sql, params)
        names, rows = self._run(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _run(self, sql: str, params: Params) -> tuple[list[str], list[tuple[Any, ...]]]:
        columns, rows = self._ch.run(with_model(bind(sql, params), self.model()))
        types = [kind for _, kind in columns]
        typed = [tuple(_typed(k, v) for k, v in zip(types, row, strict=True)) for row in rows]
        return [name for name, _ in columns], typed

    def close(self) -> None:
        self._ch.close()
        super().close()

    def __repr__(self) -> str:
        return f"ClickHouseStore(database={self.database!r}, window={self.window!r})"


def open_clickhouse(
    url_or_connection: str | ClickHouseConnection,
    *,
    since: str | int,
    until: str | int,
    configs: Iterable[str] = (),
) -> ClickHouseStore:
    """A :class:`ClickHouseStore` over the exporter's tables between ``since`` and ``until``
    (RFC 3339 times or epoch seconds/ms/ns); ``configs`` are configuration files or
    directories compared for drift, read locally."""
    from faultwise.diagnose._inputs import load_incident, split_inputs

    window = _window(since, until)
    telemetry, found = split_inputs(configs)
    if telemetry:
        raise InputError(
            f"with --clickhouse, PATHs are configuration files; {telemetry[0]} is not one "
            "(send telemetry through the Collector)"
        )
    with load_incident([], configs=found) as local:
        rows = local.query("SELECT * FROM configs")
    connection = (
        connect(url_or_connection) if isinstance(url_or_connection, str) else url_or_connection
    )
    store = ClickHouseStore(connection, window)
    store.insert(Table.CONFIGS, rows)
    return store


def _window(since: str | int, until: str | int) -> Window:
    """The incident window: ints are ns since the epoch; text as ``--baseline-window`` reads
    its ends (RFC 3339, epoch seconds/ms/ns), but a time of day is refused here."""
    if isinstance(since, int) and isinstance(until, int):
        if until <= since:
            raise InputError(f"--until must come after --since ({since} >= {until})")
        return Window(since, until)
    spec = parse_window(f"{since}..{until}")
    if spec.start.ns is None or spec.end.ns is None:
        raise InputError("--since and --until take dates with times (2026-03-04T09:00:00Z)")
    return spec.resolve(None)

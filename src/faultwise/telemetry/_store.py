"""The store: the model's tables in DuckDB, in memory or in a file.

Detectors talk to it through :meth:`Store.query` (and :meth:`Store.scalar`) with SQL over the
tables documented in :mod:`faultwise.telemetry._model`; readers fill it through the bulk paths.

    store = Store()                       # in memory
    store = Store("incident.duckdb")      # kept on disk (``--db FILE``)
    store.insert(Table.LOGS, [LogRecord(ts_ns=1, message="hello")])
    store.query("SELECT count(*) FROM logs")  # [(1,)]
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from faultwise._errors import InputError, require
from faultwise.telemetry._model import (
    TABLES,
    ClockFinding,
    ClockIssue,
    Format,
    IngestSummary,
    Reject,
    SourceReport,
    Table,
)

if TYPE_CHECKING:
    import duckdb

__all__ = ["Params", "Store"]

Params = Sequence[object] | Mapping[str, object] | None

_BOOKKEEPING = {
    "templates": (("template_id", "INTEGER"), ("template", "VARCHAR")),
    "sources": (
        ("source_file", "VARCHAR"),
        ("format", "VARCHAR"),
        ("service", "VARCHAR"),
        ("logs", "BIGINT"),
        ("spans", "BIGINT"),
        ("samples", "BIGINT"),
        ("changes", "BIGINT"),
        ("configs", "BIGINT"),
        ("rejected", "BIGINT"),
        ("layout", "VARCHAR"),
    ),
    "rejects": (
        ("source_file", "VARCHAR"),
        ("source_line", "BIGINT"),
        ("reason", "VARCHAR"),
        ("text", "VARCHAR"),
    ),
    "source_stamps": (  # each file's size and mtime when read: a changed file is read again
        ("source_file", "VARCHAR"),
        ("size", "BIGINT"),
        ("mtime_ns", "BIGINT"),
    ),
    "clock_findings": (
        ("source", "VARCHAR"),
        ("issue", "VARCHAR"),
        ("offset_ns", "BIGINT"),
        ("detail", "VARCHAR"),
    ),
}
_SMALL_INSERT = 2_000  # below this many rows executemany beats writing a staging file


def _ddl(name: str, columns: Iterable[tuple[str, str]]) -> str:
    cols = ", ".join(f"{col} {typ}" for col, typ in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


class Store:
    """The model's tables in one DuckDB database; ``path=None`` keeps it in memory.

    A store is a context manager; closing it releases the file. Queries are serialised by a
    lock, so one store can be shared by threads.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, threads: int = 0) -> None:
        duckdb_mod = require("duckdb", "diagnose")
        self.path = Path(path) if path is not None else None
        try:
            self._con: duckdb.DuckDBPyConnection = duckdb_mod.connect(
                str(self.path) if self.path else ":memory:"
            )
        except duckdb_mod.Error as exc:
            raise InputError(f"cannot open the database: {exc}", source=str(path)) from exc
        self._lock = threading.RLock()
        self.reused: list[str] = []  # files given again that this store already held
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false")
        # Readers number a file's lines by the order its rows were inserted in (see
        # ``_logsql.finish_logs``): DuckDB keeps it only with this setting (its default).
        self._con.execute("SET preserve_insertion_order = true")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        existing = {
            r[0] for r in self._con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        wanted = [(t.value, c) for t, c in TABLES.items()] + list(_BOOKKEEPING.items())
        for name, columns in wanted:
            if name not in existing:
                self._con.execute(_ddl(name, columns))

    # -- queries -----------------------------------------------------------------------------

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run one SQL statement and return all its rows as tuples."""
        with self._lock:
            return self._con.execute(sql, _params(params)).fetchall()

    def query_dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        """Like :meth:`query`, each row a dict keyed by column name."""
        with self._lock:
            cursor = self._con.execute(sql, _params(params))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Params = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: Params = None) -> None:
        """Run a statement that changes the store (ingestion, template assignment)."""
        with self._lock:
            self._con.execute(sql, _params(params))

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection itself, for bulk paths; prefer :meth:`query`."""
        return self._con

    def drop_temporary(self) -> None:
        """Drop the temporary tables a reader staged its input in."""
        with self._lock:
            for (name,) in self._con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE temporary"
            ).fetchall():
                self._con.execute(f'DROP TABLE IF EXISTS "{name}"')

    def index_trace_ids(self) -> None:
        """Index ``trace_id`` of ``logs`` and ``spans`` (DuckDB ART indexes), so that finding
        one request in a kept store reads a few rows instead of scanning the tables. DuckDB
        keeps the indexes up to date on later inserts and deletes."""
        with self._lock:
            for table in (Table.LOGS, Table.SPANS):
                self._con.execute(
                    f"CREATE INDEX IF NOT EXISTS {table.value}_trace_id ON {table.value} (trace_id)"
                )

    def counts(self) -> dict[Table, int]:
        """Rows per model table."""
        return {t: int(self.scalar(f"SELECT count(*) FROM {t.value}")) for t in Table}

    # -- bulk inserts ------------------------------------------------------------------------

    def insert(self, table: Table, rows: Iterable[Any]) -> int:
        """Insert row objects (``LogRecord``, ``Span`` ...) or tuples in column order.

        Large batches go through a staging JSON-lines file read by DuckDB, which is several
        times faster than ``executemany``. Returns the number of rows inserted.
        """
        columns = TABLES[table]
        names = [c for c, _ in columns]
        tuples = [_as_tuple(row, names) for row in rows]
        if not tuples:
            return 0
        if len(tuples) < _SMALL_INSERT:
            marks = ", ".join("?" * len(names))
            with self._lock:
                self._con.executemany(f"INSERT INTO {table.value} VALUES ({marks})", tuples)
            return len(tuples)
        fd, staging = tempfile.mkstemp(prefix="faultwise-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "wb") as out:
                out.writelines(
                    orjson.dumps(dict(zip(names, t, strict=True))) + b"\n" for t in tuples
                )
            spec = ", ".join(f"'{c}': '{'VARCHAR' if t == 'JSON' else t}'" for c, t in columns)
            with self._lock:
                self._con.execute(
                    f"INSERT INTO {table.value} SELECT * FROM read_json(?, "
                    f"format='newline_delimited', columns={{{spec}}})",
                    [staging],
                )
        finally:
            os.unlink(staging)
        return len(tuples)

    # -- the ingest summary, kept with the data ----------------------------------------------

    def record_summary(self, summary: IngestSummary) -> None:
        """Keep what an ingest read (sources, first rejects, clock findings) in the store."""
        with self._lock:
            for s in summary.sources:
                counts = [s.rows.get(t, 0) for t in Table]
                self._con.execute(
                    "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [s.source_file, s.format.value, s.service, *counts, s.rejected, s.layout],
                )
                if s.rejects:
                    self._con.executemany(
                        "INSERT INTO rejects VALUES (?, ?, ?, ?)",
                        [(r.source_file, r.source_line, r.reason, r.text) for r in s.rejects],
                    )
            if summary.clock:
                self._con.executemany(
                    "INSERT INTO clock_findings VALUES (?, ?, ?, ?)",
                    [(c.source, c.issue.value, c.offset_ns, c.detail) for c in summary.clock],
                )

    @property
    def summary(self) -> IngestSummary:
        """Everything ingested into this store so far (also after reopening a ``--db``)."""
        rejects: dict[str, list[Reject]] = {}
        for f, line, reason, text in self.query(
            "SELECT * FROM rejects ORDER BY source_file, source_line"
        ):
            rejects.setdefault(f, []).append(Reject(f, line, reason, text))
        sources = []
        for f, fmt, service, *counts, rejected, layout in self.query("SELECT * FROM sources"):
            rows = {t: n for t, n in zip(Table, counts, strict=True) if n}
            kept = tuple(rejects.get(f, ()))
            sources.append(SourceReport(f, Format(fmt), service, rows, rejected, kept, layout))
        clock = tuple(
            ClockFinding(src, ClockIssue(issue), offset, detail)
            for src, issue, offset, detail in self.query("SELECT * FROM clock_findings")
        )
        return IngestSummary(tuple(sources), clock, tuple(self.reused))

    def source_files(self) -> dict[str, tuple[int, int] | None]:
        """The files this store holds (also after reopening a ``--db``), each with its size
        and mtime in ns when it was read (None: read before stores kept them)."""
        return {
            f: None if size is None else (size, mtime_ns)
            for f, size, mtime_ns in self.query(
                "SELECT s.source_file, t.size, t.mtime_ns FROM sources s "
                "LEFT JOIN source_stamps t USING (source_file)"
            )
        }

    def record_stamp(self, name: str, size: int, mtime_ns: int) -> None:
        """Keep the size and mtime of a file as it was read (see :meth:`source_files`)."""
        with self._lock:
            self._con.execute("DELETE FROM source_stamps WHERE source_file = ?", [name])
            self._con.execute("INSERT INTO source_stamps VALUES (?, ?, ?)", [name, size, mtime_ns])

    def replaceable(self, name: str) -> bool:
        """Whether every row read from the file ``name`` can be told from other files' (spans,
        samples and changes do not keep their file; logs and configs do)."""
        mixed = self.scalar(
            "SELECT count(*) FROM sources WHERE source_file = ? AND spans + samples + changes > 0",
            [name],
        )
        return not mixed

    def forget_source(self, name: str) -> None:
        """Drop every row read from the file ``name`` (see :meth:`replaceable`) and what was
        recorded of it."""
        with self._lock:
            for table in ("logs", "sources", "rejects", "source_stamps"):
                self._con.execute(f"DELETE FROM {table} WHERE source_file = ?", [name])
            self._con.execute(f"DELETE FROM {Table.CONFIGS.value} WHERE source = ?", [name])
            self._con.execute("DELETE FROM clock_findings WHERE source = ?", [name])

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path) if self.path else ':memory:'!r})"


def _params(params: Params) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {k: _plain(v) for k, v in params.items()}
    return [_plain(v) for v in params]


def _as_tuple(row: Any, names: list[str]) -> tuple[Any, ...]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return tuple(_plain(getattr(row, n)) for n in names)
    values = tuple(_plain(v) for v in row)
    if len(values) != len(names):
        raise ValueError(f"expected {len(names)} values ({', '.join(names)}), got {len(values)}")
    return values

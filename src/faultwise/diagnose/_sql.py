"""The few SQL pieces that differ between engines, and the time scope every query runs in.

Detectors write plain SQL over the DESIGN §5 tables (``logs``, ``spans``, ``samples``,
``changes``, ``configs``) with standard aggregates, ``CASE`` and window functions. The
functions that have no standard spelling (a quantile, a regular expression, reading a key of a
JSON column) come from a :class:`Dialect`, so the same detectors run on DuckDB today and on
ClickHouse (the OpenTelemetry Collector's exporter schema behind a view layer) later.

    d = DUCKDB
    sql = f"SELECT service, {d.quantile('end_ns - start_ns', 0.95)} FROM spans GROUP BY 1"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faultwise.diagnose._model import Window

if TYPE_CHECKING:
    from faultwise.telemetry import Store
    from faultwise.telemetry._store import Params

__all__ = ["CLICKHOUSE", "DUCKDB", "Dialect", "Scope", "literal"]


def literal(text: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Dialect:
    """Engine-specific spellings: each method returns a SQL expression."""

    name: str

    def quantile(self, expr: str, q: float) -> str:
        if self.name == "clickhouse":
            return f"quantileExactInclusive({q})({expr})"  # quantile_cont's interpolation
        return f"quantile_cont({expr}, {q})"

    def matches(self, expr: str, pattern: str, words: Sequence[str] = ()) -> str:
        """True when the RE2 ``pattern`` matches somewhere in ``expr``. ``words``, when given,
        are literals of which every match holds one (any case): a cheap ``ILIKE`` test runs
        first, so the regular expression only sees the few rows that can match."""
        if self.name == "clickhouse":
            regex = f"match({expr}, {_ch_literal(pattern)})"
        else:
            regex = f"regexp_matches({expr}, {literal(pattern)})"
        if not words:
            return regex
        cheap = " OR ".join(f"{expr} ILIKE {literal('%' + w + '%')}" for w in words)
        return f"(({cheap}) AND {regex})"

    def extract(self, expr: str, pattern: str, group: int = 1) -> str:
        """The text of ``group`` in the first match of ``pattern`` (empty when none)."""
        if self.name == "clickhouse":
            return f"regexpExtract({expr}, {_ch_literal(pattern)}, {group})"
        return f"regexp_extract({expr}, {literal(pattern)}, {group})"

    def replace_all(self, expr: str, pattern: str, replacement: str) -> str:
        if self.name == "clickhouse":
            return f"replaceRegexpAll({expr}, {_ch_literal(pattern)}, {_ch_literal(replacement)})"
        return f"regexp_replace({expr}, {literal(pattern)}, {literal(replacement)}, 'g')"

    def json_text(self, column: str, key: str) -> str:
        """The value of the top-level ``key`` of a JSON column, as text (NULL when absent)."""
        if self.name == "clickhouse":
            return f"nullIf(JSONExtractString({column}, {literal(key)}), '')"
        return f"json_extract_string({column}, {literal('$.' + _json_key(key))})"

    def arg_min(self, expr: str, key: str) -> str:
        """``expr`` of the row with the smallest ``key``."""
        if self.name == "clickhouse":
            return f"argMin({expr}, {key})"
        return f"arg_min({expr}, {key})"

    def arg_max(self, expr: str, key: str) -> str:
        """``expr`` of the row with the largest ``key``."""
        if self.name == "clickhouse":
            return f"argMax({expr}, {key})"
        return f"arg_max({expr}, {key})"

    def number(self, expr: str) -> str:
        """``expr`` (text) as a DOUBLE, NULL when it is empty or not a number."""
        if self.name == "clickhouse":
            return f"toFloat64OrNull({expr})"
        return f"TRY_CAST(nullif({expr}, '') AS DOUBLE)"

    def null_text(self) -> str:
        """A NULL of the text type (ClickHouse casts NULL only to a Nullable type)."""
        if self.name == "clickhouse":
            return "CAST(NULL AS Nullable(String))"
        return "CAST(NULL AS VARCHAR)"

    def shape(self, expr: str) -> str:
        """A message with its variable parts (ids, numbers, quoted values) masked: a cheap
        template key that groups ``timeout after 3001 ms`` with ``timeout after 2999 ms``."""
        masked = self.replace_all(expr, _VARIABLE, "#")
        return f"substr({masked}, 1, 160)"


# hex ids, UUIDs, numbers (with a decimal part), quoted values, key=value values
_VARIABLE = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\b[0-9a-fA-F]{12,}\b|'[^']*'|\"[^\"]*\""
    r"|=[^\s,;\]\)]+|[0-9]+(\.[0-9]+)?"
)

DUCKDB = Dialect("duckdb")
CLICKHOUSE = Dialect("clickhouse")


def _ch_literal(text: str) -> str:
    """A ClickHouse string literal: backslash is an escape character there (``'\\b'`` would
    be a backspace, not a regex word boundary), so it is doubled."""
    return literal(text).replace("\\", "\\\\")


def _json_key(key: str) -> str:
    return key if key.replace("_", "").isalnum() else '"' + key + '"'


@dataclass(frozen=True, slots=True)
class Scope:
    """A store and the time range of it a query looks at (the incident, or its baseline).

    ``window`` keeps rows inside it; ``outside`` drops rows inside that range (the incident
    when the baseline is a window of the same data). Rows without a timestamp belong to the
    incident only (they cannot be placed in time).
    """

    store: Store
    dialect: Dialect = DUCKDB
    window: Window | None = None
    outside: Window | None = None
    keep_untimed: bool = True

    def when(self, column: str) -> str:
        """A SQL condition on the time ``column`` for this scope."""
        parts = []
        if self.window is not None:
            parts.append(f"{column} >= {self.window.start_ns} AND {column} < {self.window.end_ns}")
        if self.outside is not None:
            parts.append(
                f"NOT ({column} >= {self.outside.start_ns} AND {column} < {self.outside.end_ns})"
            )
        if not parts:
            return "TRUE" if self.keep_untimed else f"{column} IS NOT NULL"
        condition = " AND ".join(f"({p})" for p in parts)
        return f"({column} IS NULL OR ({condition}))" if self.keep_untimed else condition

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params)

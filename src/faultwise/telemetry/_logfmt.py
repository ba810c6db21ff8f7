"""logfmt (``ts=... level=info msg="hello world" user=42``), read through the JSON path.

Each line's ``key=value`` pairs become a JSON object in SQL (one ``regexp_extract_all``), so the
field table and the rest of the JSON-lines reader serve logfmt unchanged.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LOGFMT_PAIR", "is_logfmt", "logfmt_json_sql", "parse_logfmt"]

LOGFMT_PAIR = r'([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)'
_PAIR = re.compile(LOGFMT_PAIR)
_LINE = re.compile(
    r'^\s*(?:[^\s=]+=(?:"(?:[^"\\]|\\.)*"|\S*)\s+){2,}(?:[^\s=]+=(?:"(?:[^"\\]|\\.)*"|\S*))?\s*$'
)


def parse_logfmt(line: str) -> dict[str, Any]:
    """The pairs of one logfmt line, values unquoted."""
    return {k: _unquote(v) for k, v in _PAIR.findall(line)}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def is_logfmt(lines: list[str]) -> bool:
    """Most lines are three or more ``key=value`` pairs."""
    sample = [line for line in lines[:200] if line.strip()]
    return bool(sample) and sum(1 for line in sample if _LINE.match(line)) >= 0.8 * len(sample)


def logfmt_json_sql(column: str) -> str:
    """A DuckDB expression turning a logfmt line into a JSON object text."""
    pat = LOGFMT_PAIR.replace("'", "''")
    keys = f"regexp_extract_all({column}, '{pat}', 1)"
    vals = f"regexp_extract_all({column}, '{pat}', 2)"
    v, bs = "p[2]", "\\"
    unq = (
        f"CASE WHEN length({v}) >= 2 AND starts_with({v}, '\"') AND ends_with({v}, '\"') "
        f"THEN replace(replace({v}[2:-2], '{bs}\"', '\"'), '{bs}{bs}', '{bs}') ELSE {v} END"
    )
    pair = f"to_json(p[1]) || ':' || to_json({unq})"
    pairs = f"list_transform(list_zip({keys}, {vals}), lambda p: {pair})"
    return f"'{{' || array_to_string({pairs}, ',') || '}}'"

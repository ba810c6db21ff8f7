"""JSON lines with any field names: OTel, ECS, Docker json-file, Bunyan/pino, everyday spellings.

The fields are chosen from a sample of the file (its first lines) through the one mapping
table in :mod:`faultwise.telemetry._fields`; DuckDB then extracts them from every line in one
JSON parse per line (``json_extract_string(line, [paths])``). Nested objects and flat dotted
keys both match (``{"log": {"level": ..}}`` and ``{"log.level": ..}``). The whole record is
kept in ``attrs``. Lines that are not JSON objects are counted rejects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from faultwise.telemetry._fields import FIELDS, Field
from faultwise.telemetry._logsql import BLANK, LogsResult, finish_logs, quote
from faultwise.telemetry._store import Store
from faultwise.telemetry._timestamps import detect_form

__all__ = ["JsonPlan", "json_plan", "parse_json_objects", "plan_values", "read_json_lines"]

_MAX_DEPTH = 4
_MAX_CANDIDATES = 3  # spellings coalesced per field, for files that mix shapes
_TEXT_ONLY = frozenset({Field.MESSAGE})


def parse_json_objects(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The lines that are JSON objects, parsed."""
    records = []
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


def _flatten(
    record: Mapping[str, Any],
    prefix: tuple[str, ...],
    out: dict[str, tuple[str, ...]],
    kinds: dict[str, set[str]],
) -> None:
    for key, value in record.items():
        path = (*prefix, str(key))
        dotted = ".".join(path)
        if isinstance(value, dict):
            if len(path) < _MAX_DEPTH:
                _flatten(value, path, out, kinds)
            continue
        out.setdefault(dotted, path)
        kind = "str" if isinstance(value, str) else "num" if isinstance(value, int | float) else "x"
        kinds.setdefault(dotted, set()).add(kind)


def _json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in path)


class JsonPlan:
    """Which JSON paths feed which model field, chosen from sample records; ``extra`` says
    whether the records hold fields beyond those (kept in ``attrs``)."""

    def __init__(self, paths: dict[Field, list[str]], *, extra: bool = True) -> None:
        self.paths = paths
        self.extra = extra

    @property
    def found(self) -> bool:
        return Field.TS in self.paths or Field.MESSAGE in self.paths

    def extract_sql(self, column: str) -> tuple[str, dict[Field, str]]:
        """``(list expression, {field: element expression over alias j})``."""
        flat: list[str] = []
        exprs: dict[Field, str] = {}
        for field, paths in self.paths.items():
            items = []
            for p in paths:
                flat.append(p)
                items.append(f"j[{len(flat)}]")
            exprs[field] = items[0] if len(items) == 1 else f"coalesce({', '.join(items)})"
        listing = ", ".join(quote(p) for p in flat) or quote("$.__none__")
        return f"TRY(json_extract_string({column}, [{listing}]))", exprs


def json_plan(records: list[dict[str, Any]], mapping: Mapping[Field, str]) -> JsonPlan:
    """Pick each field's JSON paths from ``records`` (a sample), explicit ``mapping`` first."""
    present: dict[str, tuple[str, ...]] = {}
    kinds: dict[str, set[str]] = {}
    for record in records:
        _flatten(record, (), present, kinds)
    chosen: dict[Field, list[str]] = {}
    used: set[str] = set()
    for field in Field:
        names = [mapping[field]] if field in mapping else list(FIELDS[field])
        picked = []
        for name in names:
            if name not in present or name in used:
                continue
            if field in _TEXT_ONLY and kinds[name] != {"str"}:
                continue
            picked.append(_json_path(present[name]))
            used.add(name)
            if len(picked) == _MAX_CANDIDATES:
                break
        if field in mapping and not picked:
            picked.append(_json_path(tuple(mapping[field].split("."))))
        if picked:
            chosen[field] = picked
    chosen_paths = {p for paths in chosen.values() for p in paths}
    extra = any(_json_path(path) not in chosen_paths for path in present.values())
    return JsonPlan(chosen, extra=extra or not records)


def _rtrim(expr: str) -> str:
    return f"rtrim({expr}, chr(10) || chr(13))"


def staged_json_sql(lines: str, plan: JsonPlan, *, trim_message: bool = True) -> str:
    """The staged-columns query (see :mod:`._logsql`) over ``lines``, a table or subquery with
    columns ``n``, ``line`` (a JSON object text) and ``raw`` (the line as written)."""
    listing, ex = plan.extract_sql("line")

    def col(field: Field) -> str:
        return ex.get(field, "NULL")

    return (
        f"SELECT n, {col(Field.TS)} AS raw_ts, "
        f"{_rtrim(col(Field.MESSAGE)) if trim_message else col(Field.MESSAGE)} AS message, "
        f"{col(Field.SEVERITY)} AS sev_text, {col(Field.SEVERITY_NUMBER)} AS sev_num, "
        f"{col(Field.SERVICE)} AS service, {col(Field.POD)} AS pod, "
        f"{col(Field.INSTANCE)} AS instance, {col(Field.TRACE_ID)} AS trace_id, "
        f"{col(Field.SPAN_ID)} AS span_id, {col(Field.REQUEST_ID)} AS request_id, "
        f"{col(Field.THREAD)} AS thread, {'line' if plan.extra else 'NULL'} AS attrs, "
        f"CASE WHEN raw IS NULL THEN {BLANK} WHEN j IS NULL THEN 'not a JSON object' END "
        f"AS reject, raw FROM (SELECT n, line, raw, {listing} AS j FROM {lines})"
    )


_JSON_REASON = "CASE WHEN json_valid(raw) THEN 'no readable timestamp' ELSE 'not a JSON object' END"


def read_json_lines(
    store: Store,
    lines: str,
    records: list[dict[str, Any]],
    *,
    source: str,
    day: str,
    default_service: str | None,
    mapping: Mapping[Field, str],
) -> LogsResult:
    """Read staged JSON lines (see :func:`staged_json_sql`) into ``logs``; ``records`` is a
    parsed sample that decides the field mapping."""
    plan = json_plan(records, mapping)
    return finish_logs(
        store,
        staged_json_sql(lines, plan, trim_message=_ends_with_newline(records, plan)),
        reason=_JSON_REASON,
        source=source,
        ts_form=detect_form(plan_values(records, plan, Field.TS)),
        day=day,
        default_service=default_service,
        has_ts=Field.TS in plan.paths,
    )


def plan_values(records: list[dict[str, Any]], plan: JsonPlan, field: Field) -> list[str]:
    paths = plan.paths.get(field, [])
    values = []
    for record in records:
        for path in paths:
            value: Any = record
            for key in _split_path(path):
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                values.append(str(value))
                break
    return values


def _split_path(path: str) -> list[str]:
    return [k.replace('\\"', '"') for k in path[3:-1].split('"."')]


def _ends_with_newline(records: list[dict[str, Any]], plan: JsonPlan) -> bool:
    """Whether messages carry their line break (Docker's ``log`` field does)."""
    return any(v.endswith(("\n", "\r")) for v in plan_values(records, plan, Field.MESSAGE))

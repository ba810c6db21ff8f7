"""The shared last step of every bulk log reader: unwrap, normalise, insert, count rejects.

A reader builds one SQL query over its staged lines that yields the VARCHAR columns named in
:data:`STAGED` (``n`` is the line number; ``reject`` a reason when the reader already knows the
line is bad; ``raw`` the line, shown for rejects). This module then

1. unwraps what sits inside the message, up to two layers: a JSON object (Docker's json-file
   ``{"log": ..}`` in a CSV column, a JSON log line behind a CRI prefix) fills the fields the
   outer record lacks; a text header (a Java, Python, Go ... layout, see :mod:`._text`) gives
   the level, thread and the bare message, and its own timestamp, which is compared with the
   record's to find clocks written in local time or skewed;
2. normalises: timestamps to UTC ns, level words and numbers to :class:`Severity`, service
   from the field, else the pod name without its Kubernetes suffixes, else the file name;
3. inserts into ``logs``. A line without a readable timestamp is a reject when its file has
   timestamps; a file with none at all (plain messages) is kept with NULL times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faultwise.telemetry._fields import SEVERITY_WORDS, Field
from faultwise.telemetry._model import ClockFinding, ClockIssue, Reject
from faultwise.telemetry._services import POD_SUFFIX_SQL
from faultwise.telemetry._source import KEEP_REJECTS
from faultwise.telemetry._store import Store
from faultwise.telemetry._text import Header, HeaderMatch, Parts, detect_header
from faultwise.telemetry._timestamps import TsForm, ts_sql

__all__ = [
    "BLANK",
    "STAGED",
    "LogsResult",
    "clock_findings",
    "finish_logs",
    "quote",
    "severity_sql",
    "staged_select",
]

STAGED = (
    "n",
    "raw_ts",
    "message",
    "sev_text",
    "sev_num",
    "service",
    "pod",
    "instance",
    "trace_id",
    "span_id",
    "request_id",
    "thread",
    "attrs",
    "reject",
    "raw",
)
_STAGED_LIST = ", ".join(STAGED)
BLANK = "'blank'"
"""The ``reject`` of a blank line: not a record and not a reject, dropped without a count."""
_DAY_NS = 86_400 * 10**9
_CLOCK_SAMPLE = 20_000
# A line that matches no header but starts like a record of another layout is not a
# continuation: it stays on its own (and, without a timestamp, is a counted reject).
_RECORD_START = r"^([0-9<\[{]|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) )"
_QUARTER_HOUR_NS = 900 * 10**9


@dataclass(frozen=True, slots=True)
class LogsResult:
    inserted: int
    rejected: int
    rejects: tuple[Reject, ...]
    clock: tuple[ClockFinding, ...] = field(default=())
    layers: tuple[str, ...] = field(default=())  # what was unwrapped: "json", "logback" ...


def staged_select(source: str, **exprs: str) -> str:
    """``SELECT <every staged column> FROM source``: the given expressions, NULL for the rest."""
    cols = ", ".join(f"{exprs.get(c, 'CAST(NULL AS VARCHAR)')} AS {c}" for c in STAGED)
    return f"SELECT {cols} FROM {source}"


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def severity_sql(text: str, number: str) -> str:
    """Severity from a level word or number (``text``) or an OTel SeverityNumber (``number``).

    The plain level word is tried first (one hash of a short string); the rest only for the
    rows it does not settle (CASE evaluates its branches lazily, COALESCE does not)."""
    words = " ".join(f"WHEN {quote(w)} THEN {int(sev)}" for w, sev in SEVERITY_WORDS.items())
    num = f"TRY_CAST({number} AS INTEGER)"
    txt_num = f"TRY_CAST({text} AS INTEGER)"
    # OTel SeverityNumber 1..24 in a number field; pino/bunyan 10..60 in a level field.
    otel = (
        "" if number == "NULL" else f"WHEN {num} BETWEEN 1 AND 24 THEN (({num} - 1) // 4) * 4 + 1 "
    )
    fallback = (
        f"CASE {otel}"
        f"WHEN {txt_num} IS NOT NULL THEN least(21, greatest(1, ({txt_num} // 10 - 1) * 4 + 1)) "
        f"ELSE CASE upper(trim({text})) {words} ELSE 0 END END"
    )
    return f"CASE upper({text}) {words} ELSE {fallback} END"


@dataclass(frozen=True, slots=True)
class _Layer:
    sql: str
    sample: list[str]
    name: str
    inner_form: TsForm | None = None  # a timestamp found inside the message, in this form
    ts_form: TsForm | None = None  # the record's own timestamps came from this layer
    merged: bool = False  # lines were joined into records: ``n`` is each record's first line


def _sample_messages(store: Store, sql: str) -> list[str]:
    rows = store.query(f"SELECT message FROM ({sql}) WHERE message IS NOT NULL LIMIT 300")
    return [str(r[0]) for r in rows]


def _unwrap_json(sql: str, sample: list[str]) -> _Layer | None:
    from faultwise.telemetry._jsonl import json_plan, parse_json_objects, plan_values

    records = parse_json_objects(sample)
    if not records or len(records) < 0.5 * len(sample):
        return None
    plan = json_plan(records, {})
    if Field.MESSAGE not in plan.paths:
        return None
    listing, ex = plan.extract_sql("message")
    fill = {
        "raw_ts": Field.TS,
        "sev_text": Field.SEVERITY,
        "sev_num": Field.SEVERITY_NUMBER,
        "service": Field.SERVICE,
        "pod": Field.POD,
        "instance": Field.INSTANCE,
        "trace_id": Field.TRACE_ID,
        "span_id": Field.SPAN_ID,
        "request_id": Field.REQUEST_ID,
        "thread": Field.THREAD,
    }
    cols = []
    for name in STAGED:
        if name == "message":
            inner_msg = f"rtrim({ex[Field.MESSAGE]}, chr(10) || chr(13))"
            cols.append(f"coalesce({inner_msg}, message) AS message")
        elif name in fill and fill[name] in ex:
            cols.append(f"coalesce(nullif({name}, ''), {ex[fill[name]]}) AS {name}")
        else:
            cols.append(name)
    inner = (
        f"SELECT *, CASE WHEN starts_with(ltrim(message), '{{') THEN {listing} END AS j "
        f"FROM ({sql})"
    )
    messages = [str(v).rstrip("\r\n") for v in plan_values(records, plan, Field.MESSAGE)]
    return _Layer(f"SELECT {', '.join(cols)}, inner_ts FROM ({inner})", messages, "json")


def _severity_words_sql(h: str, header: HeaderMatch) -> str:
    groups = header.header.read
    if "level" in groups:
        return f"nullif({h}.level, '')"
    if "pri" in groups:  # RFC 5424 severity = PRI mod 8
        p = f"TRY_CAST({h}.pri AS INTEGER) % 8"
        return (
            f"CASE WHEN {p} <= 2 THEN 'FATAL' WHEN {p} = 3 THEN 'ERROR' WHEN {p} = 4 THEN 'WARN' "
            f"WHEN {p} <= 6 THEN 'INFO' WHEN {p} = 7 THEN 'DEBUG' END"
        )
    if "status" in groups:  # an access log: 5xx is an error, 4xx a warning
        s = f"TRY_CAST({h}.status AS INTEGER)"
        return f"CASE WHEN {s} >= 500 THEN 'ERROR' WHEN {s} >= 400 THEN 'WARN' ELSE 'INFO' END"
    return "NULL"


def _unwrap_header(
    sql: str, sample: list[str], *, has_ts: bool, merge: bool, min_share: float
) -> _Layer | None:
    found = detect_header(sample, min_share=min_share)
    if found is None:
        return None
    header = found.header
    grp = header.read
    message = "msg_joined" if merge else "h.msg"
    if "request" in grp:
        message = f"concat_ws(' ', h.request, h.status, {message})"
    head_ts = "nullif(h.ts, '')" if "ts" in grp else "NULL"
    cols = {
        "raw_ts": "raw_ts" if has_ts else f"coalesce(raw_ts, {head_ts})",
        "message": f"CASE WHEN ok THEN {message} ELSE message END",
        "sev_text": f"coalesce(sev_text, {_severity_words_sql('h', found)})",
        "service": "coalesce(service, nullif(h.app, ''))" if "app" in grp else "service",
        "instance": "coalesce(instance, nullif(h.host, ''))" if "host" in grp else "instance",
        "thread": "coalesce(thread, nullif(h.thread, ''))" if "thread" in grp else "thread",
    }
    select = ", ".join(f"{cols[c]} AS {c}" if c in cols else c for c in STAGED)
    inner_ts = f"coalesce(inner_ts, {head_ts})" if has_ts else "inner_ts"
    parsed = _parsed(sql, header)
    if merge:  # continuation lines (stack traces) join the record their header started
        parsed = _merged(parsed, header.parts)
    out = f"SELECT {select}, {inner_ts} AS inner_ts FROM ({parsed})"
    unwrapped = []
    for line in sample:
        m = header.regex.match(line)
        unwrapped.append(m.group("msg") if m else line)
    return _Layer(
        out,
        unwrapped,
        header.name,
        inner_form=found.ts_form if has_ts else None,
        ts_form=None if has_ts else found.ts_form,
        merged=merge,
    )


def _parsed(sql: str, header: Header) -> str:
    """The rows of ``sql`` with ``h``, the struct of the groups of ``header`` their message
    holds (each '' when it has none, NULL for a NULL message), and ``ok``, whether it has one.

    In the form RE2 runs fastest: the header without the message (the rest of the line) is
    matched first without captures (RE2's DFA finds where it ends), then the groups are
    captured in that head alone, where the pattern takes RE2's one-pass path when it can.
    These are the groups the whole pattern captures: its message ``(.*)$`` takes any rest
    without a line break, so the whole pattern's first match (RE2, like Python, prefers in
    the pattern's order) is the head's first match and the rest, and the head matched again
    to its end parses the same way. A message with a line break (a JSON message unwrapped)
    takes the whole pattern, whose ``.`` stops at the break."""
    names = ", ".join(quote(g) for g in header.read[:-1])  # ``msg`` is last
    whole = f"regexp_extract(message, {quote(header.positional)}, [{names}, 'msg'])"
    rest = "CASE WHEN head <> '' THEN substr(message, length(head) + 1) ELSE '' END"
    in_head = f"regexp_extract(head, {quote(f'(?:{header.head})$')}, [{names}])"
    key = "ts" if "ts" in header.read else header.read[0]
    return (
        f"SELECT * REPLACE (CASE WHEN h.{key} <> '' THEN NULL ELSE message END AS message), "
        f"h.{key} <> '' AS ok FROM (SELECT * EXCLUDE (head), CASE WHEN head IS NULL "
        f"THEN {whole} ELSE struct_insert({in_head}, msg := {rest}) END AS h FROM (SELECT *, "
        f"CASE WHEN NOT contains(message, chr(10)) THEN regexp_extract(message, "
        f"{quote(header.head)}) END AS head FROM ({sql})))"
    )


def _merged(parsed: str, parts: Parts | None = None) -> str:
    """Group each header line with the lines after it that match no header (stack traces),
    and, with ``parts``, with the part lines that belong to it (see :class:`Parts`).

    ``parsed`` holds every line of the file, numbered (``n``); ``n`` of a record is the number
    of its first line. A continuation line finds the line it continues with an ASOF join on
    ``n``, and a part line its record with an ASOF join on the process and ``n`` (no window
    over every line in order); only the records with such lines go through the GROUP BY (few
    in most files), their lines found by joining the numbers of those lines (no record's first
    line belongs to another record, so no line is found twice); the others pass through as
    they are."""
    # A record's fields are the first ones its lines give; its reject is its first line's,
    # NULL included (a blank line inside a stack trace does not make the record blank).
    kept = [c for c in (*STAGED[1:], "inner_ts") if c not in ("message", "raw")]
    firsts = ", ".join(f"arg_min{'_null' if c == 'reject' else ''}({c}, n) AS {c}" for c in kept)
    # A line that is no header continues the record above, unless it starts like a record of
    # another layout or no header came before it: then it stays alone.
    other = f"NOT coalesce(ok, false) AND regexp_matches(message, {quote(_RECORD_START)})"
    conts = (
        f"(SELECT n FROM lines WHERE NOT coalesce(ok, false) AND NOT coalesce({other}, false)) c "
        "ASOF JOIN (SELECT n AS head FROM lines WHERE ok) h ON c.n >= h.head"
    )
    text = "CASE WHEN ok THEN h.msg ELSE message END"
    singles = (
        f"SELECT n, h, ok, {text} AS msg_joined, message, raw, {', '.join(kept)} FROM lines "
        "WHERE n NOT IN (SELECT n FROM members) AND n NOT IN (SELECT head FROM heads) "
    )
    if parts is not None:
        ctes, grouped = _parts_sql(parts, conts, firsts)
        return f"WITH lines AS MATERIALIZED ({_with_label(parsed, parts)}), {ctes} " + (
            f"{singles}UNION ALL BY NAME {grouped}"
        )
    return (
        f"WITH lines AS MATERIALIZED (SELECT * FROM ({parsed})), "
        f"members AS MATERIALIZED (SELECT c.n, h.head FROM {conts}), "
        "heads AS MATERIALIZED (SELECT DISTINCT head FROM members) "
        f"{singles}UNION ALL BY NAME "
        "SELECT min(n) AS n, arg_min(h, n) AS h, bool_or(ok) AS ok, "
        f"string_agg({text}, chr(10) ORDER BY n) AS msg_joined, "
        f"arg_min(message, n) AS message, arg_min(raw, n) AS raw, {firsts} "
        "FROM (SELECT l.*, c.head AS grp FROM lines l JOIN (SELECT n, head FROM members "
        "UNION ALL SELECT head, head FROM heads) c ON l.n = c.n) GROUP BY grp"
    )


def _with_label(parsed: str, parts: Parts) -> str:
    """The parsed lines with the ``label`` of each part line: a header line without a level
    whose message starts ``LABEL:  ``."""
    labels = "|".join(parts.labels)
    return (
        "SELECT *, CASE WHEN ok AND h.level = '' THEN "
        f"nullif(regexp_extract(h.msg, '^({labels}):  ', 1), '') END AS label FROM ({parsed})"
    )


def _parts_sql(parts: Parts, conts: str, firsts: str) -> tuple[str, str]:
    """The CTEs that find each line's record (``members``, ``heads``) and the query that
    groups the records with several lines, their parts' texts as attributes."""
    # A part line joins the last record line of its process above it when their times match
    # (else it stays a record of its own); a continuation line joins the record of the line
    # it continues, in that line's part.
    keys = ", ".join(f"h.{k} AS k_{k}" for k in (parts.key, *parts.same))
    match = " AND ".join(f"p.k_{k} = r.k_{k}" for k in parts.same) or "true"
    ctes = (
        f"parts AS MATERIALIZED (SELECT p.n, r.head, p.label FROM (SELECT n, label, {keys} "
        "FROM lines WHERE label IS NOT NULL) p ASOF JOIN (SELECT n AS head, "
        f"{keys} FROM lines WHERE ok AND label IS NULL) r ON p.k_{parts.key} = r.k_{parts.key} "
        f"AND p.n >= r.head WHERE {match}), "
        "conts AS MATERIALIZED (SELECT c.n, coalesce(p.head, h.head) AS head, p.label "
        f"FROM {conts} LEFT JOIN parts p ON p.n = h.head), "
        "members AS MATERIALIZED (SELECT n, head, label FROM parts UNION ALL "
        "SELECT n, head, label FROM conts), "
        "heads AS MATERIALIZED (SELECT DISTINCT head FROM members), "
        "record_lines AS MATERIALIZED (SELECT n, head, label FROM members UNION ALL "
        "SELECT head, head, NULL FROM heads)"
    )
    continued = (
        f"CASE WHEN starts_with(message, {quote(parts.indent)}) "
        f"THEN substr(message, {len(parts.indent) + 1}) ELSE message END"
        if parts.indent
        else "message"
    )
    text = (  # a part line's text follows "LABEL:  " (see _with_label)
        "CASE WHEN m.label IS NOT NULL AND l.label IS NOT NULL "
        f"THEN substr(h.msg, length(m.label) + 4) WHEN ok THEN h.msg ELSE {continued} END"
    )

    # A record's lines are gathered unordered (an ordered aggregate sorts every group's rows,
    # and costs more than the rest of the grouping) and sorted per record, few lines each; the
    # texts of a part are joined as string_agg joins them (NULLs skipped, none: NULL).
    def joined(part: str) -> str:
        texts = f"list_transform(list_filter(items, lambda x: x.part {part}), lambda x: x.text)"
        return f"list_aggregate({texts}, 'string_agg', chr(10))"

    values = ", ".join(
        f"{joined(f'= {quote(label)}')} AS part_{i}" for i, label in enumerate(parts.labels)
    )
    # The record's first line is its header line (no line of a record comes before it, and
    # it has a header: ``ok``), so its ``h`` and ``raw`` are the record's. The record lines
    # are picked from ``lines`` by a semi join first: it builds its hash table on those few
    # numbers, where a plain join could build one on every line (the estimate of a CTE's rows
    # can be far too low).
    gathered = (
        "SELECT grp, any_value(h) FILTER (WHERE n = grp) AS h, bool_or(ok) AS ok, "
        "list_sort(list({'n': n, 'part': part, 'text': text})) AS items, "
        f"arg_min(message, n) AS message, any_value(raw) FILTER (WHERE n = grp) AS raw, {firsts} "
        f"FROM (SELECT l.*, m.head AS grp, m.label AS part, {text} AS text "
        "FROM (SELECT * FROM lines WHERE n IN (SELECT n FROM record_lines)) l "
        "JOIN record_lines m ON l.n = m.n) GROUP BY grp"
    )
    grouped = (
        f"SELECT grp AS n, * EXCLUDE (grp, items), {joined('IS NULL')} AS msg_joined, {values} "
        f"FROM ({gathered})"
    )
    columns = ", ".join(f"part_{i}" for i in range(len(parts.labels)))
    attrs = f"coalesce({_attributes_json(parts)}, attrs)"
    return ctes, f"SELECT * EXCLUDE (attrs, {columns}), {attrs} AS attrs FROM ({grouped})"


_LOCATION = r"^(?:(.*), )?([^,]*):([0-9]+)$"  # elog.c: "function, file:line" or "file:line"


def _attributes_json(parts: Parts) -> str:
    """The attributes of a record from its parts' texts (``part_0`` ...) as a JSON object, or
    NULL when it has none (``json_merge_patch`` drops the keys whose value is null)."""
    pairs = []
    for i, (label, name) in enumerate(parts.attributes):
        value = f"part_{i}"
        if label != parts.location:
            pairs.append(f"{quote(name)}, {value}")
            continue
        where = f"regexp_extract({value}, {quote(_LOCATION)}, ['function', 'file', 'line'])"
        pairs += [
            f"'code.function.name', nullif({where}.function, '')",
            f"'code.file.path', nullif({where}.file, '')",
            f"'code.line.number', TRY_CAST(nullif({where}.line, '') AS INTEGER)",
            f"{quote(name)}, CASE WHEN NOT regexp_matches({value}, {quote(_LOCATION)}) "
            f"THEN {value} END",
        ]
    merged = f"json_merge_patch('{{}}', json_object({', '.join(pairs)}))"
    return f"nullif(CAST({merged} AS VARCHAR), '{{}}')"


def _layers(store: Store, sql: str, *, has_ts: bool, text_file: bool) -> list[_Layer]:
    layers: list[_Layer] = []
    sample = _sample_messages(store, sql)
    current = f"SELECT {_STAGED_LIST}, CAST(NULL AS VARCHAR) AS inner_ts FROM ({sql})"
    for depth in range(2):
        layer = _unwrap_json(current, sample)
        if layer is None:
            first_text = text_file and depth == 0
            layer = _unwrap_header(
                current,
                sample,
                has_ts=has_ts or any(x.ts_form for x in layers),
                merge=first_text,
                min_share=0.2 if first_text else 0.5,
            )
        if layer is None:
            break
        layers.append(layer)
        current, sample = layer.sql, layer.sample
    return layers or [_Layer(current, sample, "")]


def finish_logs(
    store: Store,
    staged_sql: str,
    *,
    source: str,
    ts_form: TsForm | None,
    day: str,
    default_service: str | None,
    has_ts: bool = True,
    text_file: bool = False,
    numbered: bool = False,
    reason: str = "'no readable timestamp'",
    raw_of: str | None = None,
) -> LogsResult:
    """Insert the rows of ``staged_sql`` into ``logs``; return counts and the first rejects.

    One pass, in one transaction: every staged row goes into ``logs``, the unreadable ones
    (rejects) and blank lines marked (``template_id`` -1 and -2) with their text in
    ``attrs``; then the rejects are counted, the first ones kept, and the marked rows deleted.
    So the input is read once, and no second scan finds the rejects.

    Line numbers: with ``numbered``, ``n`` of the staged rows is the line number (CSV rows,
    and text lines, staged in a table and numbered by rowid). Otherwise the staged rows are
    the file's lines, one row each, in order (see :func:`faultwise.telemetry._source.stage_sql`),
    and a line's number is the position of its row among the rows inserted, read from their
    ``rowid``s: the load runs on every thread, where numbering the lines while reading
    (``row_number() OVER ()``) would run on one. Records joined from several lines (stack
    traces) carry the number of their first line.

    ``reason`` (an expression over ``raw``) says why a row was rejected; ``raw_of``, a query
    of ``(n, raw)``, gives a reject's text when the staged rows do not carry it (CSV rows).
    """
    con = store.connection
    layers = _layers(store, staged_sql, has_ts=has_ts, text_file=text_file)
    final = layers[-1].sql
    merged = any(x.merged for x in layers)
    inner_form = next((x.inner_form for x in layers if x.inner_form), None)
    # Ids come from the staged rows or a JSON layer: a text file without one has none to check.
    ids_read = not text_file or any(x.name == "json" for x in layers)
    # Records joined from lines are materialised once when a query below reads them again.
    kept = merged and (ids_read or inner_form is not None)
    if kept:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _grouped AS {final}")
        final = "SELECT * FROM _grouped"
    found_form = next((x.ts_form for x in layers if x.ts_form), None)
    timed = has_ts or found_form is not None
    ts = ts_sql("raw_ts", ts_form if has_ts else found_form, day=day)
    service = (
        "coalesce(nullif(service, ''), "
        f"nullif(regexp_replace(pod, '{POD_SUFFIX_SQL}', ''), ''), "
        f"{quote(default_service) if default_service else 'NULL'})"
    )
    ids = _id_sql(store, final) if ids_read else dict.fromkeys(_IDS, "NULL")
    normalised = (
        f"SELECT n, CASE WHEN reject IS NULL THEN {ts} END AS ts_ns, {service} AS service, "
        "coalesce(pod, instance) AS instance, "
        f"CAST({severity_sql('sev_text', 'sev_num')} AS TINYINT) AS severity, "
        f"coalesce(message, raw, '') AS message, {ids['trace_id']} AS trace_id, "
        f"{ids['span_id']} AS span_id, request_id, thread, attrs, reject, raw FROM ({final})"
    )
    ok = "reject IS NULL AND ts_ns IS NOT NULL" if timed else "reject IS NULL"
    mark = (
        f"CASE WHEN {ok} THEN NULL WHEN reject = {BLANK} THEN {_BLANK_ROW} ELSE {_REJECT_ROW} END"
    )
    con.begin()
    try:
        before = _scalar(store, "SELECT coalesce(max(rowid), -1) FROM logs", [])
        total = _scalar(
            store,
            f"INSERT INTO logs SELECT ts_ns, service, instance, severity, message, {mark}, "
            f"trace_id, span_id, request_id, thread, CASE WHEN {ok} THEN attrs ELSE raw END, "
            f"?, n FROM ({normalised})",
            [source],
        )
        if not (numbered or merged):
            _number_by_rowid(store, before, total)
        blank = _scalar(
            store,
            f"SELECT count(*) FROM logs WHERE rowid > ? AND template_id = {_BLANK_ROW}",
            [before],
        )
        rejected, rejects = _take_rejects(store, before, reason, raw_of)
        con.execute("DELETE FROM logs WHERE rowid > ? AND template_id < 0", [before])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    clock = _clock_offset(store, source, final, ts, (inner_form, day)) if inner_form else ()
    if kept:
        con.execute("DROP TABLE _grouped")
    names = tuple(x.name for x in layers if x.name)
    return LogsResult(total - blank - rejected, rejected, rejects, clock, names)


_REJECT_ROW = -1  # ``template_id`` of an inserted row that is a reject, until it is deleted
_BLANK_ROW = -2  # ... of a blank line


def _number_by_rowid(store: Store, before: int, total: int) -> None:
    """Set ``source_line`` of the rows just inserted (``rowid > before``, one per line, in the
    file's order) to their position. Their rowids are consecutive; checked, not assumed."""
    first, last = store.connection.execute(
        "SELECT min(rowid), max(rowid) FROM logs WHERE rowid > ?", [before]
    ).fetchone() or (None, None)
    if total and (first is None or last - first + 1 != total):
        raise RuntimeError(f"inserted rows are not contiguous ({first}..{last} for {total})")
    store.connection.execute(
        "UPDATE logs SET source_line = rowid - ? + 1 WHERE rowid > ?", [first, before]
    )


def _take_rejects(
    store: Store, before: int, reason: str, raw_of: str | None
) -> tuple[int, tuple[Reject, ...]]:
    """Count the rejected rows just inserted and keep the first ones."""
    con = store.connection
    where = f"FROM logs WHERE rowid > ? AND template_id = {_REJECT_ROW}"
    rejected = _scalar(store, f"SELECT count(*) {where}", [before])
    if not rejected:
        return 0, ()
    first = (
        f"SELECT source_file, source_line AS n, attrs AS raw {where} "
        f"ORDER BY source_line LIMIT {KEEP_REJECTS}"
    )
    if raw_of is not None:
        first = (
            f"SELECT k.source_file, k.n, coalesce(k.raw, r.raw) AS raw FROM ({first}) k "
            f"LEFT JOIN ({raw_of}) r USING (n)"
        )
    rows = con.execute(
        f"SELECT source_file, n, {reason}, left(raw, 200) FROM ({first}) ORDER BY n", [before]
    ).fetchall()
    return rejected, tuple(Reject(str(f), int(n), str(why), text or "") for f, n, why, text in rows)


def _scalar(store: Store, sql: str, params: list[object]) -> int:
    row = store.connection.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


_IDS = ("trace_id", "span_id")


def _id_sql(store: Store, final: str) -> dict[str, str]:
    """Ids as written when a sample shows them already trimmed lowercase, else normalised."""
    out = {}
    for column in _IDS:
        sample = store.query(f"SELECT {column} FROM ({final}) WHERE {column} <> '' LIMIT 200")
        clean = all(str(v) == str(v).strip().lower() for (v,) in sample)
        out[column] = f"nullif({column}, '')" if clean else f"nullif(lower(trim({column})), '')"
    return out


def _clock_offset(
    store: Store, source: str, final: str, ts: str, inner: tuple[TsForm, str]
) -> tuple[ClockFinding, ...]:
    """Compare the time written in the message text with the record's own timestamp (on the
    first records, enough to see a whole-hour offset)."""
    form, day = inner
    inner_ns = ts_sql("inner_ts", form, day=day)
    diff = "inner_ns::HUGEINT - ts_ns"
    if form is TsForm.TIME:  # a time of day only: the offset modulo one day, in (-12 h, 12 h]
        diff = f"((({diff}) % {_DAY_NS}) + {_DAY_NS} + {_DAY_NS // 2}) % {_DAY_NS} - {_DAY_NS // 2}"
    row = store.query(
        f"SELECT TRY_CAST(median({diff}) AS BIGINT), count(*) FROM (SELECT {ts} AS ts_ns, "
        f"{inner_ns} AS inner_ns FROM ({final}) WHERE inner_ts IS NOT NULL LIMIT {_CLOCK_SAMPLE}) "
        "WHERE inner_ns IS NOT NULL AND ts_ns IS NOT NULL"
    )
    if not row or row[0][0] is None:
        return ()
    offset, n = int(row[0][0]), int(row[0][1])
    return clock_findings(
        f"{source} (times inside the messages)", offset, n, "the record timestamps"
    )


def clock_findings(source: str, offset: int, n: int, reference: str) -> tuple[ClockFinding, ...]:
    """A timezone finding for a whole-quarter-hour offset of 30 min or more, a skew finding for
    one of a second or more, else none."""
    rounded = round(offset / _QUARTER_HOUR_NS) * _QUARTER_HOUR_NS
    if abs(rounded) >= 2 * _QUARTER_HOUR_NS and abs(offset - rounded) < 120 * 10**9:
        hours, rest = divmod(abs(rounded) // 10**9 // 60, 60)
        zone = f"UTC{'+' if rounded > 0 else '-'}{hours:02d}:{rest:02d}"
        return (
            ClockFinding(
                source,
                ClockIssue.TIMEZONE,
                offset,
                f"times are {_human(offset)} {'ahead of' if offset > 0 else 'behind'} "
                f"{reference} ({n:,} compared): local time ({zone}) written without a zone",
            ),
        )
    if abs(offset) >= 10**9:
        return (
            ClockFinding(
                source,
                ClockIssue.SKEW,
                offset,
                f"times are {_human(offset)} {'ahead of' if offset > 0 else 'behind'} "
                f"{reference} ({n:,} compared)",
            ),
        )
    return ()


def _human(ns: int) -> str:
    seconds = abs(ns) / 1e9
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h".replace(".00 h", " h")
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"

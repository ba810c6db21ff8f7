"""Log templates: group messages that differ only in their variable parts.

Two steps, built for speed on large inputs:

1. **Masks** (in DuckDB, one ``regexp_replace`` over every message, all cores): UUIDs, IPv4
   and IPv6 addresses, hex numbers, ISO and syslog-style date-times, times, URLs, e-mail
   addresses, paths, and numbers with an optional unit (durations, sizes, percentages) become
   ``<*>``. Identical masked messages collapse into one row with a count, so a million lines
   usually leave a few thousand distinct shapes.
2. **Grouping** (in Python, over the distinct shapes only), after Brain (Yu et al., "Brain: Log
   Parsing with Bidirectional Parallel Tree", IEEE TSC 2023) with Drain's first-token rule
   (He et al., ICWS 2017): tokens that still hold a digit or a masked part are variables
   (``key=value`` keeps its key); shapes are grouped by length, then by their longest common
   pattern, the set of tokens sharing the frequency most of the shape's tokens share; a
   group is split on a column whose values differ in the first token, or take at most
   :data:`SPLIT_VALUES` values each seen at least twice (``Failed``/``Accepted``,
   ``HTTPS``/``SOCKS5``); any other differing column is a variable.

There is no per-dataset setting. On the 16 Loghub 2k systems the defaults give the grouping
accuracy in ``docs/telemetry.md`` (measured by ``tests/telemetry/test_templates_loghub.py``).

    miner = mine_templates(["Failed password for root from 10.0.0.1", ...])
    miner.templates[miner.assignments[0]]   # 'Failed password for root from <*>'
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faultwise.telemetry._store import Store

__all__ = [
    "REDUCE",
    "SPLIT_VALUES",
    "WILDCARD",
    "Templates",
    "assign_templates",
    "ensure_templates",
    "group_shapes",
    "mine_templates",
    "reduce",
    "reduce_sql",
]

WILDCARD = "<*>"
SPLIT_VALUES = 4

_HEX = "[0-9a-fA-F]"
# Step 1, the reduction: long ids and digit runs shrink, so one distinct row stands for
# every message of one shape. It never merges messages step 2 would tell apart: step 2 only
# asks whether a token holds a digit, and whether a single digit ends a word.
# One pattern, one pass: a UUID, a run of 8+ hex characters, or a run of 2+ digits.
REDUCE = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}|{_HEX}{{8,}}|[0-9][0-9]+"
_REDUCE = re.compile(REDUCE)
_MONTHS_DAYS = frozenset(
    [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]
)
_DIGIT = re.compile(r"[0-9]")
_WORD_WITH_DIGIT = re.compile(r"^[A-Za-z][A-Za-z_]+[0-9]$")  # SOCKS5, ssh2, eth0: names
_KEY = re.compile(r"^([A-Za-z_][A-Za-z_.\-]*[=:])")
_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z_.\-]*=)(?![A-Za-z]+$)\S")  # word values stay
_LOCATOR = re.compile(r"://|^[(\[\"']?/[^/\s]+/|^[\w.%+-]+@[\w-]+\.[\w.]+")  # URL, path, e-mail


def reduce(text: str) -> str:
    """Step 1 in Python: the first line, ids and digit runs shrunk (the twin of the SQL)."""
    return _REDUCE.sub("00", text.split("\n", 1)[0])


def reduce_sql(expr: str) -> str:
    """Step 1 in DuckDB: the same reduction of the VARCHAR expression ``expr``."""
    return f"regexp_replace(split_part(coalesce({expr}, ''), chr(10), 1), '{REDUCE}', '00', 'g')"


def _token(token: str) -> str:
    kv = _KEY_VALUE.match(token)
    if kv:
        return kv.group(1) + WILDCARD
    if _DIGIT.search(token) and not _WORD_WITH_DIGIT.match(token):
        key = _KEY.match(token)
        return key.group(1) + WILDCARD if key else WILDCARD
    if _LOCATOR.search(token) or token.rstrip(",") in _MONTHS_DAYS:
        return WILDCARD
    return token


def tokens(masked: str) -> tuple[str, ...]:
    return tuple(_token(t) for t in masked.split())


def group_shapes(shapes: Sequence[str], counts: Sequence[int]) -> list[str]:
    """The template of each reduced message in ``shapes`` (seen ``counts`` times each)."""
    index: dict[tuple[str, ...], int] = {}
    toks: list[tuple[str, ...]] = []
    weight: list[int] = []
    shape_tok: list[int] = []
    for shape, count in zip(shapes, counts, strict=True):
        t = tokens(shape)
        j = index.setdefault(t, len(toks))
        if j == len(toks):
            toks.append(t)
            weight.append(0)
        weight[j] += count
        shape_tok.append(j)
    template_of = [""] * len(toks)
    by_length: dict[int, list[int]] = defaultdict(list)
    for j, t in enumerate(toks):
        by_length[len(t)].append(j)
    for members in by_length.values():
        for group, fixed in _initial_groups(members, toks, weight):
            _split(group, fixed, toks=toks, weight=weight, template_of=template_of, depth=0)
    return [template_of[j] for j in shape_tok]


def _initial_groups(
    members: list[int], toks: list[tuple[str, ...]], weight: list[int]
) -> Iterable[tuple[list[int], frozenset[int]]]:
    """Group shapes by their longest common pattern (Brain's root)."""
    freq: Counter[tuple[int, str]] = Counter()
    for j in members:
        for pos, word in enumerate(toks[j]):
            freq[(pos, word)] += weight[j]
    groups: dict[tuple[tuple[int, str], ...], list[int]] = defaultdict(list)
    for j in members:
        t = toks[j]
        fs = [freq[(p, w)] if w != WILDCARD else 0 for p, w in enumerate(t)]
        common = Counter(f for f in fs if f)
        if not common:
            root: tuple[tuple[int, str], ...] = ()
        else:
            root_f = max(common, key=lambda f: (common[f], f))
            root = tuple((p, t[p]) for p in range(len(t)) if fs[p] >= root_f)
        groups[root].append(j)
    for root, group in groups.items():
        yield group, frozenset(p for p, _ in root)


def _split(
    group: list[int],
    fixed: frozenset[int],
    *,
    toks: list[tuple[str, ...]],
    weight: list[int],
    template_of: list[str],
    depth: int,
) -> None:
    width = len(toks[group[0]])
    best: tuple[int, int] | None = None
    if depth < 5:
        for pos in range(width):
            if pos in fixed:
                continue
            values: Counter[str] = Counter()
            for j in group:
                values[toks[j][pos]] += weight[j]
            if len(values) == 1 or WILDCARD in values:
                continue
            if pos == 0 or (len(values) <= SPLIT_VALUES and min(values.values()) >= 2):
                key = 0 if pos == 0 else len(values)
                if best is None or key < best[1]:
                    best = (pos, key)
    if best is not None:
        pos = best[0]
        parts: dict[str, list[int]] = defaultdict(list)
        for j in group:
            parts[toks[j][pos]].append(j)
        for part in parts.values():
            _split(
                part,
                fixed | {pos},
                toks=toks,
                weight=weight,
                template_of=template_of,
                depth=depth + 1,
            )
        return
    template = list(toks[group[0]])
    for j in group[1:]:
        template = [a if a == b else WILDCARD for a, b in zip(template, toks[j], strict=True)]
    text = " ".join(template)
    for j in group:
        template_of[j] = text


@dataclass(frozen=True, slots=True)
class Templates:
    """Mined templates: ``templates[i]`` is template ``i``; ``assignments`` maps each input."""

    templates: tuple[str, ...]
    counts: tuple[int, ...]
    assignments: tuple[int, ...]


def mine_templates(messages: Iterable[str]) -> Templates:
    """Mine the templates of ``messages`` in Python (small inputs, tests); ingestion runs the
    same masks in DuckDB. Template ids follow first appearance."""
    shape_ids: dict[str, int] = {}
    shapes: list[str] = []
    counts: list[int] = []
    per_line: list[int] = []
    for message in messages:
        shape = reduce(message)
        k = shape_ids.setdefault(shape, len(shapes))
        if k == len(shapes):
            shapes.append(shape)
            counts.append(0)
        counts[k] += 1
        per_line.append(k)
    texts = group_shapes(shapes, counts)
    ids: dict[str, int] = {}
    for k in per_line:
        ids.setdefault(texts[k], len(ids))
    assignments = tuple(ids[texts[k]] for k in per_line)
    totals = Counter(assignments)
    return Templates(tuple(ids), tuple(totals[i] for i in range(len(ids))), assignments)


def assign_templates(store: Store) -> int:
    """Mine the templates of every message in ``store.logs``: fill ``logs.template_id`` and
    the ``templates`` table. Template ids follow first appearance (by ingest order). Returns
    the number of templates."""
    con = store.connection
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _shape_of AS "
        f"SELECT rowid AS rid, {reduce_sql('message')} AS shape FROM logs"
    )
    rows = con.execute(
        "SELECT shape, count(*), min(rid) FROM _shape_of GROUP BY shape ORDER BY 3"
    ).fetchall()
    texts = group_shapes([r[0] for r in rows], [int(r[1]) for r in rows])
    ids: dict[str, int] = {}
    for text in texts:
        ids.setdefault(text, len(ids) + 1)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _shape_id AS SELECT unnest($1) AS shape, "
        "unnest($2)::INTEGER AS template_id",
        [[r[0] for r in rows], [ids[t] for t in texts]],
    )
    con.execute(
        "UPDATE logs SET template_id = m.template_id FROM _shape_of s JOIN _shape_id m "
        "USING (shape) WHERE logs.rowid = s.rid"
    )
    con.execute("DELETE FROM templates")
    con.execute(
        "INSERT INTO templates SELECT unnest($1)::INTEGER, unnest($2)",
        [list(ids.values()), list(ids)],
    )
    con.execute("DROP TABLE _shape_of")
    con.execute("DROP TABLE _shape_id")
    return len(ids)


def ensure_templates(store: Store) -> None:
    """Mine templates when some log lines have none yet (an ingest that skipped mining)."""
    if store.scalar("SELECT 1 FROM logs WHERE template_id IS NULL LIMIT 1") is not None:
        assign_templates(store)


@dataclass(frozen=True, slots=True)
class TemplateStat:
    """One template of a store: how often, when first and last, which services."""

    template_id: int
    template: str
    count: int
    first_ns: int | None
    last_ns: int | None
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TemplateReport:
    templates: tuple[TemplateStat, ...]  # most frequent first
    assignments: tuple[int, ...]  # the template id of each log record, in input order


def template_report(store: Store, *, services: Sequence[str] = ()) -> TemplateReport:
    """Every template in ``store`` with its counts, and the template of each record in the
    order the inputs were read (file by file, line by line)."""
    ensure_templates(store)
    where, params = "", list(services)
    if services:
        where = f"WHERE l.service IN ({', '.join('?' * len(services))})"
    rows = store.query(
        "SELECT t.template_id, t.template, count(*), min(l.ts_ns), max(l.ts_ns), "
        "list(DISTINCT l.service ORDER BY l.service) FILTER (WHERE l.service IS NOT NULL) "
        f"FROM logs l JOIN templates t USING (template_id) {where} "
        "GROUP BY ALL ORDER BY 3 DESC, 1",
        params,
    )
    stats = tuple(
        TemplateStat(int(i), str(t), int(n), first, last, tuple(s or ()))
        for i, t, n, first, last, s in rows
    )
    order = store.query(
        "SELECT l.template_id FROM logs l LEFT JOIN (SELECT source_file, min(rowid) AS k "
        f"FROM sources GROUP BY 1) f USING (source_file) {where} "
        "ORDER BY f.k NULLS LAST, l.source_file, l.source_line",
        params,
    )
    return TemplateReport(stats, tuple(int(r[0]) if r[0] is not None else 0 for r in order))

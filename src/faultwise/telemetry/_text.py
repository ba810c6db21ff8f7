"""Plain-text log headers: which layout a file (or a message inside a record) is written in.

Each :class:`Header` is one regular expression with named groups (``ts``, ``level``, ``msg``,
``thread``, ``logger``, ``app``, ``host``, ``pid``, ``pri``, ``status``, ``request``) written
in the subset Python's ``re`` and RE2 (DuckDB) share, so the same pattern picks the layout
from a sample in Python and parses every line in DuckDB. :func:`detect_header` tries them all
on sample lines and keeps the one that matches most (earlier, more specific layouts win ties).

Layouts: the Kubernetes container-runtime (CRI) prefix, RFC 5424 and RFC 3164 syslog,
nginx/Apache combined and common log format, Spring Boot, logback, log4j (and Hadoop),
PostgreSQL's stderr log, Python's logging cookbook format and its basicConfig default,
glog/klog, zap's console encoder, Go's log package, and two general ones: a timestamp then a
level, and a timestamp alone.

A layout that writes one record as several lines, each with the whole header (PostgreSQL's
``ERROR:`` line, then its ``DETAIL:``, ``HINT:`` ... lines), says so with its :class:`Parts`:
the reader joins those lines to the record as attributes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from faultwise.telemetry._timestamps import TsForm, detect_form

__all__ = ["HEADERS", "POSTGRES_PARTS", "Header", "HeaderMatch", "Parts", "detect_header"]

_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_SLASH = r"\d{4}/\d{2}/\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
_SYSLOG_TS = r"[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}"
_TIME = r"\d{2}:\d{2}:\d{2}[.,]\d{3,9}"
_LEVEL_WORDS = (
    "trace", "debug", "info", "notice", "warn", "warning", "error", "err", "critical", "crit",
    "fatal", "severe", "panic", "alert", "emerg", "dbg", "inf", "wrn", "erro", "ftl", "eror",
)  # fmt: skip
_LEVEL = f"(?i:{'|'.join(_LEVEL_WORDS)})"


def _trie(words: Sequence[str]) -> str:
    """``words`` as one alternation that branches on each next character (``warn(?:ing)?``
    ...), so RE2 can take the fast path that follows one branch only ("one-pass"). It matches
    the same word as the plain alternation wherever a word must be followed by a character
    that is not a letter (the plain one tries the words in order, this one longest first)."""
    branches = [
        re.escape(first) + _trie([w[1:] for w in words if w[:1] == first])
        for first in sorted({w[0] for w in words if w})
    ]
    if "" not in words:
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{'|'.join(branches)})?" if branches else ""


# A level word followed by a separator: the trie form (see _trie)
_LEVEL_WORD = f"(?i:{_trie(_LEVEL_WORDS)})"


@dataclass(frozen=True, slots=True)
class Parts:
    """Lines ``LABEL:  text`` of a layout, each with the whole header but no level, that belong
    to the last record above them with the same ``key`` group (the same process), when their
    ``same`` groups match its own (the same time: else they stay records of their own).

    Each label's text becomes the record's attribute ``attributes[label]``, except the text of
    the ``location`` label when it reads ``function, file:line``: that gives OTel's ``code.*``
    attributes (where the record was emitted). A text of several lines continues on lines
    that start with ``indent``, which is dropped."""

    attributes: tuple[tuple[str, str], ...]
    key: str
    same: tuple[str, ...] = ()
    indent: str = ""
    location: str | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.attributes)


# PostgreSQL's elog.c writes an error's fields after its message, each on a line of its own
# with the whole log_line_prefix. The names: OTel's semantic conventions define
# ``db.query.text`` (the client's statement: STATEMENT) and the ``code.*`` attributes
# (LOCATION, with log_error_verbosity = verbose); they define none for the other fields, which
# take PostgreSQL's own names under the ``db.postgresql`` namespace. QUERY is the internal
# query (in a function) that failed, not the client's: it is kept apart from db.query.text.
POSTGRES_PARTS = Parts(
    attributes=(
        ("DETAIL", "db.postgresql.detail"),
        ("HINT", "db.postgresql.hint"),
        ("QUERY", "db.postgresql.query"),
        ("CONTEXT", "db.postgresql.context"),
        ("LOCATION", "db.postgresql.location"),
        ("STATEMENT", "db.query.text"),
    ),
    key="pid",
    same=("ts",),
    indent="\t",
    location="LOCATION",
)


_MSG = "(?P<msg>.*)$"
# What the bulk reader takes from a header (see _logsql): the others (logger, pid ...) match
# but are not kept.
_READ = ("ts", "level", "pri", "status", "request", "app", "host", "thread", "msg")


def _positional(pattern: str, keep: tuple[str, ...]) -> str:
    return re.sub(r"\(\?P<(\w+)>", lambda m: "(" if m[1] in keep else "(?:", pattern)


@dataclass(frozen=True)
class Header:
    """A log line layout: a name and a pattern with named groups."""

    name: str
    pattern: str
    parts: Parts | None = None

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """Group names in order."""
        return tuple(re.findall(r"\(\?P<(\w+)>", self.pattern))

    @cached_property
    def read(self) -> tuple[str, ...]:
        """The groups the bulk reader reads, in order: the names of DuckDB's positional
        ``regexp_extract`` struct (``msg`` last)."""
        wanted = {*_READ, *((self.parts.key, *self.parts.same) if self.parts else ())}
        return tuple(g for g in self.groups if g in wanted)

    @cached_property
    def positional(self) -> str:
        """The pattern for RE2: the groups in :attr:`read` made positional, the others
        non-capturing (each capture costs RE2 time, and past four it leaves its fast path)."""
        return _positional(self.pattern, self.read)

    @cached_property
    def head(self) -> str:
        """:attr:`positional` without its message (``(.*)$``, the rest of the line)."""
        return _positional(self.pattern.removesuffix(_MSG), self.read)


HEADERS: tuple[Header, ...] = (
    Header(
        "cri",
        r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) "
        r"(?:stdout|stderr) [FP] (?P<msg>.*)$",
    ),
    Header(
        "syslog-rfc5424",
        r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) \S+ "
        r"(?:-|(?:\[[^\]]*\])+) ?(?P<msg>.*)$",
    ),
    Header(
        "syslog-rfc3164",
        rf"^(?:<(?P<pri>\d{{1,3}})>)?(?P<ts>{_SYSLOG_TS}) (?P<host>\S+) "
        r"(?P<app>[^\s:\[]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$",
    ),
    Header(
        "combined",
        r"^(?P<host>\S+) \S+ \S+ \[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
        r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<msg>.*)$',
    ),
    Header(
        "spring-boot",
        rf"^(?P<ts>{_ISO})\s+(?P<level>{_LEVEL_WORD})\s+(?P<pid>\d+)\s+---\s+"
        r"(?:\[[^\]]*\]\s+)?\[\s*(?P<thread>[^\]]*)\]\s+(?P<logger>\S+)\s*:\s(?P<msg>.*)$",
    ),
    Header(
        "logback",
        rf"^(?P<ts>{_ISO})\s+\[(?P<thread>[^\]]+)\]\s+(?P<level>{_LEVEL_WORD})\s+"
        r"(?P<logger>\S+)\s+-\s(?P<msg>.*)$",
    ),
    Header(
        "log4j",
        rf"^(?P<ts>{_ISO})\s+(?P<level>{_LEVEL_WORD})\s+\[(?P<thread>[^\]]+)\]\s+"
        r"(?P<logger>[^\s:]+):?\s(?P<msg>.*)$",
    ),
    Header(  # PostgreSQL's default log_line_prefix '%m [%p] ' (and '%t', '%u@%d' added)
        "postgres",
        rf"^(?P<ts>{_ISO})(?: (?:UTC|GMT))? \[(?P<pid>\d+)\](?:[: ]+\S*@\S*)? "
        r"(?:(?P<level>DEBUG[1-5]?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC):  )?(?P<msg>.*)$",
        POSTGRES_PARTS,
    ),
    Header(
        "python",
        rf"^(?P<ts>{_ISO})\s+-\s+(?P<logger>\S+)\s+-\s+(?P<level>{_LEVEL_WORD})\s+-\s(?P<msg>.*)$",
    ),
    Header(
        "python-basic",
        r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<logger>[^:\s]*):(?P<msg>.*)$",
    ),
    Header(
        "klog",
        r"^(?P<level>[IWEF])(?P<ts>\d{4} \d{2}:\d{2}:\d{2}\.\d{6})\s+(?P<thread>\d+) "
        r"(?P<logger>[^\]\s]+)\] (?P<msg>.*)$",
    ),
    Header(
        "zap",
        rf"^(?P<ts>{_ISO})\t(?P<level>{_LEVEL_WORD})\t(?:(?P<logger>[^\t]*)\t)?(?P<msg>.*)$",
    ),
    Header(
        "go-log",
        rf"^(?P<ts>{_SLASH}) (?P<msg>.*)$",
    ),
    Header(
        "timestamp-level",
        rf"^\[?(?P<ts>{_ISO}|{_SLASH}|{_SYSLOG_TS}|{_TIME})\]?\s*[-|:]?\s*\[?"
        rf"(?P<level>{_LEVEL})\]?\s*[-|:]?\s*(?P<msg>.*)$",
    ),
    Header(
        "timestamp",
        rf"^\[?(?P<ts>{_ISO}|{_SLASH}|{_SYSLOG_TS})\]?\s*[-|:]?\s*(?P<msg>.*)$",
    ),
)


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    """The layout found in a sample, how much of it matched, and its timestamp form."""

    header: Header
    matched: int
    total: int
    ts_form: TsForm | None

    @property
    def share(self) -> float:
        return self.matched / self.total if self.total else 0.0


def detect_header(lines: Sequence[str], *, min_share: float = 0.2) -> HeaderMatch | None:
    """The layout most ``lines`` are written in, or None when none matches ``min_share``."""
    sample = [line for line in lines if line.strip()][:500]
    if not sample:
        return None
    best: tuple[Header, list[re.Match[str]]] | None = None
    for header in HEADERS:
        matches = [m for m in map(header.regex.match, sample) if m]
        if matches and (best is None or len(matches) > len(best[1])):
            best = (header, matches)
    if best is None or len(best[1]) < min_share * len(sample):
        return None
    header, matches = best
    form = detect_form(m.group("ts") for m in matches) if "ts" in header.groups else None
    return HeaderMatch(header, len(matches), len(sample), form)

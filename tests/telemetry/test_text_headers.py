"""The text layouts' groups read in DuckDB (the bulk reader) are the groups Python's ``re``
finds with the same pattern, line by line: the reader matches the header without the message
first and captures the groups in that head only, which must not change what is read."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultwise.telemetry import Store
from faultwise.telemetry._logsql import _parsed
from faultwise.telemetry._text import _LEVEL, _LEVEL_WORD, _LEVEL_WORDS, HEADERS, Header

EXAMPLES = {
    "cri": ["2026-01-01T10:00:00.123456789Z stdout F hello"],
    "syslog-rfc5424": ['<165>1 2026-01-01T10:00:00.003Z host app 12 ID47 [a b="c"][d] hello'],
    "syslog-rfc3164": ["<13>Jan  1 10:00:00 host app[12]: hello", "Jan 12 10:00:00 host app: hi"],
    "combined": ['10.0.0.1 - - [01/Jan/2026:10:00:00 +0000] "GET / HTTP/1.1" 503 12 "-" "ua"'],
    "spring-boot": ["2026-01-01 10:00:00.123  INFO 1234 --- [main] com.x.App : hello"],
    "logback": ["2026-01-01 10:00:00.123 [main] WARN com.x.App - hello"],
    "log4j": ["2026-01-01 10:00:00,123 ERROR [w-1] com.x: hello"],
    "postgres": [
        "2026-01-01 10:00:00.123 UTC [12] app@db ERROR:  hello",
        "2026-01-01 10:00:00.123 UTC [12]: u@d DETAIL:  Key (id)=(1) exists.",
        "2026-01-01 10:00:00.123 [12] LOG:  checkpoint",
    ],
    "python": ["2026-01-01 10:00:00,123 - svc.db - WARNING - hello"],
    "python-basic": ["WARNING:root:hello"],
    "klog": ["I0101 10:00:00.123456    12 file.go:1] hello"],
    "zap": ["2026-01-01T10:00:00.123Z\tinfo\tlogger\thello", "2026-01-01T10:00:00Z\tERROR\thi"],
    "go-log": ["2026/01/01 10:00:00 hello"],
    "timestamp-level": ["[2026-01-01 10:00:00] [error] hello", "10:00:00.123 info: hello"],
    "timestamp": ["2026-01-01 10:00:00 hello", "Jan  1 10:00:00 - hi"],
}
# Pieces of every layout (and of none), spliced into the examples: ASCII only, where Python's
# \s, \d and case folding are RE2's.
_PIECES = [
    *_LEVEL_WORDS,
    *(w.upper() for w in _LEVEL_WORDS),
    "Warn", "warnin", "errorx", "informational", "LOG", "DEBUG1", "DETAIL", "I", "E",
    " ", "  ", "\t", "\n", " - ", "-", ": ", ":  ", ":", "[", "]", "[1]", "[ x ]", "<13>", "1 ",
    "---", "@", "a@b", "UTC", " GMT", "stdout", "F ", '"', '"GET / HTTP/1.1"', "200", "4x",
    "host", "app[12]:", "com.x", "x", "12", ",5", ".123456789", "Z", "+02:00", "-0100",
    "2026-01-01 10:00:00", "2026-01-01T10:00:00Z", "2026/01/01 10:00:00", "Jan  1 10:00:00",
    "10:00:00.123", "01/Jan/2026:10:00:00 +0000", "0101 10:00:00.123456",
]  # fmt: skip
_PIECE = st.sampled_from(_PIECES)


@st.composite
def _lines(draw: st.DrawFn, header: Header) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.integers(0, 2))
        if kind == 0:  # a piece soup
            text = "".join(draw(st.lists(_PIECE, max_size=10)))
        else:  # an example of the layout with pieces spliced in (or none)
            text = draw(st.sampled_from(EXAMPLES[header.name]))
            for _ in range(draw(st.integers(0, 2 * kind - 1))):
                at = draw(st.integers(0, len(text)))
                cut = draw(st.integers(0, 2))
                text = text[:at] + draw(_PIECE) + text[at + cut :]
        lines.append(text.rstrip("\n"))  # Python's $ also matches before a final newline
    return lines


def _python(header: Header, text: str) -> dict[str, str]:
    """The groups as Python reads them, with the level words as a plain alternation (the
    reader's patterns write them as a trie where a separator follows)."""
    m = re.match(header.pattern.replace(_LEVEL_WORD, _LEVEL), text)
    return {g: (m.group(g) or "") if m else "" for g in header.read}


@pytest.mark.parametrize("header", HEADERS, ids=lambda h: h.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_each_layout_reads_the_groups_python_reads(header: Header, data: st.DataObject) -> None:
    lines = data.draw(_lines(header))
    values = ", ".join(f"({i}, ?)" for i in range(len(lines)))
    staged = f"SELECT * FROM (VALUES {values}) t(i, message)"
    with Store() as store:
        rows = store.query(f"SELECT h, ok FROM ({_parsed(staged, header)}) ORDER BY i", lines)
    expected = [_python(header, text) for text in lines]
    assert expected == [h for h, _ in rows]
    assert [bool(header.regex.match(t)) for t in lines] == [ok for _, ok in rows]
    assert [bool(re.match(header.pattern.replace(_LEVEL_WORD, _LEVEL), t)) for t in lines] == [
        ok for _, ok in rows
    ]


def test_every_layout_example_is_a_header_of_its_layout() -> None:
    names = {h.name for h in HEADERS}
    assert names == set(EXAMPLES)
    for header in HEADERS:
        for text in EXAMPLES[header.name]:
            assert header.regex.match(text), (header.name, text)


def test_the_level_trie_matches_exactly_the_level_words() -> None:
    words = {w for word in _LEVEL_WORDS for w in (word, word.upper(), word.title())}
    near = {w + c for w in _LEVEL_WORDS for c in "sx"} | {w[:-1] for w in _LEVEL_WORDS}
    assert all(re.fullmatch(_LEVEL_WORD, w) for w in words)
    assert not [w for w in near - {*_LEVEL_WORDS} if re.fullmatch(_LEVEL_WORD, w)]

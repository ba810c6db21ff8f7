"""Readers for ``KEY=VALUE`` files: ``env`` dumps and ``.env`` files.

An ``env`` dump (``env``, ``printenv``, ``kubectl exec POD -- env``) holds raw values: a line
that is not ``KEY=...`` continues the previous value (a multi-line value). A ``.env`` file
follows python-dotenv and docker compose: ``export KEY=...``, ``# comments``, inline comments
after unquoted values, single quotes (literal) and double quotes (``\\n``, ``\\t``, ``\\"``
escapes), both of which may span lines. ``${VAR}`` is compared as written, never expanded.
"""

from __future__ import annotations

import re

from faultwise._errors import InputError
from faultwise.drift._model import ConfigEntry, Reject, ValueType
from faultwise.drift._tree import Entries

__all__ = ["looks_like_dotenv", "parse_dotenv", "parse_env_dump"]

_DUMP_LINE = re.compile(r"([^=\s]+)=(.*)")
_DOTENV_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*=[ \t]*")
_DOTENV_HINT = re.compile(
    r"^[ \t]*(?:#|export[ \t]|[A-Za-z_][\w.\-]*(?:[ \t]+=|=[ \t]*['\"]))", re.MULTILINE
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
_ESCAPE = re.compile(r"\\(.)", re.S)
_INLINE_COMMENT = re.compile(r"[ \t]#")


def looks_like_dotenv(text: str) -> bool:
    """Whether ``text`` uses .env syntax (comments, ``export``, quotes) rather than a raw dump."""
    return _DOTENV_HINT.search(text) is not None


def parse_env_dump(text: str, file: str, out: Entries) -> list[Reject]:
    """Add ``KEY=VALUE`` lines of an ``env`` dump to ``out``; returns the skipped lines."""
    rejects: list[Reject] = []
    key, lines, start = "", [], 0
    for number, line in enumerate(text.rstrip("\n").split("\n"), start=1):
        match = _DUMP_LINE.fullmatch(line)
        if match is None and key:
            lines.append(line)  # a multi-line value goes on
            continue
        if key:
            out.add(ConfigEntry(key, "\n".join(lines), ValueType.TEXT, f"{file}:{start}"))
            key = ""
        if match is None:
            if line.strip():
                rejects.append(Reject(f"{file}:{number}", "not a KEY=VALUE line"))
            continue
        key, lines, start = match.group(1), [match.group(2)], number
    if key:
        out.add(ConfigEntry(key, "\n".join(lines), ValueType.TEXT, f"{file}:{start}"))
    return rejects


def parse_dotenv(text: str, file: str, out: Entries) -> list[Reject]:
    """Add the assignments of a ``.env`` file to ``out``; returns the skipped lines."""
    rejects: list[Reject] = []
    pos, number = 0, 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        match = _DOTENV_KEY.match(text, pos)
        if not line.strip() or line.lstrip().startswith("#"):
            next_pos = end + 1
        elif match is None or match.end() > end:
            rejects.append(Reject(f"{file}:{number}", "not a KEY=VALUE line"))
            next_pos = end + 1
        else:
            next_pos, value, problem = _value(text, match.end(), end, f"{file}:{number}")
            if problem:
                rejects.append(Reject(f"{file}:{number}", problem))
            else:
                out.add(ConfigEntry(match.group(1), value, ValueType.TEXT, f"{file}:{number}"))
        number += text.count("\n", pos, next_pos)
        pos = next_pos
    return rejects


def _value(text: str, start: int, end: int, source: str) -> tuple[int, str, str]:
    """(position after the value's line, value, problem or "") for a value at ``start``."""
    quote = text[start : start + 1]
    if quote not in ("'", '"'):
        raw = _INLINE_COMMENT.split(text[start:end], maxsplit=1)[0]
        return end + 1, raw.strip(), ""
    close = _closing_quote(text, start + 1, quote)
    if close < 0:
        raise InputError(f"unterminated {quote}-quoted value", source=source)
    raw = text[start + 1 : close]
    value = raw if quote == "'" else _ESCAPE.sub(lambda m: _ESCAPES.get(m[1], m[0]), raw)
    line_end = text.find("\n", close)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[close + 1 : line_end].strip()
    if rest and not rest.startswith("#"):
        return line_end + 1, "", "text after the closing quote"
    return line_end + 1, value, ""


def _closing_quote(text: str, pos: int, quote: str) -> int:
    while True:
        close = text.find(quote, pos)
        if close < 0 or quote == "'":
            return close
        backslashes = len(text[pos:close]) - len(text[pos:close].rstrip("\\"))
        if backslashes % 2 == 0:
            return close
        pos = close + 1

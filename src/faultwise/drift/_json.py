"""A JSON reader that keeps the line of every value and rejects duplicate keys.

The standard library's ``json`` forgets positions and silently keeps the last of two equal
keys; configuration drift needs both the ``file:line`` of each value and a loud error on a
duplicate. Strings are decoded by the standard library's own (C) scanner.
"""

from __future__ import annotations

import bisect
import json.decoder
import re
from typing import Any

from faultwise._errors import InputError
from faultwise.drift._tree import Node

__all__ = ["MAX_DEPTH", "parse_json"]

MAX_DEPTH = 200
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def parse_json(text: str, file: str) -> Node:
    """The document in ``text`` as a :class:`Node` tree; bad JSON names ``file:line``."""
    return _Parser(text, file).document()


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.pos = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.newlines, pos - 1) + 1

    def error(self, message: str, pos: int | None = None) -> InputError:
        at = self.pos if pos is None else pos
        return InputError(f"invalid JSON: {message}", source=f"{self.file}:{self.line(at)}")

    def skip(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def document(self) -> Node:
        self.skip()
        node = self.value(0)
        self.skip()
        if self.pos != len(self.text):
            raise self.error("extra data after the document")
        return node

    def value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep")
        text, start = self.text, self.pos
        line = self.line(start)
        char = text[start : start + 1]
        if char == "{":
            return Node(self.obj(depth), line)
        if char == "[":
            return Node(self.array(depth), line)
        if char == '"':
            return Node(self.string(), line)
        for word, literal in _LITERALS.items():
            if text.startswith(word, start):
                self.pos = start + len(word)
                return Node(literal, line)
        match = _NUMBER.match(text, start)
        if match is None or match.end() == start:
            raise self.error("expected a value" if char else "unexpected end of input")
        self.pos = match.end()
        if match.group(1) or match.group(2):
            return Node(float(match.group()), line)
        try:
            return Node(int(match.group()), line)
        except ValueError:  # more digits than int() accepts (sys.get_int_max_str_digits)
            raise self.error("integer too long", start) from None

    def string(self) -> str:
        try:
            value: str
            value, self.pos = _scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as exc:
            raise self.error(exc.msg.lower(), exc.pos) from None
        return value

    def obj(self, depth: int) -> dict[str, Node]:
        result: dict[str, Node] = {}
        self.pos += 1
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return result
        while True:
            if not self.text.startswith('"', self.pos):
                raise self.error("expected a quoted key")
            key_at = self.pos
            key = self.string()
            if key in result:
                raise self.error(f"duplicate key {key!r}", key_at)
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.error("expected ':' after a key")
            self.pos += 1
            self.skip()
            result[key] = self.value(depth + 1)
            if self.separator("}"):
                return result

    def array(self, depth: int) -> list[Node]:
        result: list[Node] = []
        self.pos += 1
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return result
        while True:
            result.append(self.value(depth + 1))
            if self.separator("]"):
                return result

    def separator(self, close: str) -> bool:
        """Consume ``,`` (more follows: False) or the closing bracket (done: True)."""
        self.skip()
        char = self.text[self.pos : self.pos + 1]
        self.pos += 1
        if char == close:
            return True
        if char != ",":
            raise self.error(f"expected ',' or {close!r}", self.pos - 1)
        self.skip()
        return False

"""TOML (the standard library's parser) and INI readers."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from faultwise._errors import InputError
from faultwise.drift._model import ConfigEntry, Reject, ValueType
from faultwise.drift._tree import Entries, Node, join_key

__all__ = ["parse_ini", "parse_toml"]

_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")
_TOML_HEADER = re.compile(r"[ \t]*\[\[?([^\]\n]+)\]\]?")
_TOML_KEY = re.compile(r"[ \t]*([A-Za-z0-9_\-.\"' ]+?)[ \t]*=")
_INI_SECTION = re.compile(r"[ \t]*\[([^\]]+)\][ \t]*(?:[#;].*)?")
_INI_OPTION = re.compile(r"[ \t]*([^=:\s][^=:]*?)[ \t]*[=:][ \t]*(.*)")


def parse_toml(text: str, file: str) -> Node:
    """The TOML document as a tree; lines of keys are found by a best-effort scan."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_AT.search(message)
        reason = _TOML_AT.sub("", message).strip().rstrip(".")
        source = f"{file}:{at.group(1)}" if at else file
        raise InputError(f"invalid TOML: {reason}", source=source) from None
    except RecursionError:
        raise InputError("invalid TOML: nested too deeply", source=file) from None
    return _node(data, "", _toml_lines(text), 0)


def _toml_lines(text: str) -> dict[str, int]:
    """Dotted key -> line of its first assignment or table header (arrays not indexed)."""
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.split("\n"), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            table = _dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _TOML_KEY.match(line)
        if key:
            lines.setdefault(_dotted(f"{table}.{key.group(1)}" if table else key.group(1)), number)
    return lines


def _dotted(key: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def _node(value: Any, path: str, lines: dict[str, int], depth: int) -> Node:
    if depth > 200:
        raise InputError("TOML nested more than 200 levels deep")
    line = lines.get(path)
    if isinstance(value, dict):
        children = {
            str(k): _node(v, f"{path}.{k}" if path else str(k), lines, depth + 1)
            for k, v in value.items()
        }
        return Node(children, line)
    if isinstance(value, list):
        return Node([_node(v, path, lines, depth + 1) for v in value], line)
    return Node(value, line)


def parse_ini(text: str, file: str, out: Entries) -> list[Reject]:
    """Add ``section.key`` entries of an INI file to ``out`` (values are untyped text)."""
    rejects: list[Reject] = []
    section = ""
    pending: tuple[str, list[str], int] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if pending and line[0] in " \t":
            pending[1].append(stripped)  # an indented line continues the value, as configparser
            continue
        _flush(pending, file, out)
        pending = None
        header = _INI_SECTION.fullmatch(line)
        option = _INI_OPTION.fullmatch(line)
        if header:
            section = header.group(1).strip()
        elif option:
            pending = (join_key(section, option.group(1)), [option.group(2).strip()], number)
        else:
            rejects.append(Reject(f"{file}:{number}", "not a [section] or key = value line"))
    _flush(pending, file, out)
    return rejects


def _flush(pending: tuple[str, list[str], int] | None, file: str, out: Entries) -> None:
    if pending is not None:
        key, lines, number = pending
        out.add(ConfigEntry(key, "\n".join(lines), ValueType.TEXT, f"{file}:{number}"))

"""Nested configuration (JSON, YAML, TOML, manifests) flattened into dotted keys.

Readers build a small tree of :class:`Node` values that remember their line, then
:func:`flatten` turns it into entries: ``{"db": {"pool": {"size": 5}}}`` becomes
``db.pool.size = 5``. A list of scalars stays one value (``["a","b"]``); a list of mappings
that all carry a distinct ``name`` is keyed by that name (Kubernetes ``containers``, ``env``,
Helm ``extraEnv``), so reordering it is not drift, and ``{name, value}`` pairs collapse to
``list.NAME = value``; any other list is indexed (``servers[0].host``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from faultwise._errors import InputError
from faultwise.drift._model import ConfigEntry, ValueType

__all__ = ["MAX_KEYS", "Entries", "Node", "Scalar", "flatten", "join_key", "scalar_text"]

Scalar = str | int | float | bool | None | bytes | dt.date | dt.time
MAX_KEYS = 100_000  # per environment: far above any real config, well below memory trouble

_PLAIN_SEGMENT = re.compile(r'[^.\[\]"\s]+')


@dataclass(frozen=True, slots=True)
class Node:
    """A value read from a file and the 1-based line it starts on (``None`` when unknown)."""

    value: dict[str, Node] | list[Node] | Scalar
    line: int | None = None


class Entries:
    """Flattened entries of one environment; a key defined twice is an input error."""

    def __init__(self) -> None:
        self.by_key: dict[str, ConfigEntry] = {}

    def add(self, entry: ConfigEntry) -> None:
        first = self.by_key.get(entry.key)
        if first is not None:
            raise InputError(
                f"duplicate key {entry.key!r} (first defined at {first.source})",
                source=entry.source,
            )
        if len(self.by_key) >= MAX_KEYS:
            raise InputError(f"more than {MAX_KEYS} keys: not a configuration", source=entry.source)
        self.by_key[entry.key] = entry


def join_key(prefix: str, segment: str) -> str:
    """``prefix.segment``, quoting a segment that holds dots or brackets: ``a["b.c"]``."""
    if _PLAIN_SEGMENT.fullmatch(segment):
        return f"{prefix}.{segment}" if prefix else segment
    return f"{prefix}[{json.dumps(segment, ensure_ascii=False)}]"


def scalar_text(value: Scalar) -> tuple[str, ValueType]:
    """The canonical text and type of a scalar: ``true``, ``5``, ``0.5``, ``null``."""
    if isinstance(value, bool):
        return ("true" if value else "false"), ValueType.BOOLEAN
    if isinstance(value, int):
        return str(value), ValueType.INTEGER
    if isinstance(value, float):
        return repr(value), ValueType.FLOAT
    if value is None:
        return "null", ValueType.NULL
    if isinstance(value, bytes):
        digest = hashlib.sha256(value).hexdigest()[:12]
        return f"<{len(value)} bytes sha256:{digest}>", ValueType.BINARY
    if isinstance(value, dt.date | dt.time):
        return value.isoformat(), ValueType.STRING
    return value, ValueType.STRING


def flatten(node: Node, prefix: str, file: str, out: Entries, *, secret: bool = False) -> None:
    """Add the leaves of ``node`` under ``prefix`` to ``out``, each with ``file:line``."""
    if _leaf_count(node, {}) + len(out.by_key) > MAX_KEYS:  # before expanding YAML aliases
        raise InputError(f"more than {MAX_KEYS} keys: not a configuration", source=file)
    seen: dict[int, tuple[str, ValueType]] = {}  # YAML aliases repeat the same node
    for key, leaf in _leaves(node, prefix):
        source = f"{file}:{leaf.line}" if leaf.line is not None else file
        known = seen.get(id(leaf))
        if known is None:
            known = seen[id(leaf)] = _leaf_text(leaf)
        out.add(ConfigEntry(key, known[0], known[1], source, secret))


def _leaf_count(node: Node, memo: dict[int, int]) -> int:
    known = memo.get(id(node))
    if known is not None:
        return known
    value = node.value
    if isinstance(value, dict) and value:
        count = sum(_leaf_count(child, memo) for child in value.values())
    elif isinstance(value, list) and any(isinstance(c.value, dict | list) for c in value):
        count = sum(_leaf_count(child, memo) for child in value)
    else:
        count = 1
    memo[id(node)] = count
    return count


def _leaf_text(leaf: Node) -> tuple[str, ValueType]:
    if isinstance(leaf.value, dict):
        return "{}", ValueType.MAP
    if isinstance(leaf.value, list):
        return _list_text(leaf.value), ValueType.LIST
    return scalar_text(leaf.value)


def _leaves(node: Node, prefix: str) -> Iterator[tuple[str, Node]]:
    stack: list[tuple[str, Node]] = [(prefix, node)]
    while stack:  # iterative: deep nesting in hostile input must not hit the recursion limit
        key, current = stack.pop()
        value = current.value
        if isinstance(value, dict) and value:
            children = [(join_key(key, k), v) for k, v in value.items()]
        elif isinstance(value, list) and any(isinstance(v.value, dict | list) for v in value):
            children = _list_children(key, value)
        else:
            yield key, current
            continue
        stack.extend(reversed(children))


def _list_children(key: str, items: list[Node]) -> list[tuple[str, Node]]:
    names = [_name_of(item) for item in items]
    if None in names or len(set(names)) != len(names):
        return [(f"{key}[{i}]", item) for i, item in enumerate(items)]
    children: list[tuple[str, Node]] = []
    for name, item in zip(names, items, strict=True):
        assert isinstance(item.value, dict)
        rest = {k: v for k, v in item.value.items() if k != "name"}
        child = rest["value"] if set(rest) == {"value"} else Node(rest, item.line)
        children.append((join_key(key, str(name)), child))
    return children


def _name_of(item: Node) -> str | None:
    if not isinstance(item.value, dict):
        return None
    name = item.value.get("name")
    if name is None or not isinstance(name.value, str) or not name.value:
        return None
    return name.value


def _list_text(items: list[Node]) -> str:
    parts: list[object] = []
    for item in items:
        value = item.value
        if isinstance(value, bool | int | float | str) or value is None:
            parts.append(value)
        else:
            parts.append(scalar_text(value)[0])  # type: ignore[arg-type]
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":"), allow_nan=True)

"""A YAML reader (every document of a stream) that keeps lines and rejects duplicate keys.

PyYAML's composer gives nodes with positions; this module turns them into :class:`Node`
trees itself, because ``yaml.safe_load`` forgets lines and silently keeps the last of two
equal keys. Merge keys (``<<: *defaults``) work as in YAML 1.1: explicit keys override merged
ones. Unknown tags (``!Ref``, ``!vault``) are kept as text rather than refused.
"""

from __future__ import annotations

from typing import Any

from faultwise._errors import InputError, require
from faultwise.drift._text import line_of
from faultwise.drift._tree import Node

__all__ = ["parse_yaml"]

MAX_DEPTH = 200
MAX_NODES = 1_000_000
_MERGE = "tag:yaml.org,2002:merge"
_STANDARD = "tag:yaml.org,2002:"


def parse_yaml(text: str, file: str) -> list[Node]:
    """Every document of ``text``; invalid YAML is an :class:`InputError` naming ``file:line``."""
    yaml = require("yaml", "drift")
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        converter = _Converter(loader, file)
        documents: list[Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                documents.append(converter.convert(node, 0))
        return documents
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = exc.problem or exc.context or "cannot parse"
        raise InputError(f"invalid YAML: {_one_line(problem)}", source=where) from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        where = f"{file}:{line_of(text, position)}" if isinstance(position, int) else file
        reason = getattr(exc, "reason", None) or str(exc)
        raise InputError(f"invalid YAML: {_one_line(str(reason))}", source=where) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", source=file) from None
    finally:
        loader.dispose()


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Converter:
    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.count = 0
        # aliases share a node: convert it once; holding the node keeps its id from reuse
        self.done: dict[int, tuple[Any, Node]] = {}
        self.active: set[int] = set()

    def error(self, message: str, node: Any) -> InputError:
        return InputError(message, source=f"{self.file}:{node.start_mark.line + 1}")

    def convert(self, node: Any, depth: int) -> Node:
        key = id(node)
        if key in self.done:
            return self.done[key][1]
        if key in self.active:
            raise self.error("invalid YAML: an alias refers to itself", node)
        if depth > MAX_DEPTH:
            raise self.error(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", node)
        self.count += 1
        if self.count > MAX_NODES:
            raise self.error(f"more than {MAX_NODES} YAML nodes: not a configuration", node)
        self.active.add(key)
        try:
            result = self._convert(node, depth)
        finally:
            self.active.discard(key)
        self.done[key] = (node, result)
        return result

    def _convert(self, node: Any, depth: int) -> Node:
        line = node.start_mark.line + 1
        if node.id == "scalar":
            return Node(self.scalar(node), line)
        if node.id == "sequence":
            return Node([self.convert(item, depth + 1) for item in node.value], line)
        return Node(self.mapping(node, depth), line)

    def scalar(self, node: Any) -> Any:
        if not node.tag.startswith(_STANDARD):
            return f"{node.tag} {node.value}".strip()
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, TypeError):
            return node.value  # e.g. an impossible date such as 2024-13-45: keep the text
        except Exception as exc:  # a ConstructorError for a bad explicit tag
            problem = _one_line(str(getattr(exc, "problem", None) or exc))
            raise self.error(f"invalid YAML: {problem}", node) from None

    def mapping(self, node: Any, depth: int) -> dict[str, Node]:
        explicit: dict[str, Node] = {}
        merged: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged = {**self.merge_source(value_node, depth), **merged}
                continue
            if key_node.id != "scalar":
                raise self.error("invalid YAML: a mapping or list used as a key", key_node)
            key = str(key_node.value)
            if key in explicit:
                raise self.error(f"duplicate key {key!r}", key_node)
            explicit[key] = self.convert(value_node, depth + 1)
        return {**merged, **explicit}

    def merge_source(self, node: Any, depth: int) -> dict[str, Node]:
        sources = node.value if node.id == "sequence" else [node]
        result: dict[str, Node] = {}
        for source in reversed(sources):  # the first mapping listed wins
            converted = self.convert(source, depth + 1).value
            if not isinstance(converted, dict):
                raise self.error("invalid YAML: '<<' must merge a mapping", source)
            result.update(converted)
        return result

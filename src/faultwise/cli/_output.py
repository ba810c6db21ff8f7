"""The only place commands write to the terminal: JSON for machines, rich for people."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from faultwise._errors import require

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["console", "emit_json", "emit_text", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Fallback for objects ``json`` does not know: dataclasses, enums, paths, sets."""
    import dataclasses
    import enum
    import pathlib

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def emit_json(obj: Any, *, stream: Any = None) -> None:
    """Write ``obj`` as one JSON document (orjson when installed) followed by a newline."""
    out = stream if stream is not None else sys.stdout
    try:
        import orjson
    except ImportError:
        out.write(json.dumps(obj, default=to_jsonable, ensure_ascii=False, indent=2) + "\n")
        return
    data = orjson.dumps(obj, default=to_jsonable, option=orjson.OPT_INDENT_2)
    out.write(data.decode() + "\n")


def emit_text(text: str, *, stream: Any = None) -> None:
    out = stream if stream is not None else sys.stdout
    out.write(text if text.endswith("\n") else text + "\n")


def console(*, stderr: bool = False) -> Console:
    """A rich console (the ``cli`` extra)."""
    rich_console = require("rich.console", "cli")
    result: Console = rich_console.Console(stderr=stderr, highlight=False)
    return result

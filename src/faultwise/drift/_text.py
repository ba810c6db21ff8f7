"""Turn a file's bytes into text, or a one-line error naming the file and line."""

from __future__ import annotations

import codecs
from pathlib import Path

from faultwise._errors import InputError

__all__ = ["decode", "line_of", "read_bytes"]


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is an :class:`InputError`."""
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError("is a directory", source=str(path)) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"cannot read the file: {reason}", source=str(path)) from None


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16 text; anything else is binary."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _binary(data, exc.start, name) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            offset = exc.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
            raise _binary(data, offset, name) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            "binary file (NUL byte): not a configuration file",
            source=f"{name}:{line_of(text, nul)}",
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _binary(data: bytes, offset: int, name: str) -> InputError:
    line = data.count(b"\n", 0, offset) + 1
    reason = "binary file (not UTF-8 text): not a configuration file"
    return InputError(reason, source=f"{name}:{line}")


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of character ``offset`` in ``text``."""
    return text.count("\n", 0, max(offset, 0)) + 1

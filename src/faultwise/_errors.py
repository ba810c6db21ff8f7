"""Errors shared by every part: bad input, and a missing optional extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["FaultwiseError", "InputError", "MissingExtraError", "require"]


class FaultwiseError(Exception):
    """Base of the errors the command line turns into a one-line message and exit code 2."""


class InputError(FaultwiseError):
    """Input that cannot be read: names where it came from (``file:line``) when known."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class MissingExtraError(FaultwiseError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"this feature needs {module!r}: install it with pip install 'faultwise[{extra}]'"
        )


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``.

    >>> duckdb = require("duckdb", "diagnose")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.partition(".")[0] != module.partition(".")[0]:
            raise  # the module exists but one of its own imports is broken: show the truth
        raise MissingExtraError(module, extra) from exc

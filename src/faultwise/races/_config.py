"""Configuration: ``[tool.faultwise.races]`` in pyproject.toml, overridden by options."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from faultwise._errors import InputError


class Mode(enum.StrEnum):
    """``hb``: happens-before with vector clocks (default); ``lockset``: Eraser's lockset."""

    HB = "hb"
    LOCKSET = "lockset"


@dataclass(frozen=True)
class RacesConfig:
    """What to instrument, how to check it and what to do with findings.

    ``roots``: directories whose modules are the code under test (default: the current
    directory or pytest's rootdir). ``include``/``exclude``: module-name globs added to or
    removed from that selection. ``ignore``: location globs never reported
    (``"myapp.cache.hits"``, ``"myapp.models.Account.*"``, ``"myapp.registry[*]"``).
    ``hang_timeout``: seconds before the watchdog reports threads that all wait (0: off).
    """

    mode: Mode = Mode.HB
    roots: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    report_only: bool = False
    hang_timeout: float = 10.0
    reset_between_tests: bool = True

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "") -> RacesConfig:
        """Build from a TOML table; unknown keys and wrong types are an ``InputError``."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in known:
                raise InputError(f"unknown races setting {key!r}", source=source)
            values[name] = _coerce(name, value, source)
        return cls(**values)

    def merged(self, **overrides: Any) -> RacesConfig:
        """A copy with the given non-empty overrides (option values win over the file)."""
        changes = {k: v for k, v in overrides.items() if v not in (None, (), [])}
        tuples = {"roots", "include", "exclude", "ignore"}
        for k in tuples & changes.keys():
            changes[k] = (*getattr(self, k), *changes[k])
        return replace(self, **changes)


def _coerce(name: str, value: Any, source: str) -> Any:
    if name == "mode":
        try:
            return Mode(value)
        except ValueError:
            raise InputError(
                f"races mode must be 'hb' or 'lockset', not {value!r}", source=source
            ) from None
    if name in {"roots", "include", "exclude", "ignore"}:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"races setting {name!r} must be a list of strings", source=source)
        return tuple(value)
    if name in {"report_only", "reset_between_tests"}:
        if not isinstance(value, bool):
            raise InputError(f"races setting {name!r} must be true or false", source=source)
        return value
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise InputError(f"races setting {name!r} must be a number of seconds >= 0", source=source)
    return float(value)


def load_config(directory: Path) -> RacesConfig:
    """``[tool.faultwise.races]`` from the nearest pyproject.toml at or above ``directory``."""
    for d in (directory, *directory.parents):
        path = d / "pyproject.toml"
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise InputError(
                    f"pyproject.toml is not valid TOML: {e}", source=str(path)
                ) from None
            table = data.get("tool", {}).get("faultwise", {}).get("races", {})
            return RacesConfig.from_mapping(table, source=str(path))
    return RacesConfig()

"""Expected differences and the user's own killer and secret keys.

Read from ``.faultwise-drift.toml`` (the whole file) or ``[tool.faultwise.drift]`` in
``pyproject.toml``, found from the current directory upward as ruff does, or given::

    [tool.faultwise.drift]
    allow = ["*_HOST", "*_URL"]        # may differ between any environments
    killer = ["*_WORKER_COUNT"]         # more keys to flag and sort first
    secret = ["*_DSN"]                  # more secret keys; public = [...] un-hides a key

    [[tool.faultwise.drift.expected]]
    keys = ["DB_POOL_SIZE"]
    between = ["staging", "prod"]       # only between two of these (globs: ["dev", "*"])
    reason = "prod goes through PgBouncer"

Key patterns are shell globs matched without regard to case (``*`` also crosses dots).
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultwise._errors import InputError

__all__ = ["RUNTIME_KEYS", "DriftConfig", "Expected", "find_config", "load_config"]

CONFIG_FILE = ".faultwise-drift.toml"
# set by the platform for every pod or process, different by nature: never drift
RUNTIME_KEYS = (
    "HOSTNAME",
    "KUBERNETES_SERVICE_*",
    "KUBERNETES_PORT*",
    "*_SERVICE_HOST",
    "*_SERVICE_PORT",
    "*_SERVICE_PORT_*",
    "*_PORT_*_TCP*",
    "*_PORT_*_UDP*",
)


def _matches(name: str, patterns: tuple[str, ...]) -> str | None:
    lowered = name.lower()
    return next((p for p in patterns if fnmatch.fnmatchcase(lowered, p.lower())), None)


@dataclass(frozen=True, slots=True)
class Expected:
    """Keys allowed to differ, between the environments named in ``between`` (any if empty)."""

    keys: tuple[str, ...]
    between: tuple[str, ...] = ()
    reason: str = ""

    def covers(self, key: str, first: str, second: str) -> bool:
        """Whether ``key`` may differ between ``first`` and ``second``: with ``between``, the
        two must match two different entries (``["dev", "*"]``: dev against any other)."""
        if _matches(key, self.keys) is None:
            return False
        if not self.between:
            return True
        a = [fnmatch.fnmatchcase(first.lower(), p.lower()) for p in self.between]
        b = [fnmatch.fnmatchcase(second.lower(), p.lower()) for p in self.between]
        return any(a[i] and b[j] for i in range(len(a)) for j in range(len(b)) if i != j)

    def describe(self, key: str) -> str:
        return self.reason or f"allowed by {_matches(key, self.keys)}"


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Everything the user can say about drift; the default knows only built-in rules."""

    expected: tuple[Expected, ...] = ()
    killer: tuple[str, ...] = ()
    secret: tuple[str, ...] = ()
    public: tuple[str, ...] = ()
    runtime_keys: bool = True  # HOSTNAME and Kubernetes service links are expected to differ
    path: str | None = field(default=None, compare=False)

    def rules(self) -> tuple[Expected, ...]:
        runtime = (Expected(RUNTIME_KEYS, reason="set per pod by the platform"),)
        return (*self.expected, *(runtime if self.runtime_keys else ()))

    def custom_killer(self, key: str) -> bool:
        return _matches(key, self.killer) is not None

    def allowing(self, patterns: tuple[str, ...]) -> DriftConfig:
        """This config plus ``patterns`` allowed to differ anywhere (``--allow``)."""
        extra = (Expected(patterns, reason="allowed on the command line"),) if patterns else ()
        return DriftConfig(
            (*self.expected, *extra),
            self.killer,
            self.secret,
            self.public,
            self.runtime_keys,
            self.path,
        )


def find_config(start: Path) -> Path | None:
    """The nearest ``.faultwise-drift.toml``, or ``pyproject.toml`` with the table, upward."""
    for directory in (start.resolve(), *start.resolve().parents):
        own = directory / CONFIG_FILE
        if own.is_file():
            return own
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _drift_table(pyproject, _load(pyproject)) is not None:
            return pyproject
    return None


def load_config(path: Path) -> DriftConfig:
    """Read and check a config file; unknown or mistyped settings are input errors."""
    data = _load(path)
    table = data if path.name != "pyproject.toml" else _drift_table(path, data)
    return _parse(table or {}, str(path))


def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the config: {exc.strerror}", source=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"invalid TOML: {exc}", source=str(path)) from None


def _drift_table(path: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    table: Any = data.get("tool", {}).get("faultwise", {}).get("drift")
    if table is not None and not isinstance(table, dict):
        raise InputError("[tool.faultwise.drift] must be a table", source=str(path))
    return table


_TOP = {"allow", "killer", "secret", "public", "expected", "runtime-keys"}
_RULE = {"keys", "between", "reason"}


def _parse(table: dict[str, Any], path: str) -> DriftConfig:
    unknown = set(table) - _TOP
    if unknown:
        raise InputError(f"unknown drift setting(s): {', '.join(sorted(unknown))}", source=path)
    expected: list[Expected] = []
    allow = _strings(table, "allow", path)
    if allow:
        expected.append(Expected(allow, reason=""))
    rules = table.get("expected", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise InputError("'expected' must be an array of tables ([[...expected]])", source=path)
    for rule in rules:
        unknown = set(rule) - _RULE
        if unknown:
            raise InputError(
                f"unknown 'expected' field(s): {', '.join(sorted(unknown))}", source=path
            )
        reason = rule.get("reason", "")
        if not isinstance(reason, str):
            raise InputError("'reason' must be a string", source=path)
        keys = _strings(rule, "keys", path)
        if not keys:
            raise InputError("every 'expected' rule needs 'keys'", source=path)
        between = _strings(rule, "between", path)
        if len(between) == 1:
            raise InputError("'between' names at least two environments (or globs)", source=path)
        expected.append(Expected(keys, between, reason))
    runtime = table.get("runtime-keys", True)
    if not isinstance(runtime, bool):
        raise InputError("'runtime-keys' must be true or false", source=path)
    return DriftConfig(
        expected=tuple(expected),
        killer=_strings(table, "killer", path),
        secret=_strings(table, "secret", path),
        public=_strings(table, "public", path),
        runtime_keys=runtime,
        path=path,
    )


def _strings(table: dict[str, Any], name: str, path: str) -> tuple[str, ...]:
    value = table.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"'{name}' must be a list of strings", source=path)
    return tuple(value)

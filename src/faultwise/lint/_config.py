"""``[tool.faultwise.lint]`` in pyproject.toml: which rules run where.

```toml
[tool.faultwise.lint]
select = ["FW1"]                 # ids or prefixes: "FW10" is every timeout rule
ignore = ["FW111"]
exclude = ["migrations/*"]       # globs, relative to the pyproject.toml folder
[tool.faultwise.lint.per-file-ignores]
"tests/*" = ["FW101", "FW12"]
```
"""

from __future__ import annotations

import fnmatch
import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

from faultwise._errors import InputError
from faultwise.lint._rules import RULES

__all__ = ["LintConfig", "find_pyproject", "load_config", "select_rules"]

_KEYS = frozenset({"select", "ignore", "extend-select", "per-file-ignores", "exclude"})


def select_rules(select: Iterable[str], ignore: Iterable[str] = ()) -> frozenset[str]:
    """Rule ids matched by a ``select`` prefix and by no ``ignore`` prefix."""
    return _select(tuple(select), tuple(ignore))


@functools.lru_cache(maxsize=256)
def _select(select: tuple[str, ...], ignore: tuple[str, ...]) -> frozenset[str]:
    chosen = {r for r in RULES if any(r.startswith(p) for p in _checked(select))}
    return frozenset(r for r in chosen if not any(r.startswith(p) for p in _checked(ignore)))


def _checked(codes: Iterable[str]) -> list[str]:
    result = []
    for given in codes:
        code = given.strip().upper()
        if not code or not any(r.startswith(code) for r in RULES):
            raise InputError(f"unknown rule code {code!r} (see faultwise lint --list-rules)")
        result.append(code)
    return result


@dataclass(frozen=True, slots=True)
class LintConfig:
    """Which rules run, and where. ``root`` anchors the relative globs."""

    select: tuple[str, ...] = ("FW",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    root: Path = field(default_factory=Path.cwd)
    source: str | None = None  # the pyproject.toml it came from

    def __post_init__(self) -> None:
        select_rules(self.select, self.ignore)  # unknown codes fail early, with a message
        for _, codes in self.per_file_ignores:
            _checked(codes)

    def with_overrides(
        self, *, select: Iterable[str] | None = None, ignore: Iterable[str] = ()
    ) -> LintConfig:
        """Command-line ``--select`` replaces the configured list; ``--ignore`` adds to it."""
        return replace(
            self,
            select=tuple(select) if select is not None else self.select,
            ignore=self.ignore + tuple(ignore),
        )

    def rules_for(self, path: str) -> frozenset[str]:
        """The rule ids enabled for ``path`` (after per-file ignores)."""
        extra: list[str] = []
        if self.per_file_ignores:
            relative = self.relative(path)
            for pattern, codes in self.per_file_ignores:
                if _matches(relative, pattern):
                    extra.extend(codes)
        return select_rules(tuple(self.select), (*self.ignore, *extra))

    def excluded(self, path: str) -> bool:
        if not self.exclude:
            return False
        relative = self.relative(path)
        return any(_matches(relative, pattern) for pattern in self.exclude)

    def relative(self, path: str) -> str:
        pure = PurePath(path)
        try:
            return Path(pure).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return pure.as_posix()


def _matches(relative: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(relative, pattern):
        return True
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in relative.split("/"))
    return fnmatch.fnmatchcase(relative, pattern.rstrip("/") + "/*")


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start``."""
    folder = start.resolve()
    if folder.is_file():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def load_config(pyproject: Path | None) -> LintConfig:
    """Read ``[tool.faultwise.lint]``; defaults (every rule) without a file or a table."""
    if pyproject is None:
        return LintConfig()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read configuration: {exc}", source=str(pyproject)) from exc
    table = data.get("tool", {}).get("faultwise", {}).get("lint", {})
    return _from_table(table, pyproject)


def _from_table(table: Mapping[str, Any], pyproject: Path) -> LintConfig:
    source = f"{pyproject} [tool.faultwise.lint]"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r}; known: {sorted(_KEYS)}", source=source)
    select = _strings(table.get("select", ["FW"]), "select", source)
    select += _strings(table.get("extend-select", []), "extend-select", source)
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise InputError("per-file-ignores must be a table of glob = [codes]", source=source)
    try:
        return LintConfig(
            select=tuple(select),
            ignore=tuple(_strings(table.get("ignore", []), "ignore", source)),
            per_file_ignores=tuple(
                (glob, tuple(_strings(codes, f"per-file-ignores.{glob}", source)))
                for glob, codes in per_file.items()
            ),
            exclude=tuple(_strings(table.get("exclude", []), "exclude", source)),
            root=pyproject.parent,
            source=str(pyproject),
        )
    except InputError as exc:
        raise InputError(str(exc), source=source) from exc


def _strings(value: object, key: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{key} must be a list of strings", source=source)
    return list(value)

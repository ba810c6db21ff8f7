"""An incident's inputs: telemetry through :func:`faultwise.telemetry.load`, configuration files
through :mod:`faultwise.drift`'s readers into the ``configs`` table, and a baseline window.

Configuration files are told apart by name: YAML, TOML, INI, ``.env``, ``.properties`` and
``.conf`` files, and anything under a directory named ``config``, ``configs`` or
``configuration``; ``--config PATH`` names more. Each configuration file is one environment
(its file name without the suffix: ``payments-1.yaml`` is ``payments-1``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from faultwise._errors import InputError
from faultwise.diagnose._model import Window
from faultwise.telemetry import Format, ProgressHook, Store, Table, load

__all__ = ["TimeSpec", "WindowSpec", "load_incident", "parse_window", "split_inputs"]

_CONFIG_SUFFIXES = frozenset(
    {".yaml", ".yml", ".toml", ".ini", ".env", ".properties", ".conf", ".cfg"}
)
_CONFIG_DIRS = frozenset({"config", "configs", "configuration"})


def _is_config(path: Path, root: Path) -> bool:
    name = path.name.lower()
    if path.suffix.lower() in _CONFIG_SUFFIXES or name.startswith(".env"):
        return True
    parts = path.relative_to(root).parts[:-1] if path != root else ()
    return any(p.lower() in _CONFIG_DIRS for p in parts) or root.name.lower() in _CONFIG_DIRS


def split_inputs(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """(telemetry paths, configuration files): directories holding configuration files are
    opened up into their files so that each kind goes to its own reader."""
    telemetry: list[str] = []
    configs: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or not path.exists():
            telemetry.append(raw)  # stdin, or an error the loader reports with its name
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            found = [p for p in files if _is_config(p, path)]
            if not found:
                telemetry.append(raw)
                continue
            configs.extend(str(p) for p in found)
            telemetry.extend(
                str(p) for p in files if p not in set(found) and not p.name.startswith(".")
            )
        elif _is_config(path, path.parent):
            configs.append(raw)
        else:
            telemetry.append(raw)
    return telemetry, configs


def load_incident(
    paths: Sequence[str],
    *,
    configs: Sequence[str] = (),
    db: str | os.PathLike[str] | None = None,
    fmt: Format | None = None,
    mapping: Sequence[str] | None = None,
    progress: ProgressHook | None = None,
) -> Store:
    """A store holding the telemetry under ``paths`` and the rows of every config file.

    Log templates (``logs.template_id``) are mined only for a store kept in ``db``, for the
    ``templates`` and ``timeline`` commands later: the diagnosis groups messages by its own
    cheaper shape, and mining a million lines costs more than diagnosing them.
    """
    telemetry, found = split_inputs(paths)
    store = load(
        telemetry,
        db=db,
        fmt=fmt,
        mapping=list(mapping or ()),
        progress=progress,
        templates=db is not None,
    )
    try:
        rows = [_config_rows(p) for p in [*found, *configs]]
        store.insert(Table.CONFIGS, [r for batch in rows for r in batch])
    except BaseException:
        store.close()
        raise
    return store


def _config_rows(path: str) -> list[tuple[str, str, str, str]]:
    from faultwise.drift import read_rows

    environment = Path(path).name
    for suffix in sorted(_CONFIG_SUFFIXES | {".json"}, key=len, reverse=True):
        if environment.lower().endswith(suffix) and len(environment) > len(suffix):
            environment = environment[: -len(suffix)]
            break
    return [
        (r.environment, r.source, r.key, r.value) for r in read_rows(path, environment=environment)
    ]


# -- --baseline-window START..END -------------------------------------------------------------

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """One end of a window: an absolute time in ns, or a time of day to place on the data's
    first day."""

    ns: int | None = None
    clock_ns: int | None = None  # since midnight UTC

    def resolve(self, day_start_ns: int) -> int:
        if self.ns is not None:
            return self.ns
        return day_start_ns + (self.clock_ns or 0)


@dataclass(frozen=True, slots=True)
class WindowSpec:
    start: TimeSpec
    end: TimeSpec

    def resolve(self, first_ns: int | None) -> Window:
        day = 0 if first_ns is None else first_ns - first_ns % 86_400_000_000_000
        start, end = self.start.resolve(day), self.end.resolve(day)
        if end <= start:
            raise InputError(f"--baseline-window ends before it starts ({start} >= {end})")
        return Window(start, end)


def parse_window(text: str) -> WindowSpec:
    """``START..END``: RFC 3339 / ISO 8601 times (UTC unless a zone is given), epoch
    seconds, milliseconds or nanoseconds, or times of day (``08:50..08:51``) on the data's
    first day."""
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise InputError(f"--baseline-window takes START..END, got {text!r}")
    return WindowSpec(_parse_time(start.strip()), _parse_time(end.strip()))


def _parse_time(text: str) -> TimeSpec:
    clock = _CLOCK.match(text)
    if clock:
        h, m, s, frac = clock.groups()
        seconds = int(h) * 3600 + int(m) * 60 + int(s or 0)
        return TimeSpec(clock_ns=seconds * 1_000_000_000 + round(float(frac or 0) * 1e9))
    if re.fullmatch(r"\d+(\.\d+)?", text):
        value = Decimal(text)  # exact: a float keeps only about 16 digits of epoch ns
        for limit, scale in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
            if value < limit:
                return TimeSpec(ns=round(value * scale))
        return TimeSpec(ns=round(value))
    try:
        when = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InputError(
            f"cannot read the time {text!r} (use 2026-03-04T10:00:00Z, epoch seconds or 10:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    delta = when - epoch
    return TimeSpec(
        ns=(delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    )

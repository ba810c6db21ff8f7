"""Numbers inside configuration values, with the units that are cheap to read right.

``500ms`` and ``5s`` are both durations (Go/Kubernetes style, also ``1h30m`` and ISO 8601
``PT30S``); ``512Mi``, ``1Gi``, ``1G`` and ``1GB`` are byte sizes (Kubernetes quantities:
``Ki`` is 1024, ``K`` 1000); ``500m`` is half a CPU in a key that names a CPU, 512 MiB in a key
that names memory or a heap (JVM ``-Xmx512m``), and 500 minutes elsewhere. Two values are
compared only when both have the same dimension.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

__all__ = ["Dimension", "Quantity", "quantity"]


class Dimension(enum.StrEnum):
    NUMBER = "number"
    SECONDS = "seconds"
    BYTES = "bytes"
    CPU = "cpu"
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    dimension: Dimension


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_PLAIN = re.compile(_NUMBER)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+")
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.I)
_BYTES = re.compile(r"(\d+(?:\.\d+)?)[ ]?([KMGTPE]i?B?|[kmgtp]i?b?|kB|B)")
_PERCENT = re.compile(rf"({_NUMBER})[ ]?%")
_MILLICPU = re.compile(r"(\d+(?:\.\d+)?)m")

_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SECONDS["d"] = 86400.0
_POWERS = "KMGTPE"
_MEMORY_WORDS = frozenset({"memory", "mem", "heap", "xmx", "xms", "storage", "gomemlimit"})


def quantity(text: str, words: tuple[str, ...] = ()) -> Quantity | None:
    """The number in ``text`` with its dimension, or ``None`` when it is not one number.

    >>> quantity("500ms")
    Quantity(value=0.5, dimension=<Dimension.SECONDS: 'seconds'>)
    """
    value = text.strip()
    if not value or len(value) > 40:
        return None
    if "cpu" in words or "cpus" in words:
        return _cpu(value)
    memory = not _MEMORY_WORDS.isdisjoint(words)
    if _PLAIN.fullmatch(value):
        number = float(value)
        if not math.isfinite(number):
            return None
        return Quantity(number, Dimension.BYTES if memory else Dimension.NUMBER)
    if memory:
        return _bytes(value, jvm=True)
    if _DURATION.fullmatch(value):
        seconds = sum(float(n) * _SECONDS[u] for n, u in _DURATION_PART.findall(value))
        return Quantity(seconds, Dimension.SECONDS)
    iso = _ISO_DURATION.fullmatch(value)
    if iso and any(iso.groups()):
        days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        return Quantity(days * 86400 + hours * 3600 + minutes * 60 + seconds, Dimension.SECONDS)
    percent = _PERCENT.fullmatch(value)
    if percent:
        return Quantity(float(percent.group(1)), Dimension.PERCENT)
    return _bytes(value, jvm=False)


def _cpu(value: str) -> Quantity | None:
    milli = _MILLICPU.fullmatch(value)
    if milli:
        return Quantity(float(milli.group(1)) / 1000, Dimension.CPU)
    if _PLAIN.fullmatch(value):
        return Quantity(float(value), Dimension.CPU)
    return None


def _bytes(value: str, *, jvm: bool) -> Quantity | None:
    match = _BYTES.fullmatch(value)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if unit in {"B", "b"}:
        return Quantity(number, Dimension.BYTES)
    letter = unit[0].upper()
    if unit[0].islower() and unit not in {"kB", "kb"} and not jvm:
        return None  # "5m" outside a memory key is minutes, handled above; "5g" means nothing
    binary = "i" in unit or (jvm and unit[0].islower() and unit not in {"kB"})
    base = 1024.0 if binary else 1000.0
    return Quantity(number * base ** (_POWERS.index(letter) + 1), Dimension.BYTES)

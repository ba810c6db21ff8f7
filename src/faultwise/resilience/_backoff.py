"""Backoff: how long to wait before retry number ``n``.

Every backoff answers one pure question, ``delay(attempt, previous, rng)``: the wait before
retry ``attempt`` (1 = the first retry), given the previous wait and a ``random.Random``. The
same objects drive real retries, the breaker's growing open time and the lab's virtual-time
simulation (``bench/backoff_sim.py``).

Jitter follows Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015:
full ``U(0, v)``, equal ``v/2 + U(0, v/2)``, decorrelated ``min(cap, U(base, 3 * previous))``,
where ``v = min(cap, raw)``.

>>> import random
>>> b = ExponentialBackoff(0.1, cap=2.0, jitter=Jitter.NONE)
>>> [b.delay(n, 0.0, random.Random(0)) for n in (1, 2, 3, 10)]
[0.1, 0.2, 0.4, 2.0]
"""

from __future__ import annotations

import enum
import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = [
    "Backoff",
    "ConstantBackoff",
    "DecorrelatedBackoff",
    "ExponentialBackoff",
    "Jitter",
    "LinearBackoff",
    "equal_jitter",
    "full_jitter",
]

_MAX_EXPONENT = 1000  # 2.0 ** 1000 is still a float; beyond it the cap applies anyway


class Jitter(enum.Enum):
    """How a computed wait ``v`` is randomised (Brooker 2015)."""

    NONE = "none"  # v
    FULL = "full"  # U(0, v): the fewest calls and the shortest completion in Brooker's runs
    EQUAL = "equal"  # v/2 + U(0, v/2): never waits less than half

    def apply(self, value: float, rng: random.Random) -> float:
        if self is Jitter.FULL:
            return rng.uniform(0.0, value)
        if self is Jitter.EQUAL:
            return value / 2 + rng.uniform(0.0, value / 2)
        return value


class Backoff(ABC):
    """A wait schedule. Add two to sum their waits: ``ConstantBackoff(1) + LinearBackoff(0, 1)``."""

    __slots__ = ()

    @abstractmethod
    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        """Seconds to wait before retry ``attempt`` (1-based); ``previous`` is the last wait."""

    def schedule(self, retries: int, rng: random.Random | None = None) -> list[float]:
        """The first ``retries`` waits, e.g. to print or test a configuration."""
        rng = rng or random.Random(0)
        out: list[float] = []
        previous = 0.0
        for attempt in range(1, retries + 1):
            previous = self.delay(attempt, previous, rng)
            out.append(previous)
        return out

    def __add__(self, other: Backoff) -> Backoff:
        return SumBackoff((self, other))


def _check(name: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class ConstantBackoff(Backoff):
    """The same wait every time (Polly's default retry waits 2 s constant)."""

    seconds: float
    jitter: Jitter = Jitter.NONE

    def __post_init__(self) -> None:
        _check("seconds", self.seconds)

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return self.jitter.apply(self.seconds, rng)


@dataclass(frozen=True, slots=True)
class LinearBackoff(Backoff):
    """``start + step * (attempt - 1)``, capped, then jittered."""

    start: float
    step: float
    cap: float = math.inf
    jitter: Jitter = Jitter.NONE

    def __post_init__(self) -> None:
        for name in ("start", "step", "cap"):
            _check(name, getattr(self, name))

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return self.jitter.apply(min(self.cap, self.start + self.step * (attempt - 1)), rng)


@dataclass(frozen=True, slots=True)
class ExponentialBackoff(Backoff):
    """``min(cap, base * factor ** (attempt - 1))``, then jittered (full jitter by default).

    Full jitter is the default because it made the fewest calls and finished soonest in
    Brooker's simulation (AWS 2015, reproduced by ``bench/backoff_sim.py``).
    """

    base: float
    cap: float = math.inf
    factor: float = 2.0
    jitter: Jitter = Jitter.FULL

    def __post_init__(self) -> None:
        for name in ("base", "cap"):
            _check(name, getattr(self, name))
        if not self.factor >= 1:
            raise ValueError(f"factor must be >= 1, got {self.factor!r}")

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        exponent = min(attempt - 1, _MAX_EXPONENT)
        try:
            raw = self.base * self.factor**exponent
        except OverflowError:
            raw = math.inf
        return self.jitter.apply(min(self.cap, raw), rng)


@dataclass(frozen=True, slots=True)
class DecorrelatedBackoff(Backoff):
    """``min(cap, U(base, 3 * previous))``: Brooker's "decorrelated jitter" (AWS 2015)."""

    base: float
    cap: float = math.inf

    def __post_init__(self) -> None:
        _check("base", self.base)
        _check("cap", self.cap)

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return min(self.cap, rng.uniform(self.base, 3 * max(previous, self.base)))


@dataclass(frozen=True, slots=True)
class SumBackoff(Backoff):
    """The sum of several backoffs' waits (built by ``a + b``)."""

    parts: tuple[Backoff, ...]

    def delay(self, attempt: int, previous: float, rng: random.Random) -> float:
        return sum(part.delay(attempt, previous, rng) for part in self.parts)

    def __add__(self, other: Backoff) -> Backoff:
        return SumBackoff((*self.parts, other))


def full_jitter(base: float, cap: float = math.inf) -> ExponentialBackoff:
    """Exponential backoff with full jitter: ``U(0, min(cap, base * 2 ** (n - 1)))``."""
    return ExponentialBackoff(base, cap=cap, jitter=Jitter.FULL)


def equal_jitter(base: float, cap: float = math.inf) -> ExponentialBackoff:
    """Exponential backoff with equal jitter: ``v/2 + U(0, v/2)``."""
    return ExponentialBackoff(base, cap=cap, jitter=Jitter.EQUAL)

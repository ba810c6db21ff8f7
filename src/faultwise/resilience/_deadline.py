"""Deadlines: one time budget for a whole request, held in a contextvar.

``with deadline(2.0):`` gives everything inside it (nested policies, retries, bulkhead and
limiter waits, outgoing HTTP calls) at most 2 s. An inner deadline can only shorten an outer
one. The budget crosses process boundaries as the header ``x-request-timeout-ms``: the
remaining time in whole milliseconds, relative rather than absolute (like Envoy's
``x-envoy-expected-rq-timeout-ms`` and gRPC's ``grpc-timeout``), so clock skew between hosts
does not matter.

>>> with deadline(2.0):
...     headers = deadline_to_headers()
>>> int(headers["x-request-timeout-ms"]) <= 2000
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from faultwise._clock import SYSTEM_CLOCK, Clock

__all__ = [
    "DEADLINE_HEADER",
    "Deadline",
    "current_deadline",
    "deadline",
    "deadline_from_headers",
    "deadline_to_headers",
    "remaining",
]

DEADLINE_HEADER = "x-request-timeout-ms"


@dataclass(frozen=True, slots=True)
class Deadline:
    """An instant on ``clock`` (monotonic seconds) by which the work must be done."""

    at: float
    clock: Clock = SYSTEM_CLOCK

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self.clock.now()

    def expired(self) -> bool:
        return self.clock.now() >= self.at


Instant = tuple[float, Clock]
"""The contextvar holds ``(at, clock)``: a plain tuple is several times cheaper to make per
call than any object, and :func:`current_deadline` wraps it for users."""

_current: ContextVar[Instant | None] = ContextVar("faultwise_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline in force in this context, or ``None``."""
    current = _current.get()
    return None if current is None else Deadline(*current)


def remaining() -> float | None:
    """Seconds left before the current deadline, or ``None`` when there is none."""
    current = _current.get()
    return None if current is None else current[0] - current[1].now()


def tighter(seconds: float, clock: Clock, now: float) -> Instant:
    """The instant ``seconds`` after ``now`` on ``clock``, or the current deadline if sooner."""
    current = _current.get()
    if current is not None:
        at, its_clock = current
        if at - (now if its_clock is clock else its_clock.now()) <= seconds:
            return current
    return (now + seconds, clock)


@contextmanager
def deadline(seconds: float | None, *, clock: Clock = SYSTEM_CLOCK) -> Iterator[Deadline | None]:
    """Run the block with at most ``seconds`` left (``None``: keep the current deadline).

    Nested deadlines only ever shorten: the tighter of the two wins.
    """
    if seconds is None:
        yield current_deadline()
        return
    if math.isnan(seconds):
        raise ValueError("a deadline cannot be NaN")
    token = _current.set(tighter(seconds, clock, clock.now()))
    try:
        yield current_deadline()
    finally:
        _current.reset(token)


def deadline_to_headers(
    headers: MutableMapping[str, str] | None = None,
) -> MutableMapping[str, str]:
    """Add ``x-request-timeout-ms`` (remaining whole ms, never negative) when a deadline is set.

    Returns ``headers`` (a new dict when ``None``), ready for an outgoing HTTP request.
    """
    out: MutableMapping[str, str] = {} if headers is None else headers
    left = remaining()
    if left is not None:
        out[DEADLINE_HEADER] = str(max(0, math.floor(left * 1000)))
    return out


def deadline_from_headers(headers: Mapping[str, str]) -> float | None:
    """The budget in seconds an incoming request carries, or ``None`` (absent or malformed).

    Header names are matched case-insensitively. Use it as ``with deadline(seconds):``.
    A malformed value is ignored rather than failing the request: the server then applies
    its own timeout.
    """
    value = headers.get(DEADLINE_HEADER)
    if value is None:
        value = next(
            (v for k, v in headers.items() if k.lower() == DEADLINE_HEADER),
            None,
        )
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):  # whole, non-negative milliseconds only
        return None
    return int(value) / 1000

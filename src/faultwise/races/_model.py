"""What the detector reports: frozen dataclasses, with a stable JSON form."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Kind(enum.StrEnum):
    """The kinds of finding (stable strings in the JSON form)."""

    DATA_RACE = "data-race"
    LOCKSET = "lockset-violation"
    ASYNC_RACE = "async-race"
    LOCK_ORDER = "lock-order-inversion"
    HANG = "hang"


@dataclass(frozen=True)
class Frame:
    """One user frame of a stack: file, line, function and the source line."""

    file: str
    line: int
    function: str
    source: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


Stack = tuple[Frame, ...]


@dataclass(frozen=True)
class Access:
    """One side of a race: which thread (or task) did what, and where."""

    thread: str
    op: str  # "read" or "write"
    stack: Stack


@dataclass(frozen=True)
class Location:
    """Where the shared state lives: ``module.count``, ``pkg.mod.Account.balance``, ``cache[k]``."""

    kind: str  # "global", "attribute", "class attribute", "item"
    owner: str
    name: str

    def __str__(self) -> str:
        if self.kind == "item":
            return f"{self.owner}[{self.name}]"
        return f"{self.owner}.{self.name}"


@dataclass(frozen=True)
class Race:
    """Two unordered accesses to one location, at least one a write.

    For ``async-race`` the previous access is the read of this task's read-modify-write and
    ``other`` is the write of another task that landed between that read and this write.
    """

    kind: Kind
    location: Location
    current: Access
    previous: Access
    other: Access | None = None
    test: str | None = None
    count: int = 1


@dataclass(frozen=True)
class LockEdge:
    """``acquired`` was taken while ``held`` was held."""

    held: str
    acquired: str
    thread: str
    held_stack: Stack
    acquire_stack: Stack


@dataclass(frozen=True)
class LockOrderCycle:
    """Locks taken in an order that can deadlock, each edge with where it was seen."""

    locks: tuple[str, ...]
    edges: tuple[LockEdge, ...]
    test: str | None = None
    kind: Kind = Kind.LOCK_ORDER
    count: int = 1


@dataclass(frozen=True)
class ThreadDump:
    name: str
    waiting_for: str | None
    stack: Stack


@dataclass(frozen=True)
class Hang:
    """Threads that waited longer than the limit, and every thread's stack at that moment."""

    waited: float
    waiting: tuple[str, ...]
    threads: tuple[ThreadDump, ...]
    test: str | None = None
    kind: Kind = Kind.HANG
    count: int = 1


Finding = Race | LockOrderCycle | Hang


@dataclass(frozen=True)
class Report:
    """Everything one detector found, deduplicated, plus what it suppressed."""

    findings: tuple[Finding, ...] = ()
    suppressed: int = 0
    instrumented_modules: tuple[str, ...] = field(default_factory=tuple)
    internal_errors: tuple[str, ...] = ()

    @property
    def races(self) -> tuple[Race, ...]:
        return tuple(f for f in self.findings if isinstance(f, Race))

    @property
    def lock_cycles(self) -> tuple[LockOrderCycle, ...]:
        return tuple(f for f in self.findings if isinstance(f, LockOrderCycle))

    @property
    def hangs(self) -> tuple[Hang, ...]:
        return tuple(f for f in self.findings if isinstance(f, Hang))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: findings, the suppressed count and the instrumented modules."""
        return {
            "findings": [_finding_dict(f) for f in self.findings],
            "suppressed": self.suppressed,
            "instrumented_modules": list(self.instrumented_modules),
            "internal_errors": list(self.internal_errors),
        }


def _finding_dict(f: Finding) -> dict[str, Any]:
    d = asdict(f)
    d["kind"] = str(f.kind)
    if isinstance(f, Race):
        d["location"]["text"] = str(f.location)
    return d

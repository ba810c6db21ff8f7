"""N-way comparison of environments into a typed :class:`DriftReport`."""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from faultwise.drift._config import DriftConfig
from faultwise.drift._keys import Killer, killer_of, words
from faultwise.drift._model import Environment, Reject, ValueType
from faultwise.drift._secrets import (
    KeyedHasher,
    Observed,
    Secrecy,
    SecretHasher,
    SecretPolicy,
    redact,
)
from faultwise.drift._units import Dimension, Quantity, quantity

__all__ = [
    "DriftReport",
    "EnvironmentSummary",
    "KeyDrift",
    "NumericDelta",
    "Observations",
    "Status",
    "compare",
    "compare_observed",
    "observe",
]


class Status(enum.StrEnum):
    SAME = "same"
    EXPECTED = "expected"  # differs, and the config allows it
    UNEXPECTED = "unexpected"  # differs: drift


@dataclass(frozen=True, slots=True)
class Observations:
    """An environment after redaction: what faultwise may compare and show."""

    name: str
    values: dict[str, Observed]
    sources: tuple[str, ...] = ()
    rejects: tuple[Reject, ...] = ()


@dataclass(frozen=True, slots=True)
class NumericDelta:
    """How one environment's number compares with the most common value of the others."""

    environment: str
    reference: str  # the environment holding the reference value
    value: float
    reference_value: float
    dimension: Dimension

    @property
    def ratio(self) -> float | None:
        """``value / reference_value``; ``None`` when zero or a change of sign hides it."""
        if self.reference_value == 0 or self.value == 0:
            return None
        ratio = self.value / self.reference_value
        return ratio if ratio > 0 else None

    @property
    def direction(self) -> str:
        return "higher" if self.value > self.reference_value else "lower"

    def describe(self) -> str:
        """``10× lower in prod``, ``25% higher in staging``."""
        ratio = self.ratio
        if ratio is None:
            return f"{self.direction} in {self.environment}"
        factor = max(ratio, 1 / ratio)
        if factor >= 2:
            shown = f"{factor:.0f}" if abs(factor - round(factor)) < 0.05 else f"{factor:.1f}"
            return f"{shown}× {self.direction} in {self.environment}"
        percent = abs(self.value - self.reference_value) / abs(self.reference_value) * 100
        return f"{percent:.3g}% {self.direction} in {self.environment}"


@dataclass(frozen=True, slots=True)
class KeyDrift:
    """One key across all environments: its values, and what differs."""

    key: str
    status: Status
    values: tuple[Observed | None, ...]  # one per environment, in order; None where missing
    environments: tuple[str, ...]
    killer: Killer | None = None
    missing: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()  # environments with equal values, reference first
    deltas: tuple[NumericDelta, ...] = ()
    types: tuple[tuple[str, ValueType], ...] = ()  # set only when typed values disagree
    switches: tuple[tuple[str, bool], ...] = ()  # (environment, on) where a flag flips
    reasons: tuple[str, ...] = ()  # why an expected difference is expected

    @property
    def secrecy(self) -> Secrecy:
        kinds = {v.secrecy for v in self.values if v is not None}
        return next((k for k in (Secrecy.WHOLE, Secrecy.PART) if k in kinds), Secrecy.NONE)

    def notes(self) -> list[str]:
        """Short statements of what differs, in the order a person reads them."""
        notes: list[str] = []
        if self.missing:
            present = [e for e, v in zip(self.environments, self.values, strict=True) if v]
            if len(present) == 1 and len(self.environments) > 2:
                notes.append(f"only in {present[0]}")
            else:
                notes.append(f"missing in {', '.join(self.missing)}")
        notes.extend(delta.describe() for delta in self.deltas)
        notes.extend(f"{'on' if on else 'off'} in {env}" for env, on in self.switches)
        if self.types:
            notes.append("type: " + ", ".join(f"{t.value} in {e}" for e, t in self.types))
        if self.secrecy is not Secrecy.NONE and self.status is not Status.SAME:
            notes.append(self._secret_note())
        if self.status is Status.EXPECTED:
            notes.extend(self.reasons)  # the rule's reason, or "allowed by PATTERN"
        return notes

    def _secret_note(self) -> str:
        digests = [v.digest if v else None for v in self.values]
        what = "secret" if self.secrecy is Secrecy.WHOLE else "password"
        present = [d for d in digests if d is not None]
        if len(set(present)) <= 1:
            return f"{what} same"
        if len(self.groups) <= 1:
            return f"{what} differs"
        return f"{what} differs ({' ≠ '.join(' = '.join(g) for g in self.groups)})"

    def summary(self) -> str:
        """One line: ``TIMEOUT_MS 500 vs 5000: 10× lower in prod``."""
        notes = self.notes()
        head = self.key
        if len(self.deltas) == 1:
            delta = self.deltas[0]
            value = self._text(delta.environment)
            reference = self._text(delta.reference)
            head = f"{self.key} {value} vs {reference}"
        return f"{head}: {'; '.join(notes)}" if notes else head

    def _text(self, environment: str) -> str:
        value = self.values[self.environments.index(environment)]
        return value.text if value is not None else "(missing)"


@dataclass(frozen=True, slots=True)
class EnvironmentSummary:
    name: str
    sources: tuple[str, ...]
    keys: int
    rejects: tuple[Reject, ...] = ()


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The comparison of N environments: killer keys first, then other unexpected drift."""

    environments: tuple[EnvironmentSummary, ...]
    keys: tuple[KeyDrift, ...]
    total_keys: int

    @property
    def unexpected(self) -> tuple[KeyDrift, ...]:
        return tuple(k for k in self.keys if k.status is Status.UNEXPECTED)

    @property
    def expected(self) -> tuple[KeyDrift, ...]:
        return tuple(k for k in self.keys if k.status is Status.EXPECTED)

    @property
    def has_unexpected(self) -> bool:
        return any(k.status is Status.UNEXPECTED for k in self.keys)


def observe(
    environment: Environment, hasher: SecretHasher, policy: SecretPolicy | None = None
) -> Observations:
    """Redact every entry of ``environment``: from here on no secret value exists."""
    policy = policy or SecretPolicy()
    values = {key: redact(entry, hasher, policy) for key, entry in environment.entries.items()}
    return Observations(environment.name, values, environment.sources, environment.rejects)


def compare(
    environments: Sequence[Environment],
    *,
    config: DriftConfig | None = None,
    hasher: SecretHasher | None = None,
    include_same: bool = False,
) -> DriftReport:
    """Compare N environments; secrets are compared by a salted digest, never shown.

    >>> envs = [read_environment("staging.env"), read_environment("prod.env")]  # doctest: +SKIP
    >>> report = compare(envs)  # doctest: +SKIP
    >>> [k.summary() for k in report.unexpected]  # doctest: +SKIP
    ['TIMEOUT_MS 500 vs 5000: 10× lower in prod']
    """
    config = config or DriftConfig()
    hasher = hasher or KeyedHasher.random()
    policy = SecretPolicy(config.secret, config.public)
    observed = [observe(env, hasher, policy) for env in environments]
    return compare_observed(observed, config=config, include_same=include_same)


def compare_observed(
    environments: Sequence[Observations],
    *,
    config: DriftConfig | None = None,
    include_same: bool = False,
) -> DriftReport:
    """Compare redacted environments (the form snapshots keep)."""
    config = config or DriftConfig()
    names = tuple(env.name for env in environments)
    all_keys = dict.fromkeys(k for env in environments for k in env.values)
    drifts = []
    for key in all_keys:
        drift = _key_drift(key, names, [env.values.get(key) for env in environments], config)
        if include_same or drift.status is not Status.SAME:
            drifts.append(drift)
    order = {Status.UNEXPECTED: 0, Status.EXPECTED: 1, Status.SAME: 2}
    drifts.sort(key=lambda d: (order[d.status], d.killer is None, d.key))
    summaries = tuple(
        EnvironmentSummary(env.name, env.sources, len(env.values), env.rejects)
        for env in environments
    )
    return DriftReport(summaries, tuple(drifts), len(all_keys))


def _key_drift(
    key: str, names: tuple[str, ...], values: list[Observed | None], config: DriftConfig
) -> KeyDrift:
    killer = Killer.CUSTOM if config.custom_killer(key) else killer_of(key)
    grouped: dict[tuple[str, str], list[int]] = {}
    for index, value in enumerate(values):
        if value is not None:
            grouped.setdefault(value.identity, []).append(index)
    groups = sorted(grouped.values(), key=lambda g: (-len(g), g[0]))
    missing = tuple(n for n, v in zip(names, values, strict=True) if v is None)
    types = _types(names, values)
    if len(groups) <= 1 and not missing and not types:
        return KeyDrift(key, Status.SAME, tuple(values), names, killer)
    differing = [
        (names[a], names[b])
        for a, b in itertools.combinations(range(len(values)), 2)
        if _differ(values[a], values[b])
    ]
    rules = config.rules()
    covering = {r for pair in differing for r in rules if r.covers(key, *pair)}
    expected = all(any(r.covers(key, *pair) for r in rules) for pair in differing)
    return KeyDrift(
        key=key,
        status=Status.EXPECTED if expected else Status.UNEXPECTED,
        values=tuple(values),
        environments=names,
        killer=killer,
        missing=missing,
        groups=tuple(tuple(names[i] for i in g) for g in groups),
        deltas=_deltas(key, names, values, groups),
        types=types,
        switches=_switches(names, values, groups),
        reasons=tuple(sorted({r.describe(key) for r in covering})) if expected else (),
    )


def _differ(a: Observed | None, b: Observed | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return a.identity != b.identity or (a.typed and b.typed and a.type is not b.type)


def _deltas(
    key: str, names: tuple[str, ...], values: list[Observed | None], groups: list[list[int]]
) -> tuple[NumericDelta, ...]:
    if len(groups) < 2:
        return ()
    key_words = words(key)
    reference = values[groups[0][0]]
    assert reference is not None
    base = _number(reference, key_words)
    if base is None:
        return ()
    deltas: list[NumericDelta] = []
    for group in groups[1:]:
        value = values[group[0]]
        assert value is not None
        number = _number(value, key_words)
        if number is None or number.dimension is not base.dimension or number.value == base.value:
            continue
        deltas.extend(
            NumericDelta(names[i], names[groups[0][0]], number.value, base.value, base.dimension)
            for i in group
        )
    return tuple(deltas)


def _number(value: Observed, key_words: tuple[str, ...]) -> Quantity | None:
    if value.secrecy is not Secrecy.NONE:
        return None
    found = quantity(value.text, key_words)
    return found if found is not None and math.isfinite(found.value) else None


_BOOLEANS = {
    **dict.fromkeys(("true", "on", "yes", "1", "enabled", "enable", "y"), True),
    **dict.fromkeys(("false", "off", "no", "0", "disabled", "disable", "n"), False),
}


def _switches(
    names: tuple[str, ...], values: list[Observed | None], groups: list[list[int]]
) -> tuple[tuple[str, bool], ...]:
    """Environments where a boolean flag is the opposite of the reference value."""
    flags = [_BOOLEANS.get(v.text.strip().lower()) if v and not v.digest else None for v in values]
    present = [f for f, v in zip(flags, values, strict=True) if v is not None]
    if len(groups) < 2 or None in present or len(set(present)) < 2:
        return ()
    reference = flags[groups[0][0]]
    return tuple(
        (names[i], bool(flag))
        for i, flag in enumerate(flags)
        if flag is not None and flag != reference
    )


def _types(
    names: tuple[str, ...], values: list[Observed | None]
) -> tuple[tuple[str, ValueType], ...]:
    typed = [(n, v.type) for n, v in zip(names, values, strict=True) if v and v.typed]
    return tuple(typed) if len({t for _, t in typed}) > 1 else ()

"""Drift over time: a snapshot of environments now, checked against them later.

A snapshot holds every key's shown value, type and source; secrets only as scrypt digests
with the snapshot's salt, so a later check can tell "same" from "changed" without ever
having stored the secret.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultwise._errors import InputError
from faultwise.drift._compare import DriftReport, Observations, compare_observed, observe
from faultwise.drift._config import DriftConfig
from faultwise.drift._model import Environment, ValueType
from faultwise.drift._secrets import Observed, ScryptHasher, Secrecy, SecretPolicy
from faultwise.drift._text import decode, read_bytes

__all__ = ["Snapshot", "check_snapshot", "load_snapshot", "take_snapshot"]

FORMAT = "faultwise-drift-snapshot/1"
_KDF = re.compile(r"scrypt:n=(\d+),r=(\d+),p=(\d+)")


@dataclass(frozen=True, slots=True)
class Snapshot:
    created: str
    hasher: ScryptHasher
    environments: tuple[Observations, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created": self.created,
            "kdf": self.hasher.kdf,
            "salt": self.hasher.salt.hex(),
            "environments": [_env_json(env) for env in self.environments],
        }


def take_snapshot(
    environments: Sequence[Environment],
    *,
    created: str,
    config: DriftConfig | None = None,
    hasher: ScryptHasher | None = None,
) -> Snapshot:
    """Redact ``environments`` with a fresh salt (unless ``hasher`` is given) into a snapshot."""
    config = config or DriftConfig()
    hasher = hasher or ScryptHasher(os.urandom(16))
    policy = SecretPolicy(config.secret, config.public)
    observed = tuple(observe(env, hasher, policy) for env in environments)
    return Snapshot(created, hasher, observed)


def check_snapshot(
    snapshot: Snapshot,
    environments: Sequence[Environment],
    *,
    config: DriftConfig | None = None,
    include_same: bool = False,
) -> list[DriftReport]:
    """For each environment, what changed since the snapshot (``name@baseline`` vs ``name``)."""
    config = config or DriftConfig()
    baseline = {env.name: env for env in snapshot.environments}
    policy = SecretPolicy(config.secret, config.public)
    reports = []
    for env in environments:
        before = baseline.get(env.name)
        if before is None:
            known = ", ".join(baseline) or "none"
            raise InputError(
                f"environment {env.name!r} is not in the snapshot (it has: {known}); use --name"
            )
        renamed = Observations(f"{env.name}@baseline", before.values, before.sources, ())
        now = observe(env, snapshot.hasher, policy)
        reports.append(compare_observed([renamed, now], config=config, include_same=include_same))
    return reports


def load_snapshot(path: Path) -> Snapshot:
    """Read a snapshot file; anything malformed is an :class:`InputError` naming the file."""
    text = decode(read_bytes(path), str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", source=f"{path}:{exc.lineno}") from None
    try:
        return _snapshot(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"not a faultwise drift snapshot ({exc})", source=str(path)) from None


def _snapshot(data: dict[str, Any]) -> Snapshot:
    if data.get("format") != FORMAT:
        raise ValueError(f"format is not {FORMAT!r}")
    kdf = _KDF.fullmatch(data["kdf"])
    if kdf is None:
        raise ValueError(f"unknown kdf {data['kdf']!r}")
    n, r, p = (int(g) for g in kdf.groups())
    if not (2 <= n <= 2**16 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        raise ValueError(f"kdf parameters out of range: {data['kdf']!r}")
    hasher = ScryptHasher(bytes.fromhex(data["salt"]), n=n, r=r, p=p)
    environments = tuple(
        Observations(
            str(env["name"]),
            {str(key): _observed(value) for key, value in env["keys"].items()},
            tuple(str(s) for s in env.get("sources", ())),
        )
        for env in data["environments"]
    )
    return Snapshot(str(data["created"]), hasher, environments)


def _env_json(env: Observations) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for key, value in env.values.items():
        item: dict[str, Any] = {
            "value": value.text,
            "type": value.type.value,
            "source": value.source,
        }
        if value.secrecy is not Secrecy.NONE:
            item["secrecy"] = value.secrecy.value
            item["digest"] = value.digest
        keys[key] = item
    return {"name": env.name, "sources": list(env.sources), "keys": keys}


def _observed(item: dict[str, Any]) -> Observed:
    return Observed(
        text=str(item["value"]),
        type=ValueType(item["type"]),
        source=str(item.get("source", "")),
        secrecy=Secrecy(item.get("secrecy", Secrecy.NONE.value)),
        digest=str(item.get("digest", "")),
    )

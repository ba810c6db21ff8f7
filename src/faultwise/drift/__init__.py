"""Configuration drift between environments, before it causes the outage.

Read each environment (env dumps, ``.env``, JSON, YAML, TOML, INI, Kubernetes manifests, Helm
values, or a directory of them) into flattened keys, then compare N of them::

    from faultwise.drift import compare, read_environments

    report = compare(read_environments(["deploy/staging", "deploy/prod"]))
    for key in report.unexpected:          # killer keys (pool sizes, timeouts...) come first
        print(key.summary())               # TIMEOUT_MS 500 vs 5000: 10× lower in prod

Secrets (by key name, by source, inside connection strings) are compared by salted digest and
never shown. ``read_rows`` gives the rows of the telemetry ``configs`` table.
"""

from __future__ import annotations

from pathlib import Path

from faultwise.drift._compare import (
    DriftReport,
    EnvironmentSummary,
    KeyDrift,
    NumericDelta,
    Observations,
    Status,
    compare,
    compare_observed,
    observe,
)
from faultwise.drift._config import DriftConfig, Expected, find_config, load_config
from faultwise.drift._keys import Killer, is_secret_key, killer_of
from faultwise.drift._model import ConfigEntry, ConfigRow, Environment, Format, Reject, ValueType
from faultwise.drift._read import detect_format, read_environment, read_environments
from faultwise.drift._secrets import (
    KeyedHasher,
    Observed,
    ScryptHasher,
    Secrecy,
    SecretHasher,
    SecretPolicy,
)
from faultwise.drift._snapshot import Snapshot, check_snapshot, load_snapshot, take_snapshot
from faultwise.drift._units import Dimension, Quantity, quantity

__all__ = [
    "ConfigEntry",
    "ConfigRow",
    "Dimension",
    "DriftConfig",
    "DriftReport",
    "Environment",
    "EnvironmentSummary",
    "Expected",
    "Format",
    "KeyDrift",
    "KeyedHasher",
    "Killer",
    "NumericDelta",
    "Observations",
    "Observed",
    "Quantity",
    "Reject",
    "ScryptHasher",
    "Secrecy",
    "SecretHasher",
    "SecretPolicy",
    "Snapshot",
    "Status",
    "ValueType",
    "check_snapshot",
    "compare",
    "compare_observed",
    "detect_format",
    "find_config",
    "is_secret_key",
    "killer_of",
    "load_config",
    "load_snapshot",
    "observe",
    "quantity",
    "read_environment",
    "read_environments",
    "read_rows",
    "take_snapshot",
]

_PROCESS_HASHER = KeyedHasher.random()  # one salt per run: equal secrets, equal digests


def read_rows(
    path: str | Path,
    *,
    environment: str | None = None,
    format: Format = Format.AUTO,
    hasher: SecretHasher | None = None,
    policy: SecretPolicy | None = None,
) -> list[ConfigRow]:
    """Rows of the ``configs(environment, source, key, value)`` table for one path.

    Secret values become ``<secret:DIGEST>`` (passwords inside connection strings are
    masked and the digest appended), with a salt random per process unless ``hasher`` is
    given, so equal secrets give equal values within one run and nothing more.

    >>> rows = read_rows("deploy/prod")  # doctest: +SKIP
    >>> (rows[0].key, rows[0].value, rows[0].source)  # doctest: +SKIP
    ('Deployment/api.replicas', '3', 'deploy/prod/api.yaml:21')
    """
    env = read_environment(path, name=environment, format=format)
    observed = observe(env, hasher or _PROCESS_HASHER, policy)
    rows = []
    for key, value in observed.values.items():
        shown = value.text
        if value.secrecy is Secrecy.WHOLE:
            shown = f"<secret:{value.digest[:16]}>"
        elif value.secrecy is Secrecy.PART:
            shown = f"{value.text} <secret:{value.digest[:16]}>"
        rows.append(
            ConfigRow(env.name, value.source, key, shown, value.secrecy is not Secrecy.NONE)
        )
    return rows

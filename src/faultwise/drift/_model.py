"""The shapes every reader produces: flattened entries of one environment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["ConfigEntry", "ConfigRow", "Environment", "Format", "Reject", "ValueType"]


class Format(enum.StrEnum):
    """An input kind; ``auto`` detects it from the file name and content."""

    AUTO = "auto"
    ENV = "env"  # `env` / `kubectl exec ... env` output: KEY=VALUE, raw values
    DOTENV = "dotenv"  # .env files: quotes, export, comments, multi-line values
    JSON = "json"
    YAML = "yaml"
    TOML = "toml"
    INI = "ini"
    KUBERNETES = "kubernetes"  # manifests (YAML or JSON) with apiVersion and kind
    HELM = "helm"  # Helm values files: plain YAML, never read as manifests


class ValueType(enum.StrEnum):
    """The type of a value as its source wrote it; ``text`` is untyped (env files, INI)."""

    TEXT = "text"
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    NULL = "null"
    LIST = "list"
    MAP = "map"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One flattened key of one environment, with where it was read (``file:line``)."""

    key: str
    text: str
    type: ValueType
    source: str
    secret: bool = False  # the source says so (a Kubernetes Secret), whatever the key's name


@dataclass(frozen=True, slots=True)
class Reject:
    """Input that was skipped rather than read: a line that does not parse, an unknown file."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Environment:
    """Everything read for one environment: entries by key, and what was skipped."""

    name: str
    entries: dict[str, ConfigEntry]
    sources: tuple[str, ...] = ()
    rejects: tuple[Reject, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """A row of the telemetry ``configs(environment, source, key, value)`` table.

    ``value`` is never a secret: secret values and passwords inside connection strings are
    replaced by a salted digest (``<secret:1a2b3c4d5e6f>``), equal for equal values in one run.
    """

    environment: str
    source: str
    key: str
    value: str
    secret: bool

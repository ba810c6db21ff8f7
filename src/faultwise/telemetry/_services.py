"""Service names from pod names and file names.

Kubernetes names a Deployment's pods ``<deployment>-<replicaset hash>-<5 chars>`` and a
DaemonSet's or Job's ``<name>-<5 chars>``, both drawn from the alphabet
``bcdfghjklmnpqrstvwxz2456789`` (no vowels, no 0/1/3, so suffixes never spell words; see
``k8s.io/apimachinery/pkg/util/rand.SafeEncodeString``). Stripping those suffixes gives the
workload, which is the service: ``ts-contacts-service-866bd68c97-xcqfx`` is
``ts-contacts-service``. StatefulSet pods keep their ordinal out (``redis-0`` is ``redis``).
"""

from __future__ import annotations

import re

__all__ = ["POD_SUFFIX_SQL", "service_from_file", "service_from_pod"]

_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
# RE2 (DuckDB) and Python share this pattern.
POD_SUFFIX = rf"(-{_SAFE}{{6,10}}-{_SAFE}{{5}}|-{_SAFE}{{5}}|-\d+)$"
POD_SUFFIX_SQL = POD_SUFFIX.replace("\\", "\\\\")
_POD_SUFFIX = re.compile(POD_SUFFIX)
_FILE_NOISE = re.compile(
    r"(\.(log|logs|txt|json|jsonl|ndjson|csv|tsv|out|err|prom|om|gz|zst|zstd|\d+))+$"
    r"|[_.-](log|logs|metric|metrics|trace|traces|spans|events|stdout|stderr|json)$",
    re.IGNORECASE,
)
_GENERIC = frozenset(
    [
        "app",
        "application",
        "output",
        "stdout",
        "stderr",
        "log",
        "logs",
        "messages",
        "syslog",
        "all",
        "combined",
        "access",
        "error",
        "events",
        "trace",
        "traces",
        "spans",
        "metrics",
        "data",
        "test",
        "sample",
        "input",
        "incident",
        "kern",
        "daemon",
        "auth",
        "current",
        "latest",
        "main",
        "default",
    ]
)


def service_from_pod(pod: str) -> str:
    """``ts-contacts-service-866bd68c97-xcqfx`` -> ``ts-contacts-service``."""
    stripped = _POD_SUFFIX.sub("", pod)
    return stripped or pod


def service_from_file(name: str) -> str | None:
    """A service name from a file name, or None for generic names (``app.log``, ``08_43.csv``)."""
    stem = name
    while True:
        shorter = _FILE_NOISE.sub("", stem)
        if shorter == stem:
            break
        stem = shorter
    stem = service_from_pod(stem)
    if not re.search(r"[A-Za-z]{2}", stem) or stem.lower() in _GENERIC:
        return None
    return stem

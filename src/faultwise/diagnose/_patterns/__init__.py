"""One detector module per failure pattern; each exposes ``detect(ctx) -> list[Finding]``."""

from __future__ import annotations

from collections.abc import Callable

from faultwise.diagnose._context import Context
from faultwise.diagnose._model import Finding, Pattern
from faultwise.diagnose._patterns import (
    cascading_failure,
    config_drift,
    cpu_saturation,
    deadlock,
    disk_exhaustion,
    error_burst,
    memory_leak,
    missing_circuit_breaker,
    missing_timeout,
    network_delay,
    pool_exhaustion,
    race_condition,
    retry_storm,
    silent_failure,
    slow_dependency,
)

__all__ = ["DETECTORS", "Detector"]

Detector = Callable[[Context], list[Finding]]

DETECTORS: dict[Pattern, Detector] = {
    Pattern.CONFIG_DRIFT: config_drift.detect,
    Pattern.POOL_EXHAUSTION: pool_exhaustion.detect,
    Pattern.MEMORY_LEAK: memory_leak.detect,
    Pattern.DISK_EXHAUSTION: disk_exhaustion.detect,
    Pattern.CPU_SATURATION: cpu_saturation.detect,
    Pattern.RACE_CONDITION: race_condition.detect,
    Pattern.DEADLOCK: deadlock.detect,
    Pattern.RETRY_STORM: retry_storm.detect,
    Pattern.CASCADING_FAILURE: cascading_failure.detect,
    Pattern.MISSING_TIMEOUT: missing_timeout.detect,
    Pattern.MISSING_CIRCUIT_BREAKER: missing_circuit_breaker.detect,
    Pattern.SLOW_DEPENDENCY: slow_dependency.detect,
    Pattern.ERROR_BURST: error_burst.detect,
    Pattern.SILENT_FAILURE: silent_failure.detect,
    Pattern.NETWORK_DELAY: network_delay.detect,
}

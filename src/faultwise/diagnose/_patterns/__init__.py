"""One detector module per failure pattern; each exposes ``detect(ctx) -> list[Finding]``."""

from __future__ import annotations

from collections.abc import Callable

from faultwise.diagnose._context import Context
from faultwise.diagnose._model import Finding, Pattern
from faultwise.diagnose._patterns import error_burst, pool_exhaustion, slow_dependency

__all__ = ["DETECTORS", "Detector"]

Detector = Callable[[Context], list[Finding]]

DETECTORS: dict[Pattern, Detector] = {
    Pattern.ERROR_BURST: error_burst.detect,
    Pattern.SLOW_DEPENDENCY: slow_dependency.detect,
    Pattern.POOL_EXHAUSTION: pool_exhaustion.detect,
}

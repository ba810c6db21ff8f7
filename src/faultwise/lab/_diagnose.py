"""After a run: diagnose the telemetry the lab wrote and check it against ``truth.json``.

This is the one place the lab calls faultwise's analyser. When this build has no analyser
(``faultwise.diagnose`` without a public ``diagnose`` function), the verdict says so instead
of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Verdict", "diagnose_run"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The analyser's answer for one run and whether it names the truth."""

    available: bool
    truth_pattern: str
    truth_component: str
    pattern: str | None = None
    component: str | None = None
    detail: str = ""
    report: Path | None = None

    @property
    def found_truth(self) -> bool | None:
        if not self.available:
            return None
        return (self.pattern, self.component) == (self.truth_pattern, self.truth_component)

    def as_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "truth": {"pattern": self.truth_pattern, "component": self.truth_component},
            "root_cause": {"pattern": self.pattern, "component": self.component},
            "found_truth": self.found_truth,
            "detail": self.detail,
            "report": str(self.report) if self.report else None,
        }


def diagnose_run(out: Path, *, html: Path | None = None) -> Verdict:
    """Diagnose the telemetry in ``out`` and compare the root cause with ``out/truth.json``."""
    truth = json.loads((out / "truth.json").read_text())
    pattern, component = truth["pattern"], truth["component"]
    run: Any = None
    try:
        import faultwise.diagnose as analyser
    except ImportError:
        pass
    else:
        run = getattr(analyser, "diagnose", None)
    if run is None:
        return Verdict(
            False,
            pattern,
            component,
            detail="the analyser (faultwise.diagnose) is not in this build",
        )
    try:
        from faultwise.telemetry import load

        result = run(load([out]))
    except Exception as exc:  # the analyser's failure is reported, never the lab's crash
        return Verdict(False, pattern, component, detail=f"the analyser failed: {exc}")
    root = (
        result.get("root_cause")
        if isinstance(result, dict)
        else getattr(result, "root_cause", None)
    )
    fields = root if isinstance(root, dict) else vars(root) if hasattr(root, "__dict__") else {}
    if root is not None and not fields:
        fields = {k: getattr(root, k, None) for k in ("pattern", "component")}
    got_pattern, got_component = fields.get("pattern"), fields.get("component")
    return Verdict(
        True,
        pattern,
        component,
        pattern=str(getattr(got_pattern, "value", got_pattern)) if got_pattern else None,
        component=str(got_component) if got_component else None,
        report=html if html is not None and html.exists() else None,
    )

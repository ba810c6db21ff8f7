"""After a run: diagnose the telemetry the run wrote and compare it with ``truth.json``.

The lab reads its own output the way a person would with ``faultwise diagnose DIR``: every
telemetry file under the run's directory (logs, spans, scraped metrics, the per-second
metrics table, configuration files, orchestrator events) through
:func:`faultwise.diagnose.load_incident`, then :func:`faultwise.diagnose.diagnose`.
``truth.json`` and the processes' stderr are left out. When the fault came after a steady
state (the retry storm's trigger, the slow database), that window is the baseline, as a
person would give it with ``--baseline-window``; only the pattern and the component are
compared with the truth.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Verdict", "diagnose_run", "telemetry_paths"]

_NOT_TELEMETRY = frozenset({"truth.json", "stderr", "diagnosis.html", "report.html"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """The analyser's answer for one run, and whether it names the truth.

    For a run with its defense on, the outage did not happen: whatever the analyser says is
    reported, and ``found_truth`` is ``None`` (there was nothing to find).
    """

    available: bool
    truth_pattern: str
    truth_component: str
    defended: bool = False
    pattern: str | None = None
    component: str | None = None
    score: float | None = None
    detail: str = ""
    report: Path | None = None
    seconds: float = 0.0

    @property
    def found_truth(self) -> bool | None:
        if not self.available or self.defended:
            return None
        return (self.pattern, self.component) == (self.truth_pattern, self.truth_component)

    def describe(self) -> str:
        """One line for a terminal."""
        if not self.available:
            return f"diagnosis: {self.detail}"
        said = f"{self.pattern} @ {self.component}" if self.pattern else "no root cause"
        if self.found_truth is None:
            return f"diagnosis: {said} (defenses on: no outage to find)"
        verdict = "found the truth" if self.found_truth else "missed the truth"
        truth = f"{self.truth_pattern} @ {self.truth_component}"
        return f"diagnosis: {said}: {verdict}" + ("" if self.found_truth else f" ({truth})")

    def as_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "truth": {"pattern": self.truth_pattern, "component": self.truth_component},
            "root_cause": {
                "pattern": self.pattern,
                "component": self.component,
                "score": self.score,
            },
            "found_truth": self.found_truth,
            "detail": self.detail,
            "report": str(self.report) if self.report else None,
            "seconds": round(self.seconds, 2),
        }


def telemetry_paths(out: Path) -> list[str]:
    """The run's telemetry: everything under ``out`` but the truth, stderr and reports."""
    return [str(p) for p in sorted(out.iterdir()) if p.name not in _NOT_TELEMETRY]


def diagnose_run(out: Path, *, html: Path | None = None, title: str | None = None) -> Verdict:
    """Diagnose the telemetry in ``out``; with ``html``, also write the analyser's report."""
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    pattern, component = truth["pattern"], truth["component"]
    defended = bool(truth.get("defended", False))
    steady = truth.get("steady_state")
    started = time.perf_counter()
    try:
        from faultwise.diagnose import Window, diagnose, load_incident, render_html

        baseline = Window(int(steady["start_ns"]), int(steady["end_ns"])) if steady else None
        with load_incident(telemetry_paths(out)) as store:
            result = diagnose(store, baseline=baseline)
        if html is not None:
            html.write_text(
                render_html(result, title=title or f"faultwise lab: {out.name}"), encoding="utf-8"
            )
    except ImportError as exc:  # the diagnose extra is not installed
        return Verdict(False, pattern, component, defended, detail=f"not available ({exc})")
    except Exception as exc:  # the analyser's failure is reported, never the lab's crash
        detail = f"the analyser failed: {type(exc).__name__}: {exc}"
        return Verdict(False, pattern, component, defended, detail=detail)
    cause = result.root_cause
    return Verdict(
        True,
        pattern,
        component,
        defended,
        pattern=cause.pattern.value if cause else None,
        component=cause.component if cause else None,
        score=round(cause.score, 3) if cause else None,
        report=html,
        seconds=time.perf_counter() - started,
    )

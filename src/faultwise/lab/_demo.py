"""``faultwise demo``: the retry storm live, without then with defenses, then the diagnosis.

The loopback pilot, scaled down to fit 90 s on a 2-core machine: 70 requests/s offered to a
service of 2 workers at 20 ms (capacity 100/s) instead of 140 to 200/s; the trigger triples
the service time for 6 s (capacity 33/s) instead of 10 s; 28 s of load per run instead of 60.
The ratios that make the storm (offered load over capacity, trigger length over the timeout's
backlog limit) are kept, so the same metastable failure happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultwise.lab._diagnose import Verdict, diagnose_run
from faultwise.lab._live_storm import Tick, run_storm_live
from faultwise.lab._report import write_run_report
from faultwise.lab._storm import POLICY_LABELS, PolicyKey, StormResult, StormSpec

__all__ = ["DEMO_RUNS", "DEMO_SPEC", "DemoResult", "run_demo"]

DEMO_SPEC = StormSpec(
    rate=70.0,
    workers=2,
    service_time=0.020,
    slowdown=3.0,
    trigger_at=5.0,
    trigger_for=6.0,
    duration=28.0,
    timeout=1.0,
    retries=3,
)
DEMO_RUNS = (PolicyKey.IMMEDIATE_RETRIES, PolicyKey.FAULTWISE_FULL)
SCALE_NOTE = (
    "scaled to fit 90 s here: 70 req/s offered to capacity 100/s (pilot: 140 to 200/s), "
    "a 6 s trigger tripling service time (pilot: 10 s), 28 s per run (pilot: 60 s)"
)


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Both runs, the diagnosis of the outage, and where everything was written."""

    runs: tuple[StormResult, ...]
    verdict: Verdict
    out: Path
    report: Path
    comparison: Path
    note: str = SCALE_NOTE

    def headline(self) -> str:
        """The numbers a person reads first."""
        without, with_defenses = (r.summary for r in self.runs)
        recovered = (
            "never recovered" if with_defenses.recovery_s is None
            else f"recovered {with_defenses.recovery_s:.0f} s after the trigger"
        )  # fmt: skip
        return (
            f"without defenses: {without.goodput_after:.0%} goodput in the last 10 s, "
            f"{without.attempts_per_request:.2f} attempts per request"
            + (", never recovered" if without.recovery_s is None else "")
            + f"; with defenses: {with_defenses.goodput_after:.0%} goodput, "
            f"{with_defenses.attempts_per_request:.2f} attempts per request, {recovered}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "note": self.note,
            "out": str(self.out),
            "report": str(self.report),
            "comparison": str(self.comparison),
            "headline": self.headline(),
            "diagnosis": self.verdict.as_json(),
            "runs": [
                {
                    "policy": r.policy.value,
                    "label": POLICY_LABELS[r.policy],
                    **r.summary.as_json(),
                    "goodput_after": round(r.summary.goodput_after, 3),
                    "max_queue": r.max_queue,
                    "telemetry": str(self.out / r.policy.value),
                }
                for r in self.runs
            ],
        }


def run_demo(
    out: Path,
    *,
    seed: int = 1,
    spec: StormSpec = DEMO_SPEC,
    on_tick: Callable[[Tick], None] | None = None,
) -> DemoResult:
    """Run both halves, diagnose the outage (``out/report.html``, the analyser's report)
    and write the side-by-side page (``out/comparison.html``)."""
    runs = tuple(
        run_storm_live(spec, key, seed=seed, out=out / key.value, on_tick=on_tick)
        for key in DEMO_RUNS
    )
    report = out / "report.html"
    verdict = diagnose_run(
        out / DEMO_RUNS[0].value, html=report, title="faultwise demo: the retry storm, diagnosed"
    )
    comparison = write_run_report(
        out / "comparison.html",
        "faultwise demo: a retry storm, without and with defenses",
        runs,
        notes=[SCALE_NOTE, verdict.describe()],
    )
    return DemoResult(runs, verdict, out, report, comparison)

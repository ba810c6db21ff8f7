"""The three Train Ticket cases of the Nezha data set: the injected service ranked first.

The fault-free minute in ``construct_data/`` is the baseline. The traps of the data set are
in play: Java log text in UTC+8 inside UTC records, the order service that logs warnings in
every window, and asynchronous hops.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultwise.diagnose import diagnose, load_incident

pytestmark = [pytest.mark.data, pytest.mark.slow]

TT = "nezha-trainticket"


def _cases(shared: Path) -> list[dict[str, object]]:
    cases: list[dict[str, object]] = json.loads((shared / TT / "CASES.json").read_text())
    return cases


def _service(pod: str) -> str:
    return pod.rsplit("-", 2)[0]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_train_ticket_case_ranks_the_injected_service_first(shared_data: Path, index: int) -> None:
    case = _cases(shared_data)[index]
    files = [
        str(shared_data / TT / f)
        for f in case["minute_files"]  # type: ignore[attr-defined]
        if "/traceid/" not in f
    ]
    normal = shared_data / TT / "construct_data" / "2023-01-29"
    with (
        load_incident(files) as store,
        load_incident([str(normal / "log"), str(normal / "trace")]) as baseline,
    ):
        result = diagnose(store, baseline=baseline)
    assert _service(str(case["inject_pod"])) == result.ranking[0].component

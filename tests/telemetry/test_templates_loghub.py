"""Grouping accuracy of the template miner on the 16 Loghub 2k systems, with the defaults.

Labels: the corrected ones of Loghub-2.0 (``loghub2_2k_corrected``) for the 14 systems that
have them, the original Loghub labels for Android and Windows. Messages are the ``Content``
column (the header each system's log format puts in front is removed by the benchmark, as in
every published Loghub evaluation).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest

from faultwise.telemetry._templates import mine_templates

SYSTEMS = [
    "Android",
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "HealthApp",
    "Linux",
    "Mac",
    "OpenSSH",
    "OpenStack",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
    "Zookeeper",
]


def grouping_accuracy(predicted: Sequence[int], truth: Sequence[str]) -> float:
    """Share of lines whose predicted group is exactly the set of lines of their true group."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(predicted):
        groups[p].append(i)
    sizes = Counter(truth)
    correct = 0
    for members in groups.values():
        labels = {truth[i] for i in members}
        if len(labels) == 1 and sizes[truth[members[0]]] == len(members):
            correct += len(members)
    return correct / len(truth)


def _labelled(root: Path, system: str) -> tuple[list[str], list[str]]:
    corrected = root / "loghub2_2k_corrected" / system
    path = (
        corrected / f"{system}_2k.log_structured_corrected.csv"
        if corrected.is_dir()
        else root / system / f"{system}_2k.log_structured.csv"
    )
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def test_grouping_accuracy_helper_counts_only_exact_groups() -> None:
    assert 0.5 == grouping_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"])


@pytest.mark.data
@pytest.mark.slow
def test_loghub_average_grouping_accuracy_is_at_least_090_with_defaults(
    shared_data: Path,
) -> None:
    scores = {}
    for system in SYSTEMS:
        messages, truth = _labelled(shared_data / "loghub", system)
        scores[system] = grouping_accuracy(mine_templates(messages).assignments, truth)
    table = "\n".join(f"{s:12} {g:.3f}" for s, g in scores.items())
    average = sum(scores.values()) / len(scores)
    print(f"\n{table}\naverage      {average:.3f}")
    assert 16 == len(scores)
    assert average >= 0.90, table


def test_messages_differing_only_in_numbers_and_ids_share_a_template() -> None:
    result = mine_templates(
        [
            "Failed password for root from 10.0.0.1 port 22 ssh2",
            "Failed password for root from 10.0.0.7 port 4242 ssh2",
            "Accepted password for root from 10.0.0.7 port 4242 ssh2",
            "request 7f3a9c2e-1b2d-4c5e-8f90-123456789abc took 35ms",
            "request 0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d took 1200ms",
        ]
    )
    assert (0, 0, 1, 2, 2) == result.assignments
    assert (
        "Failed password for root from <*> port <*> ssh2",
        "Accepted password for root from <*> port <*> ssh2",
        "request <*> took <*>",
    ) == result.templates

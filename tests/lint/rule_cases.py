"""Shared shape of the per-family rule tests: flagged cases and the near misses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

Hits = Callable[..., list[tuple[str, int]]]
Test = Callable[..., None]


def rule_tests(
    select: tuple[str, ...], flagged: Sequence[Any], quiet: Sequence[Any]
) -> tuple[Test, Test]:
    """Two tests for one rule family: each flagged case gives exactly its findings, each near
    miss gives none (rules outside ``select`` are off, so families do not mix)."""

    @pytest.mark.parametrize(("source", "expected"), flagged)
    def test_flagged_case_reports_exactly_its_findings(
        hits: Hits, source: str, expected: list[tuple[str, int]]
    ) -> None:
        assert expected == hits(source, select=select)

    @pytest.mark.parametrize("source", quiet)
    def test_near_miss_reports_nothing(hits: Hits, source: str) -> None:
        assert [] == hits(source, select=select)

    return test_flagged_case_reports_exactly_its_findings, test_near_miss_reports_nothing

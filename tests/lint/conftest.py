from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from faultwise.lint import LintConfig, lint_source

Hits = Callable[..., list[tuple[str, int]]]


@pytest.fixture
def hits() -> Hits:
    """``hits(source, select=("FW10",))`` -> sorted ``(rule id, line)`` pairs."""

    def run(
        source: str, select: tuple[str, ...] = ("FW",), path: str = "app.py"
    ) -> list[tuple[str, int]]:
        result = lint_source(textwrap.dedent(source), path, LintConfig(select=select))
        assert [] == result.errors
        return sorted((f.rule_id, f.line) for f in result.findings)

    return run

"""Fixtures shared by the resilience tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, to expose lost updates."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)

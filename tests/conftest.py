"""Shared fixtures: real local services, system tools and the external data.

Tests that need a service or tool are marked ``integration``. They skip with a clear reason
when it is absent, except under ``CI=true``, where such a skip fails the run: a green CI must
mean the integration tests really ran.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Generator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    """``FAULTWISE_SHARED_DATA``, else ``../shared/data`` beside the checkout, else /work's."""
    candidates = [os.environ.get("FAULTWISE_SHARED_DATA", ""), ROOT / ".." / "shared" / "data"]
    candidates.append("/work/shared/data")
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate).resolve()
    return (ROOT / ".." / "shared" / "data").resolve()


SHARED_DATA = _shared_data()
IN_CI = os.environ.get("CI", "").lower() == "true"

SERVICES = {
    "postgres": ("127.0.0.1", 5432, "postgresql://postgres@127.0.0.1:5432/test"),
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
    "rabbitmq": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672/"),
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def service_url(name: str) -> str:
    """The URL of a local service, or a skip (a failure under CI=true) naming what is missing."""
    host, port, url = SERVICES[name]
    if not _reachable(host, port):
        pytest.skip(f"{name} is not reachable on {host}:{port}")
    return url


def system_tool(name: str) -> str:
    """The path of a command-line tool, or a skip (a failure under CI=true)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/test installs it)")
    return path


@pytest.fixture
def postgres_url() -> str:
    return service_url("postgres")


@pytest.fixture
def redis_url() -> str:
    return service_url("redis")


@pytest.fixture
def rabbitmq_url() -> str:
    return service_url("rabbitmq")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``: external test data that the project never copies."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"external test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if IN_CI and report.skipped and item.get_closest_marker("integration") is not None:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"integration test skipped under CI=true: {reason}"
    return report

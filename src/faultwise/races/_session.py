"""What ``pytest --races`` does: one detector for the session, findings in the summary."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from faultwise.races._config import Mode, RacesConfig, load_config
from faultwise.races._detector import RaceDetector
from faultwise.races._model import Report
from faultwise.races._render import render_text


def session_config(config: Any) -> RacesConfig:
    """``[tool.faultwise.races]`` from the rootdir's pyproject.toml, overridden by options."""
    root = Path(str(config.rootpath))
    ns = config.known_args_namespace
    base = load_config(root)
    roots = tuple(str((root / r).resolve()) for r in base.roots) or (str(root),)
    merged = base.merged(
        mode=Mode(ns.races_mode) if ns.races_mode else None,
        include=tuple(ns.races_include),
        exclude=tuple(ns.races_exclude),
        report_only=ns.races_report_only,
        hang_timeout=ns.races_hang_timeout,
    )
    return replace(merged, roots=roots)


class RacesSession:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.settings = session_config(config)
        self.detector = RaceDetector(self.settings)
        self.report: Report | None = None

    def start(self) -> None:
        self.detector.start()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any) -> Generator[None, None, None]:
        if self.settings.reset_between_tests:
            self.detector.reset()
        self.detector.current_test = item.nodeid
        yield
        self.detector.current_test = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self.report = self.detector.stop()
        path = self.config.known_args_namespace.races_json
        if path:
            Path(path).write_text(json.dumps(self.report.to_dict(), indent=2) + "\n")
        if self.report.findings and not self.settings.report_only and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: Any) -> None:
        self.detector.stop()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        report = self.report
        if report is None:
            return
        terminalreporter.write_sep("=", "faultwise races")
        terminalreporter.write(render_text(report))
        if report.findings and not self.settings.report_only:
            terminalreporter.write_line(
                "faultwise races: findings fail the run (--races-report-only to keep going)"
            )

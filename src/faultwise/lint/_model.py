"""Results of a lint run: findings, per-file errors, and the run's totals."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

from faultwise.lint._rules import RULES, Rule

__all__ = ["ErrorKind", "FileError", "Finding", "LintResult"]


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One place where a rule matched. Lines are 1-based, columns 1-based in characters."""

    path: str
    line: int
    column: int
    rule_id: str
    detail: str  # what was seen, specific to this place
    end_line: int = 0
    end_column: int = 0

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]

    @property
    def message(self) -> str:
        """The detail followed by the failure pattern it leads to."""
        return f"{self.detail}: {self.rule.outage}"


class ErrorKind(enum.Enum):
    SYNTAX = "syntax-error"
    ENCODING = "encoding-error"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True, order=True)
class FileError:
    """A file that could not be linted; it is counted and reported, never dropped."""

    path: str
    line: int
    column: int
    kind: ErrorKind
    message: str


@dataclass(slots=True)
class LintResult:
    """Everything one run found, plus what it looked at."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    suppressed: int = 0

    def by_rule(self) -> dict[str, int]:
        """Number of findings per rule id, ids sorted."""
        return dict(sorted(Counter(f.rule_id for f in self.findings).items()))

    def merge(self, other: LintResult) -> None:
        self.findings.extend(other.findings)
        self.errors.extend(other.errors)
        self.files += other.files
        self.lines += other.lines
        self.suppressed += other.suppressed

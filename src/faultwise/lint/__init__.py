"""Find the failure patterns of production systems in Python source, before production.

Rules have stable ids grouped by family (FW10x timeouts, FW11x retries, FW12x swallowed
errors, FW13x I/O in transactions, FW14x ack before processing, FW15x shared state, FW16x
unbounded resources, FW17x blocking in async); each finding names the outage it leads to
and how to fix it.

>>> from faultwise.lint import lint_source
>>> result = lint_source("import time\\nasync def f():\\n    time.sleep(1)\\n")
>>> [(f.rule_id, f.line) for f in result.findings]
[('FW170', 3)]
"""

from faultwise.lint._config import LintConfig, find_pyproject, load_config, select_rules
from faultwise.lint._model import ErrorKind, FileError, Finding, LintResult
from faultwise.lint._rules import RULES, Family, Level, Rule
from faultwise.lint._runner import discover, lint_file, lint_paths, lint_source

__all__ = [
    "RULES",
    "ErrorKind",
    "Family",
    "FileError",
    "Finding",
    "Level",
    "LintConfig",
    "LintResult",
    "Rule",
    "discover",
    "find_pyproject",
    "lint_file",
    "lint_paths",
    "lint_source",
    "load_config",
    "select_rules",
]

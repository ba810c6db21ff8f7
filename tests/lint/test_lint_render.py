"""The terminal report shows the same lines as the plain text report."""

from __future__ import annotations

from rich.console import Console

from faultwise.lint import lint_source
from faultwise.lint._render import print_text, render_text

SOURCE = "import requests, time\nasync def f():\n    time.sleep(1)\n    requests.get('u')\n"


def test_coloured_report_has_the_plain_report_lines() -> None:
    result = lint_source(SOURCE, "app.py")
    result.errors.extend(lint_source("def (:\n", "bad.py").errors)
    terminal = Console(record=True, width=80, force_terminal=True, highlight=False)
    print_text(result, terminal)
    assert render_text(result) + "\n" == terminal.export_text()


def test_concise_report_has_one_line_per_finding_and_a_summary() -> None:
    lines = render_text(lint_source(SOURCE, "app.py"), show_fixes=False).splitlines()
    assert ["FW101", "FW170", "FW171"] == sorted(line.split()[1] for line in lines[:-1])
    assert lines[-1].startswith("3 findings in 1 file (4 lines)")

"""The rule catalogue: stable ids, complete documentation, tests and docs for every rule."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from faultwise import lint
from faultwise.lint import RULES, Family

ROOT = Path(__file__).resolve().parents[2]
_FAMILY_PREFIX = {
    Family.TIMEOUTS: "FW10",
    Family.RETRIES: "FW11",
    Family.SWALLOWED_ERRORS: "FW12",
    Family.TRANSACTIONS: "FW13",
    Family.ACK: "FW14",
    Family.SHARED_STATE: "FW15",
    Family.UNBOUNDED: "FW16",
    Family.ASYNC: "FW17",
}


def test_public_api_is_exactly_all() -> None:
    public = {
        n
        for n, v in vars(lint).items()
        if n.isidentifier() and not n.startswith("_") and not isinstance(v, ModuleType)
    }
    assert sorted(lint.__all__) == sorted(public)


def test_rule_ids_are_grouped_by_family_and_named_uniquely() -> None:
    assert [] == [r.id for r in RULES.values() if not r.id.startswith(_FAMILY_PREFIX[r.family])]
    assert len(RULES) == len({r.name for r in RULES.values()})
    assert [] == [r.id for r in RULES.values() if not (r.title and r.outage and r.fix)]


def test_every_rule_has_a_flagged_case_in_the_tests() -> None:
    tests = "".join(
        p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_lint_*.py")
    )
    flagged = set(re.findall(r'\("(FW\d{3})", \d+\)', tests))
    assert [] == sorted(set(RULES) - flagged)


def test_every_rule_is_documented_in_docs_lint() -> None:
    docs = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    assert [] == [rule_id for rule_id in RULES if f"| {rule_id} |" not in docs]

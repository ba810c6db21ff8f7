"""Fuzzing: whatever bytes arrive, the linter returns findings or a located error."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultwise.lint import ErrorKind, LintResult, lint_source

SEED = b"""\
import requests, time, threading
from django.db import transaction
counter = 0
def worker(ch, method, body):
    global counter
    ch.basic_ack(delivery_tag=method.delivery_tag)
    with transaction.atomic():
        requests.post("u")
    while True:
        try:
            return requests.get("u", timeout=None)
        except Exception:
            time.sleep(1)
    counter += 1
threading.Thread(target=worker).start()
async def f():
    time.sleep(1)
"""

_TOKENS = [
    "try:", "except:", "except Exception:", "pass", "while True:", "for _ in range(3):",
    "async def f():", "def g(x):", "with session.begin():", "requests.get(u)", "time.sleep(1)",
    "return", "break", "continue", "global n", "n += 1", "(", ")", "[", "]", ":", "\n", "    ",
    "lambda: 0", "yield x", "await q.get()", "message.ack()", "import requests", "if x:", "else:",
]  # fmt: skip


def _consistent(result: LintResult) -> bool:
    """Either it parsed (findings, no error) or exactly one located error and no findings."""
    if result.errors:
        error = result.errors[0]
        return len(result.errors) == 1 and not result.findings and error.line >= 1
    return all(f.line >= 1 and f.column >= 1 for f in result.findings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data: bytes) -> None:
    assert _consistent(lint_source(data, "fuzz.py"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map(" ".join))
def test_token_soup_never_crashes(source: str) -> None:
    assert _consistent(lint_source(source, "soup.py"))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, len(SEED) - 1),
    st.integers(0, 8),
    st.binary(max_size=6) | st.text(string.printable, max_size=6).map(str.encode),
)
def test_mutated_real_source_never_crashes(position: int, cut: int, insert: bytes) -> None:
    mutated = SEED[:position] + insert + SEED[position + cut :]
    assert _consistent(lint_source(mutated, "mutant.py"))


def test_unmutated_seed_has_findings_of_several_families() -> None:
    result = lint_source(SEED, "seed.py")
    families = {f.rule_id[:4] for f in result.findings}
    assert ([], {"FW10", "FW11", "FW12", "FW13", "FW14", "FW15", "FW17"}) == (
        result.errors,
        families,
    )


def test_invalid_utf8_is_counted_as_an_encoding_error() -> None:
    result = lint_source(SEED[:40] + b"\xc3\x28" + SEED[40:], "bad.py")
    assert [ErrorKind.ENCODING] == [e.kind for e in result.errors]

"""Every reader, fed arbitrary bytes or text, returns entries or raises a one-line InputError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultwise._errors import InputError
from faultwise.drift import Environment, Format, read_environment

FORMATS = list(Format)
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# text that looks like the real thing, so the fuzzer reaches deep into each parser
_ATOMS = st.sampled_from(
    ["a", "B_1", "=", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", '"', "'", "#", ",", "---\n",
     "export ", "\\", "&x", "*x", "<<: ", "!!binary ", "!Ref ", "1", "0.5", "true", "null",
     "kind: ",
     "apiVersion: v1\n", "kind: Secret\n", "data:\n  K: ", "env:\n", "name: ", "value: ", "\t", "é",
     "[[t]]\n", "[s]\n", "=\"", "\x00", "\x85", "\ufeff"]
)  # fmt: skip
LOOKALIKE = st.lists(_ATOMS, max_size=60).map("".join)


def _read(path: Path, fmt: Format) -> Environment | str:
    try:
        return read_environment(path, name="x", format=fmt)
    except InputError as exc:
        return str(exc)


def _check(path: Path, fmt: Format) -> None:
    outcome = _read(path, fmt)
    if isinstance(outcome, str):  # a one-line error that names the file
        assert (False, True) == ("\n" in outcome, outcome.startswith(str(path)))
        return
    for key, entry in outcome.entries.items():
        assert (key, True) == (entry.key, entry.source.startswith(str(path)))


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_a_reader(tmp_path: Path, fmt: Format, data: bytes) -> None:
    path = tmp_path / "input"
    path.write_bytes(data)
    _check(path, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(text=st.text(max_size=300) | LOOKALIKE)
def test_arbitrary_text_never_crashes_a_reader(tmp_path: Path, fmt: Format, text: str) -> None:
    path = tmp_path / "input"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _check(path, fmt)

from __future__ import annotations

import subprocess
import sys

import faultwise.telemetry


def test_every_public_name_resolves_and_none_is_private() -> None:
    missing = [n for n in faultwise.telemetry.__all__ if not hasattr(faultwise.telemetry, n)]
    private = [n for n in faultwise.telemetry.__all__ if n.startswith("_")]
    assert ([], []) == (missing, private)


def test_opening_a_store_does_not_import_the_readers() -> None:
    code = (
        "import sys; from faultwise.telemetry import Store, Severity; "
        "print(sorted(m for m in sys.modules if m.startswith('faultwise.telemetry.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "['faultwise.telemetry._model', 'faultwise.telemetry._store']" == out.stdout.strip()

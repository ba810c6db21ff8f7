"""The public API of faultwise.diagnose is exactly its __all__, every name in it exists, and
importing the package (or its trace and timeline modules) loads none of the heavy parts."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import faultwise.diagnose


def test_every_public_name_is_exported_and_every_export_exists() -> None:
    for name in faultwise.diagnose.__all__:
        getattr(faultwise.diagnose, name)
    public = {
        name
        for name, value in vars(faultwise.diagnose).items()
        if name.isidentifier()
        and not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert sorted(public) == sorted(faultwise.diagnose.__all__)
    assert len(set(faultwise.diagnose.__all__)) == len(faultwise.diagnose.__all__)
    assert sorted(faultwise.diagnose.__all__) == [
        n
        for n in dir(faultwise.diagnose)
        if n.isidentifier()
        and not n.startswith("_")
        and n != "annotations"
        and not isinstance(getattr(faultwise.diagnose, n), types.ModuleType)
    ]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        faultwise.diagnose.nothing  # noqa: B018


@pytest.mark.parametrize(
    "module", ["faultwise.diagnose", "faultwise.diagnose.trace", "faultwise.diagnose.timeline"]
)
def test_importing_loads_no_detector_renderer_or_drift(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.startswith(('faultwise.diagnose._patterns', "
        "'faultwise.diagnose._render_html', 'faultwise.diagnose._diagnose', 'faultwise.drift', "
        "'faultwise.diagnose._rank'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[]" == out.stdout.strip()

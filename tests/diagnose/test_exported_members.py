"""The public API of faultwise.diagnose is exactly its __all__, and every name in it exists."""

from __future__ import annotations

import types

import faultwise.diagnose


def test_every_public_name_is_exported_and_every_export_exists() -> None:
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

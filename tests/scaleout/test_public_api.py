"""The public names of the idempotency and shared-state packages all resolve."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package", ["faultwise.resilience.idempotency", "faultwise.resilience.shared"]
)
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(set(module.__all__))
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert [] == missing


def test_an_unknown_name_is_an_attribute_error() -> None:
    module = importlib.import_module("faultwise.resilience.idempotency")
    with pytest.raises(AttributeError, match="NoSuchStore"):
        module.NoSuchStore  # noqa: B018

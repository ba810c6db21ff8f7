from __future__ import annotations

import inspect
import types

from faultwise import observe


def test_all_lists_exactly_the_public_members() -> None:
    public = {
        name
        for name, value in vars(observe).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(observe.__all__) == sorted(public)


def test_every_exported_class_and_function_is_defined_in_the_package() -> None:
    members = [getattr(observe, name) for name in observe.__all__]
    defined = [m for m in members if inspect.isclass(m) or inspect.isfunction(m)]
    assert [] == [m for m in defined if not m.__module__.startswith("faultwise.observe")]


def test_all_is_sorted_so_reviews_stay_easy() -> None:
    assert sorted(observe.__all__, key=lambda n: (not n.isupper(), n)) == observe.__all__

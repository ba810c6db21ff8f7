from __future__ import annotations

import inspect

from faultwise import resilience


def test_all_lists_exactly_the_public_members() -> None:
    # (pytest's assertion rewriting may add "@py_builtins"-style names: not identifiers)
    # (submodules such as an imported subpackage are not members)
    public = {
        n
        for n, member in vars(resilience).items()
        if n.isidentifier() and not n.startswith("_") and not inspect.ismodule(member)
    }
    assert sorted(resilience.__all__) == sorted(public)


def test_every_exported_class_and_function_is_defined_in_the_package() -> None:
    members = [getattr(resilience, name) for name in resilience.__all__]
    defined = [m for m in members if inspect.isclass(m) or inspect.isfunction(m)]
    assert [] == [m for m in defined if not m.__module__.startswith("faultwise.resilience")]


def test_all_is_sorted_so_reviews_stay_easy() -> None:
    assert sorted(resilience.__all__, key=lambda n: (not n.isupper(), n)) == resilience.__all__

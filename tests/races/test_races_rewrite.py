"""The import-time transform: what it instruments, and that rewritten code behaves the same."""

from __future__ import annotations

import ast
import textwrap
import types
from typing import Any

import pytest

from faultwise.races._hook import Registry
from faultwise.races._rewrite import rewrite


def rewritten(source: str) -> str:
    source = textwrap.dedent(source)
    return ast.unparse(rewrite(ast.parse(source), source))


def load(source: str, recording: bool) -> dict[str, Any]:
    """Run ``source`` rewritten, with the fast or the recording bindings."""
    source = textwrap.dedent(source)
    module = types.ModuleType("rewritten_under_test")
    registry = Registry()
    registry.set_recording(recording)
    registry.add(module)
    code = compile(rewrite(ast.parse(source), source), "<rewritten>", "exec")
    exec(code, module.__dict__)
    return module.__dict__


def test_attribute_item_and_membership_reads_become_recorder_calls() -> None:
    src = """
    def f(o, d, k):
        return o.x + d[k] + (k in d)
    """
    expected = "def f(o, d, k):\n    return _fw_r(o, 'x').x + _fw_gi(d, k) + _fw_in(d, k)"
    assert expected == rewritten(src)


def test_stores_deletes_and_augmented_assignments_become_recorder_calls() -> None:
    src = """
    def f(o, d, k):
        o.x = 1
        d[k] = 2
        o.n += 3
        d[k] -= 4
        del o.x, d[k]
    """
    expected = (
        "def f(o, d, k):\n"
        "    _fw_w(o, 'x').x = 1\n"
        "    _fw_si(d, k, 2)\n"
        "    _fw_rw(o, 'n').n += 3\n"
        "    _fw_ai(d, k, 1, 4)\n"
        "    del _fw_w(o, 'x').x\n"
        "    _fw_di(d, k)"
    )
    assert expected == rewritten(src)


def test_rebound_globals_are_recorded_and_other_names_are_not() -> None:
    src = """
    import os
    count = 0
    def bump():
        global count
        count += 1
        return count + len(os.sep)
    """
    expected = (
        "import os\ncount = 0\n\ndef bump():\n    global count\n    _fw_rmw('count')\n"
        "    count += 1\n    return _fw_rg('count') + len(os.sep)"
    )
    assert expected == rewritten(src)


def test_method_lookups_slices_init_self_and_ignored_lines_are_left_alone() -> None:
    src = """
    class C:
        def __init__(self):
            self.items = []
        def f(self, xs):
            self.items.append(xs[1:])
            return self.total  # faultwise: ignore-race
    """
    out = rewritten(src)
    assert "self.items = []" in out
    assert "_fw_r(self, 'items').items.append(xs[1:])" in out
    assert "return self.total" in out


def test_locals_that_shadow_a_rebound_global_are_not_read_as_the_global() -> None:
    src = """
    count = 10
    def set_global(v):
        global count
        count = v
    def closure():
        count = 1
        def inner():
            return count
        return inner()
    def comprehension():
        return [count for count in range(3)]
    def reads_global():
        return count
    """
    for recording in (False, True):
        ns = load(src, recording)
        ns["set_global"](5)
        assert (1, [0, 1, 2], 5) == (
            ns["closure"](),
            ns["comprehension"](),
            ns["reads_global"](),
        )


PROGRAM = """
class Box:
    pass

shared = {}
total = 0

def program():
    global total
    b = Box()
    b.x, shared["k"] = 1, 2
    b.y = b.z = [0, 1]
    b.x += 10
    shared["k"] *= 3
    b.y[0] += 5
    a, (b.w, *b.rest) = 1, (2, 3, 4)
    total += b.x
    hit = "k" in shared and "q" not in shared
    del shared["k"]
    f = lambda o: o.x + 1
    out = (b.x, b.y, b.z, b.w, b.rest, total, hit, f(b), dict(shared), a)
    del b.w
    return out, hasattr(b, "w")
"""


@pytest.mark.parametrize("recording", [False, True])
def test_rewritten_code_computes_what_the_original_computes(recording: bool) -> None:
    plain: dict[str, Any] = {}
    exec(compile(PROGRAM, "<plain>", "exec"), plain)
    assert plain["program"]() == load(PROGRAM, recording)["program"]()


def test_errors_surface_as_in_the_original() -> None:
    ns = load("def f(o):\n    return o.missing\ndef g(d):\n    return d['k']\n", True)
    with pytest.raises(AttributeError):
        ns["f"](object())
    with pytest.raises(KeyError):
        ns["g"]({})


@pytest.mark.parametrize("recording", [False, True])
def test_private_attribute_names_are_mangled_as_the_compiler_does(recording: bool) -> None:
    src = """
    class _Holder:
        def __init__(self):
            self.__secret = 1
        def bump(self):
            self.__secret += 1
            return self.__secret
    """
    assert 2 == load(src, recording)["_Holder"]().bump()


def test_a_property_warning_points_at_the_callers_line() -> None:
    src = """
    import warnings
    class Old:
        @property
        def size(self):
            warnings.warn("size is deprecated", DeprecationWarning, stacklevel=2)
            return 1
    def use(o):
        return o.size
    """
    ns = load(src, True)
    with pytest.warns(DeprecationWarning, match="deprecated") as record:
        assert 1 == ns["use"](ns["Old"]())
    assert "<rewritten>" == record[0].filename

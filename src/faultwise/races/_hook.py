"""The import hook: which modules are the code under test, and how they are loaded rewritten.

Like pytest's assertion rewriting, a finder at the front of ``sys.meta_path`` hands the
modules it selects to a loader that parses, transforms and compiles them (without writing
``.pyc`` files, so the normal bytecode cache never holds instrumented code). Test modules and
conftest files that pytest would rewrite for assertions get pytest's transform first.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.abc
import importlib.machinery
import operator
import os
import sys
import sysconfig
import types
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faultwise.races import _runtime
from faultwise.races._rewrite import RUNTIME_NAMES, rewrite

_NEVER = ("faultwise.races", "_pytest", "pytest", "pluggy", "py", "_pytest_", "typing_extensions")
MARKER = "__faultwise_races__"

_FAST = (
    _runtime.passthrough,
    _runtime.passthrough,
    _runtime.passthrough,
    operator.getitem,
    operator.setitem,
    operator.delitem,
    operator.contains,
    _runtime.fast_aug_item,
)
_RECORDING = (
    _runtime.read,
    _runtime.write,
    _runtime.read_write,
    _runtime.gi,
    _runtime.si,
    _runtime.di,
    _runtime.contains,
    _runtime.aug_item,
)


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return tuple(sorted(os.path.join(os.path.realpath(d), "") for d in dirs))


class Selector:
    """Decides which modules are instrumented: files under the roots, or names included."""

    def __init__(
        self, roots: Sequence[str | Path], include: Sequence[str], exclude: Sequence[str]
    ) -> None:
        self.roots = tuple(os.path.join(os.path.realpath(r), "") for r in roots)
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.library = _library_dirs()

    def wants_name(self, name: str) -> bool:
        if any(name == n or name.startswith(n + ".") for n in _NEVER):
            return False
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names and not self._included(name):
            return False
        return not any(fnmatch.fnmatchcase(name, p) for p in self.exclude)

    def _included(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) or name.startswith(p + ".") for p in self.include)

    def wants(self, name: str, filename: str) -> bool:
        if not self.wants_name(name):
            return False
        if self._included(name):
            return True
        path = os.path.realpath(filename)
        for lib in self.library:
            # a library, unless a root sits inside it (a project inside a prefix directory)
            if path.startswith(lib) and not any(
                path.startswith(r) and r.startswith(lib) for r in self.roots
            ):
                return False
        parts = Path(path).parts
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return any(path.startswith(r) for r in self.roots)


class Registry:
    """The modules loaded rewritten, so their recorders can be switched as a group."""

    def __init__(self) -> None:
        self.modules: weakref.WeakSet[types.ModuleType] = weakref.WeakSet()
        self.files: set[str] = set()
        self.recording = False

    def add(self, module: types.ModuleType) -> None:
        g = module.__dict__
        g[MARKER] = _runtime.global_ops(module)
        self._bind(g, self.recording)
        self.modules.add(module)
        if getattr(module, "__file__", None):
            self.files.add(str(module.__file__))

    def _bind(self, g: dict[str, Any], recording: bool) -> None:
        read, write, rmw, fast_read, nothing = g[MARKER]
        values = (
            *(_RECORDING if recording else _FAST),
            *((read, write, rmw) if recording else (fast_read, nothing, nothing)),
        )
        for name, value in zip(RUNTIME_NAMES, values, strict=True):
            g[name] = value

    def set_recording(self, recording: bool) -> None:
        if recording == self.recording:
            return
        self.recording = recording
        for m in list(self.modules):
            self._bind(m.__dict__, recording)


REGISTRY = Registry()


class RewritingLoader(importlib.machinery.SourceFileLoader):
    def __init__(
        self, fullname: str, path: str, registry: Registry, assertions: Any | None
    ) -> None:
        super().__init__(fullname, path)
        self.registry = registry
        self.assertions = assertions  # pytest's config, when pytest would rewrite asserts

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        tree = ast.parse(source, filename=path)
        if self.assertions is not None:
            from _pytest.assertion.rewrite import rewrite_asserts

            rewrite_asserts(tree, source, path, self.assertions)
        rewrite(tree, source.decode("utf-8", "replace"))
        code: types.CodeType = compile(tree, path, "exec", dont_inherit=True)
        return code

    def exec_module(self, module: types.ModuleType) -> None:
        code = self.get_code(module.__name__)
        self.registry.add(module)
        exec(code, module.__dict__)


class RewritingFinder(importlib.abc.MetaPathFinder):
    def __init__(self, selector: Selector, registry: Registry) -> None:
        self.selector = selector
        self.registry = registry

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.selector.wants_name(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or spec.origin is None
            or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            or not self.selector.wants(fullname, spec.origin)
        ):
            return None
        spec.loader = RewritingLoader(
            fullname, spec.origin, self.registry, _pytest_assertions(fullname, path)
        )
        return spec


def _pytest_assertions(fullname: str, path: Sequence[str] | None) -> Any | None:
    """pytest's config when its assertion-rewriting hook would take this module."""
    for finder in sys.meta_path:
        if type(finder).__name__ == "AssertionRewritingHook":
            hook: Any = finder
            spec = hook.find_spec(fullname, path)
            if spec is not None and spec.loader is hook:
                return hook.config
    return None

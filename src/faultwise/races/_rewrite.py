"""The AST transform that makes a module's accesses to shared state visible.

Inside function bodies (module and class bodies run once, under the import lock) it turns

* ``obj.attr`` (not a method call) into ``_fw_r(obj, "attr").attr``: the receiver passes
  through a recorder and the access itself stays native (properties, ``__getattr__`` and
  warnings' ``stacklevel`` see the user's frame); stores, deletes and augmented assignments
  likewise through ``_fw_w`` and ``_fw_rw``;
* ``obj[key]``, ``key in obj``, ``obj[key] = v``, ``del obj[key]`` and ``obj[key] += v`` into
  ``_fw_gi``, ``_fw_in``, ``_fw_si``, ``_fw_di`` and ``_fw_ai`` calls;
* reads and writes of module globals that some function rebinds (``global count``) into
  ``_fw_rg("count")`` and a recording statement next to the native store.

Lines carrying ``# faultwise: ignore-race`` are left alone. Locals, slices, method lookups,
``self.x`` inside ``__init__`` and attributes of imported modules are not instrumented: they
are either unshared or never rebound, and skipping them keeps rewritten code fast.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

IGNORE_COMMENT = re.compile(r"#\s*faultwise:\s*ignore-race")

AUG_OPS: dict[type[ast.operator], int] = {
    ast.Add: 0,
    ast.Sub: 1,
    ast.Mult: 2,
    ast.Div: 3,
    ast.FloorDiv: 4,
    ast.Mod: 5,
    ast.Pow: 6,
    ast.LShift: 7,
    ast.RShift: 8,
    ast.BitAnd: 9,
    ast.BitXor: 10,
    ast.BitOr: 11,
    ast.MatMult: 12,
}

RUNTIME_NAMES = (
    "_fw_r",
    "_fw_w",
    "_fw_rw",
    "_fw_gi",
    "_fw_si",
    "_fw_di",
    "_fw_in",
    "_fw_ai",
    "_fw_rg",
    "_fw_wg",
    "_fw_rmw",
)


@dataclass
class _Scope:
    kind: str  # "function" or "comprehension"
    locals: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    is_init: bool = False


def ignored_lines(source: str) -> set[int]:
    return {i for i, line in enumerate(source.splitlines(), 1) if IGNORE_COMMENT.search(line)}


def rewrite(tree: ast.Module, source: str) -> ast.Module:
    """Instrument ``tree`` in place and return it."""
    rebound = {n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names}
    modules = _imported_modules(tree)
    _Instrumenter(rebound, modules - rebound, ignored_lines(source)).visit(tree)
    ast.fix_missing_locations(tree)
    for node in ast.walk(tree):
        # nodes made by other transforms (pytest's assertions) may lack an end position
        end = getattr(node, "end_lineno", None)
        if end is not None and end < node.lineno:  # type: ignore[attr-defined]
            node.end_lineno = node.lineno  # type: ignore[attr-defined]
            node.end_col_offset = node.col_offset  # type: ignore[attr-defined]
    return tree


def _imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _targets(node: ast.expr) -> Iterator[ast.expr]:
    if isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _targets(elt)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)
    else:
        yield node


def _bound_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names local to a function: parameters and every name it binds (not nested scopes)."""
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    names = {a.arg for a in params}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    body = node.body if isinstance(node.body, list) else [node.body]
    stack: list[ast.AST] = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            names.add(n.id)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(n.name)
            stack.extend(n.decorator_list)
            continue
        elif isinstance(n, ast.Lambda):
            continue
        elif isinstance(n, ast.alias):
            names.add(n.asname or n.name.split(".")[0])
        elif (isinstance(n, ast.ExceptHandler) and n.name) or (
            isinstance(n, ast.MatchAs | ast.MatchStar) and n.name
        ):
            names.add(n.name)
        elif isinstance(n, ast.comprehension):
            # comprehension targets are local to the comprehension, but walrus targets
            # inside it bind here: keep walking the rest
            stack.extend([n.iter, *n.ifs])
            continue
        stack.extend(ast.iter_child_nodes(n))
    return names


def _declared(node: ast.AST, kind: type[ast.Global] | type[ast.Nonlocal]) -> set[str]:
    out: set[str] = set()
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            out.update(n.names)
        elif not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(n))
    return out


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _const(value: str | int) -> ast.Constant:
    return ast.Constant(value=value)


class _Instrumenter(ast.NodeTransformer):
    def __init__(self, rebound: set[str], modules: set[str], ignored: set[int]) -> None:
        self.rebound = rebound
        self.modules = modules
        self.ignored = ignored
        self.scopes: list[_Scope] = []
        self.classes: list[str] = []
        self.temps = 0

    def _name(self, name: str) -> ast.Constant:
        """``name`` as the compiler sees it: private names are mangled inside a class."""
        if self.classes and name.startswith("__") and not name.endswith("__"):
            owner = self.classes[-1].lstrip("_")
            if owner:
                name = f"_{owner}{name}"
        return _const(name)

    # ---- scopes ----
    def _in_function(self) -> bool:
        return bool(self.scopes)

    def _skip(self, node: ast.AST) -> bool:
        return not self.scopes or getattr(node, "lineno", 0) in self.ignored

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> ast.AST:
        declared = _declared(node, ast.Global)
        scope = _Scope(
            "function",
            locals=_bound_names(node) - declared - _declared(node, ast.Nonlocal),
            globals=declared,
            is_init=getattr(node, "name", "") == "__init__",
        )
        # decorators, defaults and annotations belong to the enclosing scope
        for expr in [*getattr(node, "decorator_list", []), *node.args.defaults]:
            self.visit(expr)
        node.args.kw_defaults = [
            None if d is None else self.visit(d) for d in node.args.kw_defaults
        ]
        self.scopes.append(scope)
        try:
            if isinstance(node, ast.Lambda):
                node.body = self.visit(node.body)
            else:
                node.body = self._body(node.body)
        finally:
            self.scopes.pop()
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        # a class body runs once: only its methods are instrumented
        defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        self.classes.append(node.name)
        try:
            node.body = [self.visit(s) if isinstance(s, defs) else s for s in node.body]
        finally:
            self.classes.pop()
        return node

    def _comprehension(self, node: ast.AST) -> ast.AST:
        if not self.scopes:
            return node
        names = {
            t.id
            for gen in node.generators  # type: ignore[attr-defined]
            for t in ast.walk(gen.target)
            if isinstance(t, ast.Name)
        }
        self.scopes.append(_Scope("comprehension", locals=names))
        try:
            return self.generic_visit(node)
        finally:
            self.scopes.pop()

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_DictComp = _comprehension
    visit_GeneratorExp = _comprehension

    def _body(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            new = self.visit(stmt)
            if isinstance(new, list):
                out.extend(new)
            elif new is not None:
                out.append(new)
        return out

    def _is_global(self, name: str) -> bool:
        if name not in self.rebound or not self.scopes:
            return False
        inner = self.scopes[-1]
        if name in inner.globals:
            return True
        # a name bound in any enclosing function (or this one) is not the module global
        return not any(name in s.locals and name not in s.globals for s in self.scopes)

    # ---- expressions ----
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and not self._skip(node) and self._is_global(node.id):
            return ast.copy_location(_call("_fw_rg", self._name(node.id)), node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if not isinstance(node.ctx, ast.Load) or self._skip(node) or not self._tracked(node):
            return self.generic_visit(node)
        node.value = _call("_fw_r", self.visit(node.value), self._name(node.attr))
        return node

    def _tracked(self, node: ast.Attribute) -> bool:
        if node.attr.startswith("__") and node.attr.endswith("__"):
            return False
        v = node.value
        if isinstance(v, ast.Name):
            if v.id in self.modules and not any(v.id in s.locals for s in self.scopes):
                return False
            if v.id == "self" and self.scopes[-1].is_init:
                return False
        return True

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        if isinstance(func, ast.Attribute):
            # a method lookup is not a read of state: instrument only the receiver
            func.value = self.visit(func.value)
        else:
            node.func = self.visit(func)
        node.args = [self.visit(a) for a in node.args]
        for kw in node.keywords:
            kw.value = self.visit(kw.value)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if (
            not isinstance(node.ctx, ast.Load)
            or self._skip(node)
            or isinstance(node.slice, ast.Slice)
        ):
            return self.generic_visit(node)
        return ast.copy_location(
            _call("_fw_gi", self.visit(node.value), self.visit(node.slice)), node
        )

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if (
            self._skip(node)
            or len(node.ops) != 1
            or not isinstance(node.ops[0], ast.In | ast.NotIn)
        ):
            return node
        test: ast.expr = _call("_fw_in", node.comparators[0], node.left)
        if isinstance(node.ops[0], ast.NotIn):
            test = ast.UnaryOp(op=ast.Not(), operand=test)
        return ast.copy_location(test, node)

    # ---- statements ----
    def _store(self, target: ast.expr, value: ast.expr) -> ast.stmt | None:
        """A call that stores ``value`` into an attribute or item target, if it is one."""
        if isinstance(target, ast.Subscript) and not isinstance(target.slice, ast.Slice):
            return ast.Expr(
                _call("_fw_si", self.visit(target.value), self.visit(target.slice), value)
            )
        return None

    def _receiver(self, target: ast.Attribute, recorder: str) -> None:
        """``obj.attr`` as a target: the store stays native, ``obj`` passes through a recorder."""
        value = self.visit(target.value)
        if self._tracked(target):
            value = _call(recorder, value, self._name(target.attr))
        target.value = value

    def _temp(self) -> str:
        self.temps += 1
        return f"_fw_t{self.temps}"

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        if self._skip(node):
            return node
        node.value = self.visit(node.value)
        if len(node.targets) == 1 and (store := self._store(node.targets[0], node.value)):
            return ast.copy_location(store, node)
        after: list[ast.stmt] = []
        temps: list[str] = []
        for i, target in enumerate(node.targets):
            for t in _targets(target):
                if isinstance(t, ast.Name):
                    if self._is_global_store(t.id):
                        after.append(ast.Expr(_call("_fw_wg", self._name(t.id))))
                    continue
                if isinstance(t, ast.Attribute):
                    self._receiver(t, "_fw_w")
                    continue
                tmp = self._temp()
                store = self._store(t, ast.Name(id=tmp, ctx=ast.Load()))
                if store is None:
                    self.generic_visit(t)
                    continue
                temps.append(tmp)
                after.append(store)
                if t is target:
                    node.targets[i] = ast.Name(id=tmp, ctx=ast.Store())
                else:
                    _replace_target(target, t, ast.Name(id=tmp, ctx=ast.Store()))
        if temps:
            after.append(ast.Delete(targets=[ast.Name(id=t, ctx=ast.Del()) for t in temps]))
        return [ast.copy_location(s, node) for s in [node, *after]]

    def _is_global_store(self, name: str) -> bool:
        return bool(self.scopes) and name in self.scopes[-1].globals

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if self._skip(node) or node.value is None:
            return node
        node.value = self.visit(node.value)
        if isinstance(node.target, ast.Attribute):
            self._receiver(node.target, "_fw_w")
            return node
        store = self._store(node.target, node.value)
        return ast.copy_location(store, node) if store else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        if self._skip(node):
            return node
        node.value = self.visit(node.value)
        t = node.target
        op = _const(AUG_OPS[type(node.op)])
        if isinstance(t, ast.Name):
            if self._is_global_store(t.id):
                rmw = ast.Expr(_call("_fw_rmw", self._name(t.id)))
                return [ast.copy_location(rmw, node), node]
            return node
        if isinstance(t, ast.Attribute):
            self._receiver(t, "_fw_rw")
            return node
        if isinstance(t, ast.Subscript) and not isinstance(t.slice, ast.Slice):
            call = _call("_fw_ai", self.visit(t.value), self.visit(t.slice), op, node.value)
        else:
            self.generic_visit(t)
            return node
        return ast.copy_location(ast.Expr(call), node)

    def visit_Delete(self, node: ast.Delete) -> ast.AST | list[ast.stmt]:
        if self._skip(node):
            return node
        out: list[ast.stmt] = []
        for t in node.targets:
            if isinstance(t, ast.Attribute):
                self._receiver(t, "_fw_w")
                out.append(ast.Delete(targets=[t]))
            elif isinstance(t, ast.Subscript) and not isinstance(t.slice, ast.Slice):
                out.append(ast.Expr(_call("_fw_di", self.visit(t.value), self.visit(t.slice))))
            else:
                if isinstance(t, ast.Name) and self._is_global_store(t.id):
                    out.append(ast.Expr(_call("_fw_wg", self._name(t.id))))
                out.append(ast.Delete(targets=[self.generic_visit(t)]))  # type: ignore[list-item]
        return [ast.copy_location(s, node) for s in out]


def _replace_target(root: ast.expr, old: ast.expr, new: ast.expr) -> None:
    for parent in ast.walk(root):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new

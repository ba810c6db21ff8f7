"""The single walk over one module's tree that feeds every rule.

One parse, one pass: the walker keeps the context the rules need (the function it is in and
whether it is ``async``, an open transaction, held locks, enclosing loops, imports and tracked
instances) and hands each node to the checks that care about it. Checks that need the whole
of a loop, a function or a module run when the walk leaves it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import ClassVar

from faultwise.lint import _calls, _consumers, _handlers, _retries
from faultwise.lint._names import Names, dotted
from faultwise.lint._shared import Deferred, Mutation

__all__ = ["Checker"]

Hit = tuple[str, int, int, int, int, str]  # rule id, line, col (bytes), end line, end col, detail

_MUTABLE_CALLS = frozenset(
    {"dict", "list", "set", "defaultdict", "Counter", "OrderedDict", "deque", "bytearray"}
)
_TX_METHODS = frozenset({"begin", "begin_nested", "transaction", "atomic"})
_ATOMIC = frozenset({"django.db.transaction.atomic"})
_HANDLER_DECORATORS = frozenset({"route", "get", "post", "put", "delete", "patch", "api_route"})
_SQL_BEGIN = re.compile(r"\s*(BEGIN|START\s+TRANSACTION)\b", re.I)
_SQL_WRITE = re.compile(r"\s*(UPDATE|INSERT|DELETE)\b|.*\bFOR\s+(UPDATE|SHARE)\b", re.I | re.S)
_SQL_END = re.compile(r"\s*(COMMIT|ROLLBACK|END)\b", re.I)
_LOCK_WORDS = ("lock", "mutex", "semaphore")
_UNBOUNDED_QUEUES = frozenset(
    f"{m}.{c}"
    for m in ("queue", "asyncio", "multiprocessing")
    for c in ("Queue", "LifoQueue", "PriorityQueue", "JoinableQueue")
)
_CACHES = frozenset({"functools.lru_cache", "functools.cache"})
# Words of a parameter name that mark per-request data (user_id, request, query_params).
_REQUEST_WORDS = frozenset(
    {
        "request", "req", "url", "uri", "query", "user", "username", "token", "session",
        "header", "headers", "body", "payload", "email", "ip", "addr", "address", "cookie",
        "cookies", "param", "params", "id", "key", "q", "search", "text", "message", "msg",
    }
)  # fmt: skip
_THREAD_CALLS = {
    "threading.Thread": ("target", 1),
    "threading.Timer": ("function", 1),
    "asyncio.to_thread": (None, 0),
    "_thread.start_new_thread": (None, 0),
}


# Node types (and field values) with nothing below them that any rule looks at.
_LEAVES = frozenset(
    {
        ast.Name,
        ast.Constant,
        ast.Pass,
        ast.Break,
        ast.Continue,
        ast.Nonlocal,
        ast.alias,
        str,
        int,
        float,
        complex,
        bytes,
        bool,
        type(None),
        type(...),
    }
)
_SCALAR_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "type_comment",
        "id",
        "attr",
        "arg",
        "module",
        "level",
        "kind",
        "is_async",
        "conversion",
        "simple",
        "name",
        "type_ignores",
    }
)


class _Scope:
    """What the walk knows about the function (or module, or class body) it is in."""

    __slots__ = (
        "acks",
        "acquired",
        "assigns",
        "globals",
        "handlers",
        "is_async",
        "locals",
        "loops",
        "name",
        "retry_loops",
        "tx",
        "tx_with_depth",
        "with_depth",
    )

    def __init__(self, name: str, *, is_async: bool = False, tx: str | None = None) -> None:
        self.name = name
        self.is_async = is_async
        self.tx = tx  # where the open transaction began, for the message
        self.tx_with_depth = -1  # with-depth at which an explicit BEGIN was seen
        self.with_depth = 0
        self.globals: set[str] = set()
        self.locals: set[str] = set()
        self.assigns: dict[str, list[ast.expr]] = {}
        self.loops: list[ast.For | ast.While | ast.AsyncFor] = []
        self.retry_loops: list[ast.For | ast.While] = []
        self.acks: set[ast.Call] = set()
        self.acquired = False
        self.handlers = 0  # depth of except handlers around the current node


class Checker:
    """Walk one module and collect raw hits; the caller applies config and ``noqa``."""

    _dispatch: ClassVar[dict[type, Callable[[Checker, ast.AST], None]]] = {}
    _fields: ClassVar[dict[type, tuple[str, ...]]] = {}

    def __init__(
        self, enabled: frozenset[str], *, views_module: bool = False, lines: list[str] | None = None
    ) -> None:
        self.enabled = enabled
        self.lines = lines or []
        self.hits: list[Hit] = []
        self.names = Names()
        self.deferred = Deferred()
        self.scope = _Scope("<module>")
        self.locks = 0
        self.views_module = views_module  # a Django views.py: plain functions are handlers
        self._thread_classes: list[bool] = []

    # -- plumbing -------------------------------------------------------------------------

    def report(self, rule_id: str, node: ast.AST, detail: str) -> None:
        if rule_id in self.enabled:
            line: int = getattr(node, "lineno", 1)
            col: int = getattr(node, "col_offset", 0)
            end_line: int = getattr(node, "end_lineno", None) or line
            end_col: int = getattr(node, "end_col_offset", None) or 0
            self.hits.append((rule_id, line, col, end_line, end_col, detail))

    def run(self, tree: ast.Module) -> list[Hit]:
        self.body(tree.body)
        self._leave(self.scope, tree.body)
        self.deferred.finish(self.report)
        return self.hits

    def visit(self, node: ast.AST) -> None:
        method = self._dispatch.get(type(node))
        if method is not None:
            method(self, node)
        elif type(node) not in _LEAVES:
            self.generic(node)

    def generic(self, node: ast.AST) -> None:
        """Visit the children of ``node``; the hottest loop of the linter, kept flat."""
        kind: type = type(node)
        fields = self._fields.get(kind)
        if fields is None:
            fields = tuple(f for f in node._fields if f not in _SCALAR_FIELDS)
            self._fields[kind] = fields
        dispatch = self._dispatch
        generic = self.generic
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    kind = type(item)
                    if kind in _LEAVES:
                        continue
                    method = dispatch.get(kind)
                    if method is None:
                        generic(item)
                    else:
                        method(self, item)
            else:
                kind = type(value)
                if kind in _LEAVES:
                    continue
                method = dispatch.get(kind)
                if method is None:
                    generic(value)  # type: ignore[arg-type]
                else:
                    method(self, value)  # type: ignore[arg-type]

    def body(self, stmts: list[ast.stmt]) -> None:
        visit = self.visit
        for stmt in stmts:
            visit(stmt)

    # -- scopes ---------------------------------------------------------------------------

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        tx = None
        handler = False
        for decorator in node.decorator_list:
            self.visit(decorator)
            tx = tx or self._decorator(node, decorator)
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and target.attr in _HANDLER_DECORATORS:
                handler = True
        self.visit_arguments(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        is_async = isinstance(node, ast.AsyncFunctionDef)
        if not is_async and handler:
            self.deferred.entries.setdefault(node.name, "a web handler run in a thread pool")
        elif self._thread_classes and self._thread_classes[-1] and node.name == "run":
            self.deferred.entries.setdefault(node.name, "run() of a threading.Thread subclass")
        elif self.views_module and not is_async and self.scope.name == "<module>":
            params = node.args.posonlyargs + node.args.args
            if params and params[0].arg == "request":
                self.deferred.entries.setdefault(node.name, "a Django view")
        outer = self.scope
        self.scope = _Scope(node.name, is_async=is_async, tx=tx)
        self.names.push()
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                self.scope.locals.add(arg.arg)
                if arg.annotation is not None:
                    self.names.bind_annotation(arg.arg, arg.annotation)
        self._thread_classes.append(False)
        locks, self.locks = self.locks, 0
        self.body(node.body)
        self.locks = locks
        self._thread_classes.pop()
        self._leave(self.scope, node.body)
        self.names.pop()
        self.scope = outer

    def _decorator(self, node: ast.FunctionDef | ast.AsyncFunctionDef, dec: ast.expr) -> str | None:
        """Checks on one decorator; returns a transaction description for ``@atomic``."""
        target = dec.func if isinstance(dec, ast.Call) else dec
        qualname = self.names.resolve(target)
        if qualname is None:
            return None
        if not isinstance(dec, ast.Call):
            _retries.check_retry_library(dec, qualname, self.names.resolve, self.report)
        if qualname in _ATOMIC:
            return f"@{ast.unparse(target)} on {node.name}()"
        if qualname in _CACHES:
            self._cache(node, dec, qualname)
        return None

    def _cache(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, dec: ast.expr, qualname: str
    ) -> None:
        if qualname == "functools.lru_cache":
            if not isinstance(dec, ast.Call):
                return  # @lru_cache alone is bounded at 128
            size = dec.args[0] if dec.args else _calls.keyword(dec, "maxsize")
            size = size.value if isinstance(size, ast.keyword) else size
            if not (isinstance(size, ast.Constant) and size.value is None):
                return
        params = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        keyed = [p for p in params if _REQUEST_WORDS & set(p.lower().split("_"))]
        if keyed:
            self.report(
                "FW162",
                dec,
                f"unbounded cache on {node.name}() keyed by {', '.join(keyed)}",
            )

    def _leave(self, scope: _Scope, body: list[ast.stmt]) -> None:
        for loop in scope.retry_loops:
            _retries.analyze_loop(loop, scope.assigns, self.names.resolve, self.report)
        if scope.acks:
            _consumers.scan_acks(scope.name, body, scope.acks, self.report)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit_arguments(node.args)
        outer = self.scope
        self.scope = _Scope("<lambda>")
        self.visit(node.body)
        self.scope = outer

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(expr)
        thread = any(self.names.resolve(b) == "threading.Thread" for b in node.bases)
        outer = self.scope
        self.scope = _Scope("<class>", is_async=outer.is_async)
        self._thread_classes.append(thread)
        self.body(node.body)
        self._thread_classes.pop()
        self.scope = outer

    # -- fast paths for the most common nodes (measured: a third of the walk) ---------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if type(node.value) is not ast.Name:
            self.visit(node.value)

    def visit_keyword(self, node: ast.keyword) -> None:
        if type(node.value) not in _LEAVES:
            self.visit(node.value)

    def visit_arguments(self, node: ast.arguments) -> None:
        # annotations hold no calls any rule looks at; defaults run at definition time
        for default in (*node.defaults, *node.kw_defaults):
            if default is not None and type(default) not in _LEAVES:
                self.visit(default)

    # -- statements -----------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        self.names.add_import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.names.add_import(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals.update(node.names)

    def visit_Expr(self, node: ast.Expr) -> None:
        self._explicit_begin(node.value)
        self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        self.visit(value)
        self._explicit_begin(value)
        for target in node.targets:
            self._assign(node, target, value)
            if not isinstance(target, ast.Name):
                self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._assign(node, node.target, node.value)
        self.visit(node.annotation)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        target = node.target
        scope = self.scope
        if isinstance(target, ast.Name):
            scope.assigns.setdefault(target.id, []).append(
                ast.BinOp(left=ast.Name(id=target.id), op=node.op, right=node.value)
            )
            if target.id in scope.globals:
                self._mutation(node, target.id)
        else:
            self.visit(target)
            base = _subscript_base(target)
            if base is not None and base not in scope.locals and scope.name[0] != "<":
                self._mutation(node, base)

    def _assign(self, node: ast.stmt, target: ast.expr, value: ast.expr) -> None:
        scope = self.scope
        names = self.names
        built = names.constructed(value) if isinstance(value, ast.Call) else None
        if isinstance(target, ast.Name):
            name = target.id
            scope.assigns.setdefault(name, []).append(value)
            names.bind(target, built)
            if scope.name == "<module>":
                if _mutable(value):
                    self.deferred.state_names.add(name)
            elif name in scope.globals:
                if _reads(value, name):
                    self._mutation(node, name)
            else:
                scope.locals.add(name)
        elif isinstance(target, ast.Attribute):
            names.bind(target, built)
            if target.attr in ("request", "send"):  # session.request = partial(..., timeout=5)
                self._configured_session(target.value)
        elif isinstance(target, ast.Subscript):
            base = _subscript_base(target)
            local = base is None or base in scope.locals or scope.name[0] == "<"
            if not local and _reads(value, base):  # type: ignore[arg-type]
                self._mutation(node, base)  # type: ignore[arg-type]
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                if isinstance(elt, ast.Name):
                    scope.locals.add(elt.id)
                    scope.assigns.setdefault(elt.id, []).append(ast.Name(id="?"))
        if isinstance(value, ast.Call):
            self._bound(target, value)

    def _bound(self, target: ast.expr, call: ast.Call) -> None:
        """A call's result is stored in ``target``: sessions and queues are keyed by it."""
        deferred = self.deferred
        if call in deferred.sessions:
            deferred.sessions[call] = dotted(target)
        qualname = self.names.resolve(call.func)
        if qualname is None:
            return
        if qualname == "queue.SimpleQueue" or (qualname in _UNBOUNDED_QUEUES and _no_maxsize(call)):
            key = dotted(target)
            if key is not None and (
                isinstance(target, ast.Attribute) or self.scope.name == "<module>"
            ):
                deferred.queues[key] = call

    def _mutation(self, node: ast.stmt, name: str) -> None:
        locked = self.locks > 0 or self.scope.acquired
        self.deferred.mutations.append(Mutation(self.scope.name, node, name, locked))

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        scope = self.scope
        tx = None
        lock = False
        for item in node.items:
            expr = item.context_expr
            self.visit(expr)
            tx = tx or self._transaction(expr)
            lock = lock or self._lockish(expr)
            if item.optional_vars is not None:
                if isinstance(expr, ast.Call):
                    self.names.bind(item.optional_vars, self.names.constructed(expr))
                    self._bound(item.optional_vars, expr)
                if isinstance(item.optional_vars, ast.Name):
                    scope.locals.add(item.optional_vars.id)
        for item in node.items:
            expr = item.context_expr
            if (
                isinstance(expr, ast.Call)
                and self.names.resolve(expr.func) == "contextlib.suppress"
            ):
                _handlers.check_suppress(expr, node.body, scope.name, self.report)
        outer_tx = scope.tx
        if tx is not None and scope.tx is None:
            scope.tx = f"{tx} at line {node.lineno}"
        self.locks += lock
        scope.with_depth += 1
        self.body(node.body)
        scope.with_depth -= 1
        if scope.tx_with_depth > scope.with_depth:  # BEGIN ... inside `with conn:` ends with it
            scope.tx_with_depth = -1
            outer_tx = None
        self.locks -= lock
        scope.tx = outer_tx

    visit_AsyncWith = visit_With

    def _transaction(self, expr: ast.expr) -> str | None:
        target = expr.func if isinstance(expr, ast.Call) else expr
        if (
            isinstance(target, ast.Attribute)
            and target.attr in _TX_METHODS
            and (isinstance(expr, ast.Call) or target.attr == "atomic")
        ):
            return f"with {ast.unparse(expr)}"
        if self.names.resolve(target) in _ATOMIC:
            return f"with {ast.unparse(expr)}"
        return None

    def _lockish(self, expr: ast.expr) -> bool:
        if self.names.resolve(expr) == "threading.Lock":
            return True
        text = (dotted(expr) or "").lower()
        return any(word in text for word in _LOCK_WORDS)

    def _explicit_begin(self, value: ast.expr) -> None:
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
            return
        scope = self.scope
        method = value.func.attr
        opened = None
        if method == "begin" and scope.tx is None:
            opened = f"{ast.unparse(value.func)}()"
        elif method == "execute" and value.args and scope.tx is None:
            sql = _calls.literal_str(value.args[0])
            if sql is not None and (_SQL_BEGIN.match(sql) or _SQL_WRITE.match(sql)):
                opened = f"execute({sql.strip().split()[0].upper()} ...)"
        if opened is not None:
            scope.tx = f"{opened} at line {value.lineno}"
            scope.tx_with_depth = scope.with_depth

    def _loop(self, node: ast.For | ast.While | ast.AsyncFor) -> None:
        scope = self.scope
        if not isinstance(node, ast.While) and isinstance(node.target, ast.Name):
            scope.locals.add(node.target.id)
            scope.assigns.setdefault(node.target.id, []).append(ast.Name(id="?"))
        scope.loops.append(node)
        self.generic(node)
        scope.loops.pop()

    visit_For = visit_While = visit_AsyncFor = _loop

    def visit_Try(self, node: ast.Try | ast.TryStar) -> None:
        scope = self.scope
        if scope.loops and not isinstance(scope.loops[-1], ast.AsyncFor):
            loop = scope.loops[-1]
            if not scope.retry_loops or scope.retry_loops[-1] is not loop:
                scope.retry_loops.append(loop)
        if node.handlers:
            _handlers.check_try(
                node, scope.name, self.report, self.lines, in_handler=scope.handlers > 0
            )
        self.generic(node)

    visit_TryStar = visit_Try

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self.scope.handlers += 1
        self.generic(node)
        self.scope.handlers -= 1

    # -- calls ----------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        scope = self.scope
        qualname = self.names.resolve(func)
        if qualname is not None:
            self._qualified_call(node, qualname)
        if isinstance(func, ast.Attribute):
            self._method_call(node, func, qualname)
        if node.keywords or (node.args and type(node.args[0]) is ast.Dict):
            _calls.check_auto_ack(node, self.report)
        if scope.tx is not None:
            if _calls.is_network_call(qualname):
                self.report("FW130", node, f"{ast.unparse(func)}() inside {scope.tx}")
            elif isinstance(func, ast.Attribute) and func.attr in _calls.ENQUEUE_METHODS:
                self.report("FW131", node, f"{ast.unparse(func)}() inside {scope.tx}")
        self.generic(node)

    def _qualified_call(self, node: ast.Call, qualname: str) -> None:
        report = self.report
        _calls.check_timeouts(node, qualname, self._session_report(node, qualname))
        if self.scope.is_async:
            rule_id = _calls.blocking_rule(qualname)
            if rule_id is not None:
                report(
                    rule_id,
                    node,
                    f"{ast.unparse(node.func)}() inside async def {self.scope.name}()",
                )
        _calls.check_unbounded_pool(node, qualname, report)
        _retries.check_retry_library(node, qualname, self.names.resolve, report)
        spec = _THREAD_CALLS.get(qualname)
        if spec is not None:
            keyword, position = spec
            kw = _calls.keyword(node, keyword) if keyword else None
            target = (
                kw.value
                if kw is not None
                else (node.args[position] if len(node.args) > position else None)
            )
            self.deferred.entry(target, f"{qualname.rsplit('.', 1)[-1]}() at line {node.lineno}")
        if qualname == "aiohttp.ClientSession" and not _calls.has_kwargs(node):
            if _calls.keyword(node, "timeout") is None:
                self.deferred.sessions[node] = None
        elif qualname == "aiohttp.request" and _calls.keyword(node, "timeout") is None:
            report("FW104", node, "aiohttp.request() without timeout= relies on the 300 s default")

    def _configured_session(self, receiver: ast.expr) -> None:
        key = dotted(receiver)
        if key is not None:
            self.deferred.configured_sessions.add(key)

    def _session_report(self, node: ast.Call, qualname: str) -> _calls.Report:
        """A requests session call waits for the end of the module: ``session.mount(adapter)``
        or ``session.request = partial(..., timeout=...)`` may give it a default timeout."""
        if not qualname.startswith("requests.Session.") or not isinstance(node.func, ast.Attribute):
            return self.report
        key = dotted(node.func.value)
        if key is None:
            return self.report
        calls = self.deferred.session_calls

        def defer(rule_id: str, at: ast.AST, detail: str) -> None:
            calls.append((key, rule_id, at, detail))

        return defer

    def _method_call(self, node: ast.Call, func: ast.Attribute, qualname: str | None) -> None:
        method = func.attr
        scope = self.scope
        if method in _consumers.ACK_METHODS:
            scope.acks.add(node)
        elif method in {"commit", "rollback"}:
            receiver = (dotted(func.value) or "").lower()
            if "consumer" in receiver or (qualname or "").startswith("kafka."):
                if method == "commit":
                    scope.acks.add(node)
            elif scope.tx is not None and scope.tx_with_depth >= 0:
                scope.tx = None
                scope.tx_with_depth = -1
        elif method == "execute" and node.args and scope.tx_with_depth >= 0:
            sql = _calls.literal_str(node.args[0])
            if sql is not None and _SQL_END.match(sql):
                scope.tx = None
                scope.tx_with_depth = -1
        elif method in ("put", "put_nowait"):
            key = dotted(func.value)
            if key is not None:
                self.deferred.fed.add(key)
        elif method in ("submit", "map", "run_in_executor") and node.args:
            target = node.args[1 if method == "run_in_executor" else 0]
            if (
                method != "map"
                or "executor" in (dotted(func.value) or "").lower()
                or ((self.names.resolve(func.value) or "").endswith("ThreadPoolExecutor"))
            ):
                self.deferred.entry(target, f"{method}() at line {node.lineno}")
        elif method == "acquire":
            scope.acquired = True
        elif method == "mount":
            self._configured_session(func.value)
        if (qualname or "").startswith("aiohttp.ClientSession.") and _calls.keyword(
            node, "timeout"
        ):
            key = dotted(func.value)
            if key is not None:
                self.deferred.timed_sessions.add(key)


def _subscript_base(target: ast.expr) -> str | None:
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return target.value.id
    return None


def _reads(value: ast.expr, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(value))


def _mutable(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return True
    if isinstance(value, ast.Constant):
        return type(value.value) in (int, float)
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name in _MUTABLE_CALLS
    return False


def _no_maxsize(call: ast.Call) -> bool:
    if _calls.has_kwargs(call):
        return False
    size = call.args[0] if call.args else None
    kw = _calls.keyword(call, "maxsize")
    if kw is not None:
        size = kw.value
    if size is None:
        return True
    return isinstance(size, ast.Constant) and isinstance(size.value, int) and size.value <= 0


def _build_dispatch() -> None:
    for name in dir(Checker):
        if name.startswith("visit_"):
            node_type = getattr(ast, name[len("visit_") :], None)
            if isinstance(node_type, type):
                Checker._dispatch[node_type] = getattr(Checker, name)


_build_dispatch()

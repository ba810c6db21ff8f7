"""FW11x: hand-written retry loops and retry-library configuration.

A loop is a *retry loop* when it repeats an operation after catching its exception and leaves
on success: a ``while`` loop, or ``for _ in range(n)`` / ``itertools.count()``, holding a
``try`` whose handler falls through (retries) and whose body or ``else`` breaks or returns.
Loops that walk over items and skip bad ones are not retries. The handler must catch a broad
or transient-looking exception (``Exception``, ``OSError``, ``ConnectionError``, ``*Timeout*``
...), so loops that search for a free name or port are left alone.

The delay passed to ``sleep`` is classified by following assignments in the function:
random (fine), growing without randomness (FW112), constant (FW111), or unknown (no finding).
"""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

__all__ = ["Delay", "analyze_loop", "check_retry_library", "classify_delay"]

Report = Callable[[str, ast.AST, str], None]
Resolve = Callable[[ast.expr], str | None]

_TRANSIENT = re.compile(
    r"^(Exception|BaseException|OSError|IOError|EnvironmentError|socket\.error|error)$"
    r"|Connection|Timeout|Temporar|Transient|Unavailable|Operational|Retry|HTTP|Request|"
    r"Network|Socket|Redis|Broker|AMQP|Database|Interface|Throttl|RateLimit|ServerError|"
    r"ClientError|APIError|BotoCoreError|ProtocolError",
)
_RANDOM_WORDS = (
    "random",
    "uniform",
    "randint",
    "randrange",
    "jitter",
    "gauss",
    "choice",
    "expovariate",
    "triangular",
    "betavariate",
    "normalvariate",
)
_WAIT_WORDS = ("sleep", "wait", "backoff", "delay", "pause")


class Delay(enum.Enum):
    RANDOM = "random"
    GROWING = "growing"
    CONSTANT = "constant"
    UNKNOWN = "unknown"


def _walk_loop(nodes: Sequence[ast.AST], *, into_loops: bool) -> Iterator[ast.AST]:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if not into_loops and isinstance(child, ast.For | ast.While | ast.AsyncFor):
                continue
            stack.append(child)


def _name_of(node: ast.expr | None) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _transient(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_TRANSIENT.search(ast.unparse(t)) for t in types)


def _ends_in_exit(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], ast.Raise | ast.Return | ast.Break)


def _leaves(body: list[ast.stmt]) -> bool:
    """Does ``body``, run to its end without an exception, always leave the loop?"""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Break | ast.Return):
        return True
    if isinstance(last, ast.If):
        return _leaves(last.body) and _leaves(last.orelse)
    if isinstance(last, ast.With | ast.AsyncWith):
        return _leaves(last.body)
    return False


def _loads(nodes: list[ast.stmt], name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        for n in _walk_loop(nodes, into_loops=True)
    )


def _stores(nodes: list[ast.stmt], name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in _walk_loop(nodes, into_loops=True)
    )


def _stored(nodes: list[ast.stmt]) -> set[str]:
    """Names a block rebinds or changes in place (``x = ...``, ``x[:] = ...``)."""
    names = set()
    for n in _walk_loop(nodes, into_loops=True):
        targets = (
            n.targets
            if isinstance(n, ast.Assign)
            else [n.target]
            if isinstance(n, ast.AugAssign)
            else []
        )
        for target in targets:
            base = target
            while isinstance(base, ast.Subscript | ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
    return names


def _flag_name(test: ast.expr) -> str | None:
    """``while not done`` / ``while retrying``: the success flag's name."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    return test.id if isinstance(test, ast.Name) else None


def _retry_try(loop: ast.While | ast.For, resolve: Resolve) -> ast.Try | None:
    """The ``try`` that makes ``loop`` a retry loop, if it is one."""
    if isinstance(loop, ast.For):
        callee = resolve(loop.iter.func) if isinstance(loop.iter, ast.Call) else None
        if (
            not isinstance(loop.iter, ast.Call)
            or callee not in (None, "itertools.count", "itertools.repeat")
            or (callee is None and _name_of(loop.iter.func) != "range")
        ):
            return None
    flag = _flag_name(loop.test) if isinstance(loop, ast.While) else None
    for node in loop.body:  # a retry's try is a statement of the loop itself
        if not isinstance(node, ast.Try):
            continue
        retrying = [h for h in node.handlers if _transient(h) and not _ends_in_exit(h.body)]
        if not retrying:
            continue
        if not (
            _leaves(node.body)
            or _leaves(node.orelse)
            or (flag is not None and _stores(node.body, flag))
        ):
            continue
        varied = {n for h in retrying for n in _stored(h.body)}
        if (
            isinstance(loop, ast.For)
            and isinstance(loop.target, ast.Name)
            and loop.target.id != "_"
        ):
            varied.add(loop.target.id)
        if any(_loads(node.body, name) for name in varied):
            continue  # each pass tries something else (next name, fewer items): a search
        return node
    return None


def _capped(loop: ast.While | ast.For, tried: ast.Try) -> bool:
    if isinstance(loop, ast.For):
        it = loop.iter
        name = _name_of(it.func) if isinstance(it, ast.Call) else ""
        return not (name == "count" or (name == "repeat" and len(it.args) < 2))  # type: ignore[attr-defined]
    test = loop.test
    if not (isinstance(test, ast.Constant) and test.value) and _flag_name(test) is None:
        return True  # while attempts < n, while time.monotonic() < deadline, while running
    outside_try = [s for s in loop.body if s is not tried]
    for handler in tried.handlers:
        outside_try.extend(handler.body)
    for node in _walk_loop(outside_try, into_loops=False):
        if isinstance(node, ast.If) and _exits(node):
            return True
    return False


def _exits(node: ast.If) -> bool:
    return any(
        isinstance(n, ast.Raise | ast.Return | ast.Break)
        for n in _walk_loop(node.body + node.orelse, into_loops=False)
    )


def _sleeps(loop: ast.While | ast.For) -> list[ast.Call]:
    return [
        n
        for n in _walk_loop(loop.body, into_loops=False)
        if isinstance(n, ast.Call) and any(w in _name_of(n.func).lower() for w in _WAIT_WORDS)
    ]


def analyze_loop(
    loop: ast.While | ast.For,
    assignments: Mapping[str, list[ast.expr]],
    resolve: Resolve,
    report: Report,
) -> None:
    tried = _retry_try(loop, resolve)
    if tried is None:
        return
    if not _capped(loop, tried):
        report("FW113", loop, "retry loop without an attempt limit or deadline")
    sleeps = _sleeps(loop)
    if not sleeps:
        report("FW110", loop, "retry loop retries immediately")
        return
    counters = (
        {loop.target.id}
        if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name)
        else set()
    )
    for call in sleeps:
        if _name_of(call.func) != "sleep" or not call.args:
            continue  # a helper (self._backoff(), event.wait()) decides the delay: unknown
        kind = classify_delay(call.args[0], assignments, counters)
        if kind is Delay.CONSTANT:
            report("FW111", call, f"retry loop sleeps a constant {ast.unparse(call.args[0])}")
        elif kind is Delay.GROWING:
            report("FW112", call, f"retry backoff {ast.unparse(call.args[0])} has no jitter")


def classify_delay(
    expr: ast.expr,
    assignments: Mapping[str, list[ast.expr]],
    counters: set[str],
    depth: int = 0,
) -> Delay:
    """How a delay expression behaves across attempts (follows names up to 4 deep)."""
    for node in ast.walk(expr):
        name = (
            _name_of(node.func) if isinstance(node, ast.Call) else getattr(node, "id", "")
        ).lower()
        if any(word in name for word in _RANDOM_WORDS):
            return Delay.RANDOM
    if isinstance(expr, ast.Constant):
        return Delay.CONSTANT if isinstance(expr.value, int | float) else Delay.UNKNOWN
    if isinstance(expr, ast.Name):
        if expr.id in counters:
            return Delay.GROWING
        values = assignments.get(expr.id)
        if not values or depth > 3:
            return Delay.UNKNOWN
        kinds = {classify_delay(v, assignments, counters | {expr.id}, depth + 1) for v in values}
        for kind in (Delay.RANDOM, Delay.UNKNOWN, Delay.GROWING):
            if kind in kinds:
                return kind
        return Delay.CONSTANT
    if isinstance(expr, ast.BinOp):
        if isinstance(expr.op, ast.Pow | ast.LShift):
            return Delay.GROWING
        kinds = {classify_delay(s, assignments, counters, depth) for s in (expr.left, expr.right)}
        return _combine(kinds)
    if isinstance(expr, ast.Call) and _name_of(expr.func) in ("min", "max", "float", "int"):
        return _combine({classify_delay(a, assignments, counters, depth) for a in expr.args})
    return Delay.UNKNOWN


def _combine(kinds: set[Delay]) -> Delay:
    """Parts of one expression: any randomness wins, then growth (``self.base * 2 ** n``)."""
    for kind in (Delay.RANDOM, Delay.GROWING, Delay.UNKNOWN):
        if kind in kinds:
            return kind
    return Delay.CONSTANT


_TENACITY = frozenset({"tenacity.retry", "tenacity.Retrying", "tenacity.AsyncRetrying"})
_BACKOFF = frozenset({"backoff.on_exception", "backoff.on_predicate"})


def check_retry_library(
    call: ast.Call | ast.expr, qualname: str, resolve: Resolve, report: Report
) -> None:
    """FW114/FW115 on tenacity ``retry``/``Retrying`` and ``backoff.on_*``."""
    if qualname in _TENACITY:
        if not isinstance(call, ast.Call):
            report("FW114", call, "@retry without stop= retries forever")
            return
        keywords = {kw.arg: kw.value for kw in call.keywords}
        if "stop" not in keywords and None not in keywords:
            what = qualname.rsplit(".", maxsplit=1)[-1]
            report("FW114", call, f"{what}() without stop= retries forever")
        wait = keywords.get("wait")
        if wait is not None and _exponential_without_jitter(wait, resolve):
            report("FW115", call, "wait_exponential without jitter")
    elif qualname in _BACKOFF and isinstance(call, ast.Call):
        keywords = {kw.arg: kw.value for kw in call.keywords}
        if not {"max_tries", "max_time", None} & keywords.keys():
            what = qualname.rsplit(".", maxsplit=1)[-1]
            report("FW114", call, f"backoff.{what} without max_tries or max_time")
        jitter = keywords.get("jitter")
        if isinstance(jitter, ast.Constant) and jitter.value is None:
            report("FW115", call, "backoff with jitter=None")


def _exponential_without_jitter(wait: ast.expr, resolve: Resolve) -> bool:
    names = [resolve(n.func) or "" for n in ast.walk(wait) if isinstance(n, ast.Call)]
    exponential = any(n.endswith(("wait_exponential", "wait_incrementing")) for n in names)
    return exponential and not any("random" in n or "jitter" in n for n in names)

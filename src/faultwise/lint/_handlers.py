"""FW12x: exception handlers that swallow errors.

A handler is fine when it re-raises (also through ``safe_reraise()``-style helpers), logs,
uses the exception object, or exits. Broad means bare ``except:``, ``Exception`` or
``BaseException`` (alone or in a tuple); narrow handlers (``except KeyError: pass``) state an
expected case and are never flagged.

Deliberate idioms that are skipped for FW121/FW122 (a bare ``except:`` is always FW120):

* a ``try`` whose body only imports (optional dependencies);
* a ``try`` that only computes (``int(text)``, ``json.loads(raw)``, attribute access), where
  failing is an expected answer rather than a lost error;
* ``is_*``/``has_*``/``verify*``/``check*`` predicates answering ``False``;
* handlers explained by a comment (on the ``except`` line, the line above it, or inside):
  the drop was a reviewed decision; tool directives (``# noqa``, ``# pylint:``) do not count;
* a ``try`` inside another handler (a second error would hide the first), handlers that
  record the failure (``failed.append(node)``), and functions whose name says they drop or
  handle errors (``drop_exception``, ``safe_repr``, ``handle_dbapi_exception``);
* best-effort cleanup: a ``try`` whose body only closes, cancels, resets or removes
  something, or any handler inside ``__del__``/``__exit__``/``close()``-like methods, where
  a second error would hide the first.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Sequence

__all__ = ["check_suppress", "check_try", "is_logging_call"]

Report = Callable[[str, ast.AST, str], None]

_BROAD = frozenset({"Exception", "BaseException"})
# A call whose name holds one of these words reports or re-raises the error.
_LOG_WORDS = (
    "log", "warn", "print", "report", "error", "exception", "capture", "critical", "fatal",
    "debug", "info", "notify", "alert", "traceback", "sentry", "write", "echo", "format_exc",
    "raise", "crit",
)  # fmt: skip
_CLEANUP_WORDS = (
    "close", "release", "shutdown", "terminate", "kill", "cancel", "unlink", "remove",
    "rmdir", "rmtree", "disconnect", "stop", "join", "unregister", "detach", "cleanup",
    "dispose", "__exit__", "__aexit__", "removehandler", "reset", "drop", "delete",
)  # fmt: skip
# Calls that compute rather than reach out: a try around only these guards a conversion or
# a probe (int(text), hash(obj)), whose failure is an expected answer, not a lost error.
_PURE = frozenset(
    {
        "int", "float", "str", "bytes", "bool", "complex", "hash", "len", "repr", "getattr",
        "hasattr", "isinstance", "issubclass", "type", "iter", "next", "ord", "chr", "divmod",
        "round", "abs", "min", "max", "sorted", "tuple", "list", "dict", "set", "frozenset",
        "format", "decode", "encode", "split", "strip", "lower", "upper", "startswith",
        "endswith", "index", "find", "replace", "keys", "values", "items", "append", "extend",
        "add", "loads", "literal_eval", "fromisoformat", "strptime", "format_exc",
    }
)  # fmt: skip
_PREDICATE = (
    "is_", "has_", "can_", "should_", "supports_", "verify", "check", "ping",
    "_is_", "_has_", "_can_",
)  # fmt: skip
_CLEANUP_FUNCTIONS = frozenset(
    {"__del__", "__exit__", "__aexit__", "close", "aclose", "cleanup", "shutdown", "dispose",
     "teardown", "tearDown", "terminate", "_cleanup", "_close"}
)  # fmt: skip
_DIRECTIVES = ("noqa", "pylint", "type:", "nosec", "pragma", "fmt:", "pyright", "mypy")
# ``failed.append(node)``: the failure is recorded for the caller, not lost.
_RECORDS = frozenset({"append", "add", "put", "put_nowait", "set_exception"})
# A function whose name says it drops or handles errors does so on purpose.
_DELIBERATE = ("drop", "ignore", "discard", "silence", "suppress", "quiet", "safe", "exception")
_EXITS = frozenset({"exit", "_exit", "abort", "fail", "skip", "xfail"})


def _broad(node: ast.expr | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_broad(elt) for elt in node.elts)
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    return name in _BROAD


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def is_logging_call(call: ast.Call) -> bool:
    name = _call_name(call).lower()
    return any(word in name for word in _LOG_WORDS)


def check_suppress(
    call: ast.Call, body: list[ast.stmt], function_name: str, report: Report
) -> None:
    """``with contextlib.suppress(Exception):`` is ``except Exception: pass`` (FW121)."""
    if not any(_broad(a) for a in call.args):
        return
    if _deliberate(function_name) or _cleanup(body) or _pure(body):
        return
    report("FW121", call, f"{ast.unparse(call)} silences every error")


def _walk_local(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node under ``nodes`` except the bodies of nested functions and classes."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                stack.append(child)


def _silent(body: list[ast.stmt]) -> bool:
    return all(
        isinstance(s, ast.Pass | ast.Continue)
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    )


def _handled(handler: ast.ExceptHandler) -> bool:
    """Re-raises, logs, exits, or does something with the exception object."""
    for node in _walk_local(handler.body):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and (
            is_logging_call(node)
            or _call_name(node) in _EXITS
            or _call_name(node) in _RECORDS
            or any(kw.arg == "exc_info" for kw in node.keywords)
        ):
            return True
        if handler.name and isinstance(node, ast.Name) and node.id == handler.name:
            return True
    return False


def _cleanup(body: list[ast.stmt]) -> bool:
    """Best-effort release of a resource: every statement closes, cancels or removes."""
    for stmt in body:
        value = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            return False
        name = _call_name(value).lower()
        if not any(word in name for word in _CLEANUP_WORDS):
            return False
    return True


def _pure(body: list[ast.stmt]) -> bool:
    """The guarded code only computes: no call leaves the process or runs foreign code."""
    return all(
        _call_name(n) in _PURE or _call_name(n).startswith(("parse", "_parse"))
        for n in _walk_local(body)
        if isinstance(n, ast.Call)
    ) and not any(isinstance(n, ast.Await | ast.Yield | ast.YieldFrom) for n in _walk_local(body))


def _answers_no(handler: ast.ExceptHandler, function_name: str) -> bool:
    """``def is_valid(...)``: returning False on error is the function's contract."""
    return function_name.startswith(_PREDICATE) and all(
        isinstance(s, ast.Return) and isinstance(s.value, ast.Constant) and s.value.value is False
        for s in handler.body
    )


def _explained(handler: ast.ExceptHandler, lines: Sequence[str]) -> bool:
    """A comment on, just above, or inside the handler says why the error is dropped."""
    first = handler.lineno - 1
    last = handler.end_lineno or handler.lineno
    for number in range(max(first, 1), min(last, len(lines)) + 1):
        text = lines[number - 1]
        if "#" not in text:
            continue
        comment = text[text.index("#") + 1 :].strip().lower()
        if number == first and not text.lstrip().startswith("#"):
            continue  # code on the line above, not a comment about this handler
        if comment and not comment.startswith(_DIRECTIVES):
            return True
    return False


def _deliberate(function_name: str) -> bool:
    lowered = function_name.lower()
    return function_name in _CLEANUP_FUNCTIONS or any(w in lowered for w in _DELIBERATE)


def check_try(
    node: ast.Try | ast.TryStar,
    function_name: str,
    report: Report,
    lines: Sequence[str] = (),
    *,
    in_handler: bool = False,
) -> None:
    """Check the handlers of one ``try``; ``in_handler``: it sits inside another handler."""
    if _deliberate(function_name):
        return
    if all(isinstance(s, ast.Import | ast.ImportFrom) for s in node.body) or _cleanup(node.body):
        return
    pure = _pure(node.body)
    for handler in node.handlers:
        if not _broad(handler.type) or _handled(handler):
            continue
        if handler.type is None:
            report("FW120", handler, "bare except: swallows every exception")
        elif in_handler or pure or _answers_no(handler, function_name):
            continue  # a second error while handling the first would hide it
        elif _explained(handler, lines):
            continue
        elif _silent(handler.body):
            what = ast.unparse(handler.type)
            action = (
                "continue" if any(isinstance(s, ast.Continue) for s in handler.body) else "pass"
            )
            report("FW121", handler, f"except {what}: {action}")
        else:
            what = ast.unparse(handler.type)
            report("FW122", handler, f"except {what} falls back without logging or re-raising")

"""FW140: a message acknowledged before the work on it is done.

The scan follows statement order inside one function: after an ack (``basic_ack``, ``ack``,
``acknowledge``, a Kafka consumer's ``commit``), any later statement that still does work
(a call other than logging, metrics or another ack) means the message was acknowledged
before it was processed. A branch that ends in ``return``/``raise``/``continue``/``break``
right after the ack (dropping an invalid message) is not processing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

__all__ = ["ACK_METHODS", "scan_acks"]

Report = Callable[[str, ast.AST, str], None]

ACK_METHODS = frozenset({"ack", "basic_ack", "acknowledge"})
_TRIVIAL = frozenset(
    {
        *ACK_METHODS,
        "nack",
        "basic_nack",
        "reject",
        "basic_reject",
        "commit",
        "debug",
        "info",
        "warning",
        "warn",
        "error",
        "exception",
        "critical",
        "log",
        "print",
        "inc",
        "dec",
        "observe",
        "labels",
        "set",
        "len",
        "str",
        "repr",
        "int",
        "float",
        "bool",
        "time",
        "monotonic",
        "perf_counter",
        "format",
    }
)
# Bookkeeping after an ack (events, signals, metrics, traces) is not processing the message.
_BOOKKEEPING = ("log", "event", "signal", "metric", "stat", "emit", "trace", "print", "warn")
# Functions that implement acking, or completion hooks that run once processing has ended.
_AFTER_PROCESSING = (
    "ack", "reject", "fail", "retry", "revok", "success", "timeout", "error", "complete",
    "done", "finish",
)  # fmt: skip
_END = (ast.Return, ast.Raise, ast.Continue, ast.Break)


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _calls(node: ast.AST) -> list[ast.Call]:
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            found.append(current)
            if not _is_work(current):
                continue  # log.info(repr(body)): the arguments belong to the bookkeeping
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                stack.append(child)
    return found


def _is_work(call: ast.Call) -> bool:
    name = _call_name(call)
    lowered = name.lower()
    return name not in _TRIVIAL and not any(word in lowered for word in _BOOKKEEPING)


def _yields(node: ast.AST) -> list[ast.expr]:
    """Handing the message on (``yield body``) is processing too."""
    return [n for n in ast.walk(node) if isinstance(n, ast.Yield | ast.YieldFrom) and n.value]


def _what(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return f"{_call_name(node) or 'the work'}()"
    return "yield"


class _Scan:
    def __init__(self, acks: set[ast.Call], report: Report) -> None:
        self.acks = acks
        self.report = report
        self.reported: set[ast.Call] = set()

    def block(self, body: list[ast.stmt], pending: ast.Call | None) -> ast.Call | None:
        """Scan ``body``; return the ack still pending when control falls off its end."""
        for stmt in body:
            pending = self.stmt(stmt, pending)
            if isinstance(stmt, _END):
                return None
        return pending

    def stmt(self, stmt: ast.stmt, pending: ast.Call | None) -> ast.Call | None:
        if isinstance(stmt, ast.If):
            pending = self._work(stmt.test, pending)
            after_body = self.block(stmt.body, pending)
            after_else = self.block(stmt.orelse, pending)
            return after_body or after_else
        if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
            head = stmt.iter if isinstance(stmt, ast.For | ast.AsyncFor) else stmt.test
            pending = self._work(head, pending)
            self.block(stmt.body, pending)  # an ack inside the loop concerns that iteration
            return self.block(stmt.orelse, pending)
        if isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                pending = self._work(item.context_expr, pending)
            return self.block(stmt.body, pending)
        if isinstance(stmt, ast.Try | ast.TryStar):
            after = self.block(stmt.body, pending)
            for handler in stmt.handlers:
                after = self.block(handler.body, pending) or after
            after = self.block(stmt.orelse, after) or after
            return self.block(stmt.finalbody, after) or after
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return pending
        if isinstance(stmt, ast.Raise):
            return pending  # raising is not processing
        return self._work(stmt, pending)

    def _work(self, node: ast.AST, pending: ast.Call | None) -> ast.Call | None:
        calls = _calls(node)
        if pending is not None and pending not in self.reported:
            work: list[ast.expr] = [c for c in calls if _is_work(c) and c not in self.acks]
            work.extend(_yields(node))
            if work:
                first = min(work, key=lambda n: (n.lineno, n.col_offset))
                self.reported.add(pending)
                self.report(
                    "FW140",
                    pending,
                    f"{_call_name(pending)}() at line {pending.lineno} comes before "
                    f"{_what(first)} at line {first.lineno}",
                )
        acked = [c for c in calls if c in self.acks]
        return acked[0] if acked else pending


def scan_acks(function: str, body: list[ast.stmt], acks: set[ast.Call], report: Report) -> None:
    """Report every ack in ``acks`` that is followed by more work in ``body``'s flow.

    Functions that implement acking (``def basic_ack``, ``def _ack_message``) and acks sent
    through ``super()`` are the broker client's own plumbing, not a consumer; completion hooks
    (``on_failure``, ``on_retry``, ``on_success``, ``on_timeout``) run after processing ended.
    """
    lowered = function.lower()
    if any(word in lowered for word in _AFTER_PROCESSING):
        return
    acks = {a for a in acks if not _via_super(a)}
    if acks:
        _Scan(acks, report).block(body, None)


def _via_super(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )

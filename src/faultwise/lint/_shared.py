"""Module-wide facts gathered during the walk and judged at its end.

* FW150: module-level state that a function run in threads read-modify-writes without a
  lock. Thread entry points are ``Thread(target=f)``, ``Timer(_, f)``, ``executor.submit(f)``
  / ``executor.map(f)``, ``loop.run_in_executor(_, f)``, ``asyncio.to_thread(f)``, ``run`` of
  a ``threading.Thread`` subclass, and synchronous web handlers (``@app.route``,
  ``@router.get``...), which Flask, Django and FastAPI run in thread pools. Only
  read-modify-write updates are lost updates (``n += 1``, ``d[k] += 1``, ``d[k] = d[k] + 1``);
  a single ``d[k] = v`` or ``list.append`` is atomic in CPython and is not flagged.
* FW161: an unbounded queue kept on an attribute or at module level that something feeds
  with ``put``. Queues local to one function (collecting results) are left alone.
* FW101 on a ``requests.Session`` method: unless the module mounts an adapter on that session
  (``session.mount("https://", TimeoutAdapter(...))``) or wraps its ``request``/``send``.
* FW104: an ``aiohttp.ClientSession`` built without ``timeout=`` whose requests do not pass
  their own ``timeout=`` either.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Deferred", "Mutation"]

Report = Callable[[str, ast.AST, str], None]


@dataclass(frozen=True, slots=True)
class Mutation:
    function: str
    node: ast.stmt
    name: str
    locked: bool


@dataclass(slots=True)
class Deferred:
    state_names: set[str] = field(default_factory=set)
    mutations: list[Mutation] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)  # function name -> how it runs
    queues: dict[str, ast.Call] = field(default_factory=dict)  # key -> constructor call
    fed: set[str] = field(default_factory=set)
    sessions: dict[ast.Call, str | None] = field(default_factory=dict)  # call -> bound key
    timed_sessions: set[str] = field(default_factory=set)
    # requests: (session key, rule, node, detail) of calls without a timeout, and the sessions
    # given a default timeout by a mounted adapter or a wrapped request method
    session_calls: list[tuple[str, str, ast.AST, str]] = field(default_factory=list)
    configured_sessions: set[str] = field(default_factory=set)

    def entry(self, target: ast.expr | None, how: str) -> None:
        if isinstance(target, ast.Name):
            self.entries.setdefault(target.id, how)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            self.entries.setdefault(target.attr, how)

    def finish(self, report: Report) -> None:
        for m in self.mutations:
            how = self.entries.get(m.function)
            if how is not None and not m.locked and m.name in self.state_names:
                report(
                    "FW150",
                    m.node,
                    f"{m.name} is updated in {m.function}(), which runs in threads ({how}), "
                    "without a lock",
                )
        for key, call in self.queues.items():
            if key in self.fed:
                report("FW161", call, f"{key} = {ast.unparse(call.func)}() has no maxsize")
        for key, rule_id, node, detail in self.session_calls:
            if key not in self.configured_sessions:
                report(rule_id, node, detail)
        for call, bound in self.sessions.items():
            if bound is None or bound not in self.timed_sessions:
                report(
                    "FW104",
                    call,
                    "aiohttp.ClientSession() without timeout= relies on the 300 s default",
                )

"""What a forked child must start again: the threads of objects made before the fork.

A pre-forking server (gunicorn ``--preload``) builds the app, and with it the objects that run
a thread of their own, before it forks its workers; a child has only the thread that called
``fork``. Such an object is tracked here while its thread should run, and its ``_forked()``
runs in each child (new locks, a new thread of its own).
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["track", "untrack"]


class _Restartable(Protocol):
    def _forked(self) -> None: ...


_tracked: weakref.WeakSet[_Restartable] = weakref.WeakSet()


def track(obj: _Restartable) -> None:
    """Call ``obj._forked()`` in every child forked from now on (until :func:`untrack`)."""
    _tracked.add(obj)


def untrack(obj: _Restartable) -> None:
    _tracked.discard(obj)


def _in_child() -> None:
    for obj in list(_tracked):
        obj._forked()


os.register_at_fork(after_in_child=_in_child)

"""Run a function in a forked child, as a pre-forking server (gunicorn --preload) runs a worker."""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Callable

import pytest


def run_forked(child: Callable[[], bool], timeout: float = 10.0) -> int:
    """Fork; the child runs ``child`` and exits 0 when it returns true, else 1. The exit code,
    waited for at most ``timeout`` seconds (the child is killed and the test fails after)."""
    with warnings.catch_warnings():  # 3.12+ warns on forking a process with threads: the case
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if child() else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child did not finish")
